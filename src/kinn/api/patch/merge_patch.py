"""RFC 7386 JSON merge patch, as the Kubernetes API server applies it (evanphx/json-patch v4).

`kubectl label`, `kubectl annotate`, `kubectl scale` and `kubectl patch --type=merge` send it.
Objects merge recursively, `null` deletes a member, anything else (lists included) replaces.
Values taken whole from the patch lose their null members, as upstream prunes them.
"""

from __future__ import annotations

from typing import Any

import orjson

from kinn.api.errors import bad_request

# jsonpatch.ErrBadJSONPatch, which apiserver returns as a 400.
BAD_PATCH = "Invalid JSON Patch"


def apply_merge_patch(original: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Merge `patch` (decoded JSON) into a copy of `original`."""
    if not isinstance(patch, dict):
        raise bad_request(BAD_PATCH)
    return merge_objects(json_copy(original), json_copy(patch))


def json_copy(value: Any) -> Any:
    """A deep copy of decoded JSON; a round trip through orjson is an order of magnitude faster
    than copy.deepcopy, which matters on every PATCH of a pod."""
    return orjson.loads(orjson.dumps(value))


def merge_objects(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge `patch` into `target` in place (both already private copies) and return it."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
            continue
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            target[key] = merge_objects(current, value)
        elif isinstance(current, dict):
            target[key] = value
        else:
            target[key] = prune_nulls(value)
    return target


def prune_nulls(value: Any) -> Any:
    """Drop null members of objects at any depth (null list elements stay, as upstream)."""
    if isinstance(value, dict):
        return {k: prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune_nulls(v) for v in value]
    return value
