"""Taint specs as --register-with-taints and `kubectl taint` spell them."""

from __future__ import annotations

import pytest

from kinn.api.taints import parse_taint


def test_key_value_effect_and_key_effect() -> None:
    assert parse_taint("node-role.kubernetes.io/control-plane:NoSchedule") == {
        "key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    assert parse_taint("dedicated=gpu:NoExecute") == {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}


@pytest.mark.parametrize("spec", ["dedicated=gpu", "dedicated=gpu:Sometimes", ":NoSchedule"])
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="invalid taint spec"):
        parse_taint(spec)
