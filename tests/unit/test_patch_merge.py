"""JSON merge patch (RFC 7386) as kube-apiserver applies it."""

import pytest

from kinn.api.errors import StatusError
from kinn.api.patch.merge_patch import apply_merge_patch

LIVE = {"metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}}, "spec": {"replicas": 1, "ports": [1, 2]}}


def test_label_patch_as_kubectl_label_sends_it():
    out = apply_merge_patch(LIVE, {"metadata": {"labels": {"env": "prod", "tier": None}}})
    assert out["metadata"]["labels"] == {"app": "web", "env": "prod"}
    assert LIVE["metadata"]["labels"]["tier"] == "fe"


def test_lists_are_replaced_and_scalars_overwritten():
    out = apply_merge_patch(LIVE, {"spec": {"replicas": 3, "ports": [3]}})
    assert out["spec"] == {"replicas": 3, "ports": [3]}


def test_null_deletes_missing_keys_quietly():
    assert apply_merge_patch(LIVE, {"spec": None, "status": None}) == {"metadata": LIVE["metadata"]}


def test_new_values_lose_their_nulls():
    out = apply_merge_patch({}, {"spec": {"a": None, "b": {"c": None, "d": 1}, "l": [{"x": None}, None]}})
    assert out == {"spec": {"b": {"d": 1}, "l": [{}, None]}}


def test_object_replaces_scalar_and_scalar_replaces_object():
    out = apply_merge_patch({"a": 1, "b": {"c": 1}}, {"a": {"x": 1, "y": None}, "b": "s"})
    assert out == {"a": {"x": 1}, "b": "s"}


@pytest.mark.parametrize("patch", [None, "x", [1]])
def test_non_object_patch_is_400(patch):
    with pytest.raises(StatusError) as caught:
        apply_merge_patch(LIVE, patch)
    assert (caught.value.code, caught.value.message) == (400, "Invalid JSON Patch")
