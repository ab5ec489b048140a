"""JSON patch (RFC 6902) as kube-apiserver applies it."""

from typing import Any

import pytest

from kinn.api.errors import StatusError
from kinn.api.patch.json_patch import apply_json_patch, identical_json, json_equal

POD = {"metadata": {"name": "web", "labels": {"app": "web", "a/b": "x", "t~n": "y"}}, "spec": {"args": ["a", "b"]}}

REJECTED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "the server rejected our request due to an error in our request",
    "reason": "Invalid",
    "details": {},
    "code": 422,
}


def apply(*ops):
    return apply_json_patch(POD, list(ops))


def test_add_replace_remove():
    out = apply(
        {"op": "add", "path": "/metadata/labels/tier", "value": "fe"},
        {"op": "replace", "path": "/metadata/name", "value": "api"},
        {"op": "remove", "path": "/metadata/labels/app"},
    )
    assert out["metadata"] == {"name": "api", "labels": {"a/b": "x", "t~n": "y", "tier": "fe"}}
    assert POD["metadata"]["name"] == "web", "the original is never modified"


def test_pointer_escapes():
    out = apply({"op": "remove", "path": "/metadata/labels/a~1b"}, {"op": "replace", "path": "/metadata/labels/t~0n", "value": "z"})
    assert out["metadata"]["labels"] == {"app": "web", "t~n": "z"}


def test_array_append_insert_and_negative_index():
    out = apply(
        {"op": "add", "path": "/spec/args/-", "value": "c"},
        {"op": "add", "path": "/spec/args/0", "value": "first"},
        {"op": "remove", "path": "/spec/args/-1"},
    )
    assert out["spec"]["args"] == ["first", "a", "b"]


def test_move_and_copy():
    out = apply(
        {"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/labels/copy"},
        {"op": "move", "from": "/spec/args", "path": "/spec/command"},
    )
    assert out["metadata"]["labels"]["copy"] == "web"
    assert out["spec"] == {"command": ["a", "b"]}


def test_test_passes_and_null_matches_missing():
    out = apply(
        {"op": "test", "path": "/metadata/labels/app", "value": "web"},
        {"op": "test", "path": "/metadata/labels/missing", "value": None},
        {"op": "test", "path": "/spec/args", "value": ["a", "b"]},
    )
    assert out == POD


def test_replace_of_missing_member_adds_it_like_upstream_v4():
    assert apply({"op": "replace", "path": "/metadata/namespace", "value": "x"})["metadata"]["namespace"] == "x"


@pytest.mark.parametrize(
    "op",
    [
        {"op": "test", "path": "/metadata/labels/app", "value": "api"},
        {"op": "test", "path": "/spec/args", "value": ["a"]},
        {"op": "remove", "path": "/metadata/labels/nope"},
        {"op": "add", "path": "/nope/deeper", "value": 1},
        {"op": "add", "path": "/spec/args/9", "value": 1},
        {"op": "add", "path": "/spec/args/x", "value": 1},
        {"op": "replace", "path": "/spec/args/5", "value": 1},
        {"op": "move", "from": "/nope", "path": "/x"},
        {"op": "frobnicate", "path": "/x"},
        {"op": "add", "path": "", "value": {}},
    ],
)
def test_failures_are_a_bare_422(op):
    with pytest.raises(StatusError) as caught:
        apply({"op": "add", "path": "/metadata/labels/first", "value": "1"}, op)
    assert caught.value.status() == REJECTED


def test_failed_test_keeps_upstream_reason_as_cause():
    with pytest.raises(StatusError) as caught:
        apply({"op": "test", "path": "/metadata/labels/app", "value": "api"})
    assert str(caught.value.__cause__) == "testing value /metadata/labels/app failed: test failed"


def test_bool_is_not_one():
    with pytest.raises(StatusError):
        apply_json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": True}])


def test_not_a_list_is_400():
    with pytest.raises(StatusError) as caught:
        apply_json_patch(POD, {"op": "add"})
    assert caught.value.code == 400
    assert caught.value.message == "json: cannot unmarshal object into Go value of type jsonpatch.Patch"


def test_too_many_operations_is_413():
    with pytest.raises(StatusError) as caught:
        apply_json_patch(POD, [{"op": "test", "path": "/metadata/name", "value": "web"}] * 10001)
    assert caught.value.code == 413
    assert caught.value.message == "The allowed maximum operations in a JSON patch is 10000, got 10001"


@pytest.mark.parametrize("a,b,equal,identical", [
    ({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}, True, True),
    ({"a": 1}, {"a": True}, False, False),
    ([0, {"x": False}], [0, {"x": 0}], False, False),
    ({"a": 1}, {"a": 1.0}, True, False),
    ({"a": 2**70}, {"a": 2**70}, True, False),
    ({"a": [1, 2]}, {"a": [2, 1]}, False, False),
])
def test_json_equality_is_json_not_python(a: Any, b: Any, equal: bool, identical: bool) -> None:
    """json_equal: numbers by value, but booleans are not numbers; identical_json: also the type of
    every number (what a Go round trip would change); member order never matters."""
    assert json_equal(a, b) is equal and json_equal(b, a) is equal
    assert identical_json(a, b) is identical
