"""kinn.cni.codec reads and writes what json.loads and json.dumps would, with json's errors."""

from __future__ import annotations

import json
import math

import pytest

from kinn.cni import codec

DOCUMENTS = [
    '{"cniVersion": "1.0.0", "name": "cbr0", "plugins": [{"type": "flannel", "delegate": {"hairpinMode": true}}]}',
    '{"a": [1, 2.5, -1e5, true, false, null, "tab\\t\\u00e9\\n"], "b": {}}',
    '  [] \n',
    '"just a string"',
    '{"\\u00e9": "\\ud83d\\ude00"}',
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_reads_as_json_does_from_text_and_utf8_bytes(text: str) -> None:
    assert codec.loads(text) == json.loads(text)
    assert codec.loads(text.encode()) == json.loads(text)


@pytest.mark.parametrize("text", DOCUMENTS)
def test_writes_exactly_what_json_dumps_writes(text: str) -> None:
    value = json.loads(text)
    assert codec.dumps(value) == json.dumps(value)
    assert codec.loads(codec.dumps(value)) == value


def test_reads_the_non_standard_constants_json_accepts() -> None:
    assert math.isnan(codec.loads("NaN"))
    assert codec.loads("[Infinity, -Infinity]") == [math.inf, -math.inf]


@pytest.mark.parametrize(("text", "message"), [
    ("", "Expecting value: line 1 column 1 (char 0)"),
    ("  ", "Expecting value: line 1 column 3 (char 2)"),
    ('{"a": 1} x', "Extra data: line 1 column 10 (char 9)"),
    ('{"a": }', "Expecting value: line 1 column 7 (char 6)"),
    ('{"a": 1', "Expecting ',' delimiter: line 1 column 8 (char 7)"),
])
def test_invalid_json_raises_jsons_own_error(text: str, message: str) -> None:
    with pytest.raises(json.JSONDecodeError) as error:
        codec.loads(text)
    assert str(error.value) == message


def test_unserializable_values_raise_type_error_and_do_not_poison_the_next_call() -> None:
    shared = {"k": "v"}
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        codec.dumps({"a": shared, "b": object()})
    assert codec.dumps({"a": shared, "again": shared}) == '{"a": {"k": "v"}, "again": {"k": "v"}}'


def test_circular_references_are_refused_as_json_refuses_them() -> None:
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference detected"):
        codec.dumps(loop)
