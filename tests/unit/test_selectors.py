"""Label selectors: labels.Parse syntax, wording of its errors, matching, LabelSelectorAsSelector."""

import pytest

from kinn.api.selectors import (
    SelectorError, format_label_selector, format_labels, label_selector_from_object, parse_label_selector,
)


@pytest.mark.parametrize("text,canonical", [
    ("a=b", "a=b"),
    ("a==b , c!=d", "a==b,c!=d"),
    ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
    ("!a", "!a"),
    ("b,a", "a,b"),
    ("in in (in)", "in in (in)"),
    ("example.com/app=web", "example.com/app=web"),
    ("a=", "a="),
    ("a>3", "a>3"),
    ("", ""),
])
def test_parse_canonical_form(text, canonical):
    assert str(parse_label_selector(text)) == canonical


@pytest.mark.parametrize("text,message", [
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("a=b,", "found '', expected: identifier after ','"),
    ("(", "found '(', expected: !, identifier, or 'end of string'"),
    ("a in", "unable to parse requirement: found '' expected: '('"),
    ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("-foo", "unable to parse requirement: <nil>: Invalid value: \"-foo\": name part must consist of alphanumeric "
             "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  "
             "or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
    ("a=-x", "unable to parse requirement: values[0][a]: Invalid value: \"-x\": a valid label must be an empty "
             "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
             "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
             "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
    ("a>x", "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value "
            "must be an integer"),
])
def test_parse_errors_are_upstream_bad_requests(text, message):
    with pytest.raises(SelectorError) as info:
        parse_label_selector(text)
    assert info.value.message == message
    assert info.value.status()["code"] == 400 and info.value.status()["reason"] == "BadRequest"


@pytest.mark.parametrize("text,labels,expected", [
    ("app=web", {"app": "web"}, True),
    ("app=web", {"app": "db"}, False),
    ("app!=web", {}, True),
    ("app notin (a,b)", {"app": "c"}, True),
    ("app notin (a,b)", {"app": "a"}, False),
    ("app in (a,b)", {}, False),
    ("app", {"app": ""}, True),
    ("!app", {"app": ""}, False),
    ("n>3", {"n": "4"}, True),
    ("n<3", {"n": "x"}, False),
    ("app=web,tier=fe", {"app": "web"}, False),
])
def test_matches(text, labels, expected):
    assert parse_label_selector(text).matches(labels) is expected


def test_requires_exact_match():
    assert parse_label_selector("a in (x),b=y").requires_exact_match("a") == "x"
    assert parse_label_selector("a in (x,y)").requires_exact_match("a") is None
    assert parse_label_selector("a!=x").requires_exact_match("a") is None


def test_from_object():
    selector = label_selector_from_object({
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["b", "a"]},
                             {"key": "canary", "operator": "DoesNotExist"}],
    })
    assert str(selector) == "app=web,!canary,tier notin (a,b)"
    assert selector.matches({"app": "web", "tier": "c"})
    assert not selector.matches({"app": "web", "canary": "1"})
    # nil selects nothing, empty selects everything
    assert not label_selector_from_object(None).matches({})
    assert label_selector_from_object({}).matches({"x": "y"})
    with pytest.raises(SelectorError, match='"Bogus" is not a valid label selector operator'):
        label_selector_from_object({"matchExpressions": [{"key": "a", "operator": "Bogus"}]})
    with pytest.raises(SelectorError, match="values set can't be empty"):
        label_selector_from_object({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})


def test_sorted_string_and_formatting():
    assert str(label_selector_from_object({"matchLabels": {"b": "2", "a": "1"}})) == "a=1,b=2"
    assert format_label_selector(None) == "<none>"
    assert format_label_selector({"matchExpressions": [{"key": "a", "operator": "Nope"}]}) == "<error>"
    assert format_labels({"b": "2", "a": "1"}) == "a=1,b=2"
    assert format_labels({}) == "<none>"
