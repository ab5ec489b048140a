"""Strategic merge patch, as k8s.io/apimachinery/pkg/util/strategicpatch applies it on the server.

`kubectl apply` (client-side), `kubectl edit` and `kubectl patch` send it. The object's schema
says how each field merges: `x-kubernetes-patch-strategy: merge` lists are merged by their
`x-kubernetes-patch-merge-key` (containers by name, ports by containerPort …) or, for lists of
primitives, as sets; other lists are replaced whole; `replace` maps are replaced whole.

Directives in the patch:
- `$patch: replace | delete` in a map, `$patch: replace | delete` as a list element;
- `$deleteFromPrimitiveList/<field>: [values]` removes values from a primitive list;
- `$setElementOrder/<field>: [...]` orders the merged list (it wins over the patch's order,
  which wins over the live order);
- `$retainKeys: [fields]` clears every other field of the map;
- `null` deletes a key.
Fields the schema does not know merge like a JSON merge patch.
"""

from __future__ import annotations

import json
from functools import cmp_to_key
from typing import Any

from kinn.api.errors import StatusError, bad_request, unknown_error
from kinn.api.openapi import schemas
from kinn.api.openapi.schemas import Schema
from kinn.api.patch import typed
from kinn.api.patch.json_patch import go_json_kind
from kinn.api.patch.merge_patch import json_copy, prune_nulls

DIRECTIVE = "$patch"
REPLACE = "replace"
DELETE = "delete"
MERGE = "merge"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"
SET_ELEMENT_ORDER = "$setElementOrder/"

# mergepatch's errors that apiserver turns into 400 Bad Request.
BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
# ... and into 422 (a bare Invalid, as for JSON patch).
NO_LIST_OF_LISTS = "lists of lists are not supported"


class PatchError(Exception):
    """A patch strategicpatch refuses; apiserver answers 500 with its bare text (no reason, not an
    "Internal error occurred"), as ErrorToAPIStatus does, unless listed above."""


def apply_strategic_merge_patch(original: dict[str, Any], patch: Any, schema: Schema | None) -> dict[str, Any]:
    """Apply `patch` to a copy of `original`, driven by the kind's root `schema`."""
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {go_json_kind(patch)} into Go value of type map[string]interface {{}}")
    try:
        return _merge_map(json_copy(original), json_copy(patch), schema)
    except PatchError as err:
        raise _status(str(err)) from err


def _status(message: str) -> StatusError:
    if message in (BAD_RETAIN_KEYS, BAD_SET_ELEMENT_ORDER, BAD_PRIMITIVE_LIST):
        return bad_request(message)
    if message == NO_LIST_OF_LISTS:
        return StatusError(422, "Invalid", "the server rejected our request due to an error in our request", {})
    return unknown_error(message)


# --- schema ------------------------------------------------------------------------------------


def _strategies(schema: Schema | None) -> list[str]:
    value = typed.extension(schema, "x-kubernetes-patch-strategy")
    return value.split(",") if value else []


def _merge_key(schema: Schema | None) -> str:
    return typed.extension(schema, "x-kubernetes-patch-merge-key") or ""


def _child(schema: Schema | None, key: str) -> Schema | None:
    """The schema of member `key`: a declared field, or the value type of a map."""
    resolved = schemas.resolve(schema)
    if resolved is None:
        return None
    declared = resolved.get("properties", {}).get(key)
    return declared if declared is not None else schemas.map_values_schema(resolved)


# --- maps --------------------------------------------------------------------------------------


def _merge_map(original: dict[str, Any] | None, patch: dict[str, Any], schema: Schema | None) -> dict[str, Any]:
    if DIRECTIVE in patch:
        return _map_directive(patch)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_ordered_lists(original, patch, schema)
    for key, value in patch.items():
        is_delete_list = key.startswith(DELETE_FROM_PRIMITIVE_LIST)
        if is_delete_list:
            key = key[len(DELETE_FROM_PRIMITIVE_LIST):]
        if value is None:
            original.pop(key, None)
            continue
        current = original.get(key)
        if key not in original or _shape(current) != _shape(value):
            if not is_delete_list:
                original[key] = prune_nulls(value)
            continue
        field = _child(schema, key)
        if isinstance(value, dict):
            original[key] = value if REPLACE in _strategies(field) else _merge_map(current, value, field)
        elif isinstance(value, list):
            original[key] = _merge_list_field(current, value, field, is_delete_list)
        else:
            original[key] = value
    return original


def _shape(value: Any) -> type | None:
    """What strategicpatch compares before merging: maps with maps, lists with lists."""
    if isinstance(value, (dict, list)):
        return type(value)
    return None if value is None else object


def _map_directive(patch: dict[str, Any]) -> dict[str, Any]:
    directive = patch[DIRECTIVE]
    if directive == REPLACE:
        del patch[DIRECTIVE]
        return patch
    if directive == DELETE:
        return {}
    raise PatchError(f"unknown patch type: {directive} in map: {_go_format(patch)}")


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """`$retainKeys` clears every field of the live map that the patch does not retain."""
    if RETAIN_KEYS not in patch:
        return
    retained = patch.pop(RETAIN_KEYS)
    if not isinstance(retained, list):
        raise PatchError(BAD_RETAIN_KEYS)
    keep = set(k for k in retained if isinstance(k, str))
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
            continue
        if key not in keep:
            raise PatchError(BAD_RETAIN_KEYS)
    for key in [k for k in original if k not in keep]:
        del original[key]


# --- lists -------------------------------------------------------------------------------------


def _merge_list_field(original: list[Any], patch: list[Any], field: Schema | None, is_delete_list: bool) -> list[Any]:
    """Only `merge` lists (and deletion lists) merge; any other list is replaced by the patch."""
    if MERGE not in _strategies(field) and not is_delete_list:
        return patch
    return _merge_list(original, patch, schemas.items_schema(field), _merge_key(field), is_delete_list)


def _merge_list(
    original: list[Any], patch: list[Any], items: Schema | None, merge_key: str, is_delete_list: bool
) -> list[Any]:
    if not original and not patch:
        return original
    element = _element_shape(original, patch)
    if element is not dict:
        if is_delete_list:
            return [v for v in original if v not in patch]
        merged = _unique(original + patch)
        patch_items = [v for v in merged if v in patch]
        server_only = [v for v in merged if v not in patch]
        return _normalize_order(patch_items, server_only, patch, original, "")
    if not merge_key:
        raise PatchError("cannot merge lists without merge key for " + typed.definition_name(items))
    original, patch = _apply_list_directives(original, patch, merge_key)
    merged = _merge_by_key(original, patch, items, merge_key)
    keys = {_key_of(v, merge_key) for v in patch}
    patch_items = [v for v in merged if _key_of(v, merge_key) in keys]
    server_only = [v for v in merged if _key_of(v, merge_key) not in keys]
    return _normalize_order(patch_items, server_only, patch, original, merge_key)


def _element_shape(original: list[Any], patch: list[Any]) -> type:
    shapes = {type(v) if isinstance(v, (dict, list)) else object for v in original + patch}
    if list in shapes:
        raise PatchError(NO_LIST_OF_LISTS)
    if len(shapes) > 1:
        raise PatchError("list elements are not all of the same type")
    return shapes.pop()


def _unique(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def _key_of(item: dict[str, Any], merge_key: str) -> str:
    """A hashable, type-exact form of an item's merge key value. Keys are nearly always strings
    (a condition's type, a container's name) or port numbers: those skip the JSON encoder, and
    their prefixes keep them apart from it (its output never starts with `s:` or `i:`)."""
    if merge_key not in item:
        raise PatchError(f"map: {_go_format(item)} does not contain declared merge key: {merge_key}")
    value = item[merge_key]
    if type(value) is str:
        return "s:" + value
    if type(value) is int:
        return f"i:{value}"
    return json.dumps(value, sort_keys=True)


def _apply_list_directives(
    original: list[dict[str, Any]], patch: list[dict[str, Any]], merge_key: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`{"$patch": "delete", key: v}` removes live items; `{"$patch": "replace"}` replaces the list."""
    plain: list[dict[str, Any]] = []
    replace = False
    for item in patch:
        directive = item.get(DIRECTIVE)
        if DIRECTIVE not in item:
            plain.append(item)
        elif directive == DELETE:
            doomed = _key_of(item, merge_key)
            original = [v for v in original if _live_key(v, merge_key) != doomed]
        elif directive == REPLACE:
            replace = True
        elif directive == MERGE:
            raise PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise PatchError(f"unknown patch type: {directive} in map: {_go_format(item)}")
    if replace:
        return plain, []
    return original, plain


def _merge_by_key(
    original: list[dict[str, Any]], patch: list[dict[str, Any]], items: Schema | None, merge_key: str
) -> list[dict[str, Any]]:
    merged = list(original)
    keys = [_live_key(live, merge_key) for live in merged]
    for item in patch:
        key = _key_of(item, merge_key)
        for i, live_key in enumerate(keys):
            if live_key == key:
                merged[i] = _merge_map(merged[i], item, items)
                break
        else:
            merged.append(prune_nulls(item))
            keys.append(key)
    return merged


def _live_key(item: Any, merge_key: str) -> str | None:
    """Live items lacking the merge key match nothing (they are not an error until reordered)."""
    if isinstance(item, dict) and merge_key in item:
        return _key_of(item, merge_key)
    return None


# --- $setElementOrder and ordering -------------------------------------------------------------


def _merge_ordered_lists(original: dict[str, Any], patch: dict[str, Any], schema: Schema | None) -> None:
    """Merge each list that has a `$setElementOrder/<field>`, ordering it by that directive.

    Both the directive and the list are consumed from the patch, as upstream does.
    """
    for directive in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(directive)
        key = directive[len(SET_ELEMENT_ORDER):]
        if not isinstance(order, list):
            raise PatchError(BAD_SET_ELEMENT_ORDER)
        field = _child(schema, key)
        merge_key = _merge_key(field)
        live = original.get(key)
        live = live if isinstance(live, list) else []
        if key in patch and patch[key] is None:
            continue
        patched = patch.pop(key, [])
        if not isinstance(patched, list):
            raise PatchError(BAD_SET_ELEMENT_ORDER)
        merged = _merge_list_field(live, patched, field, False)
        if not merged and key not in original:
            continue
        if merge_key:
            wanted = {_key_of(v, merge_key) for v in order}
            in_order = [v for v in merged if _key_of(v, merge_key) in wanted]
            server_only = [v for v in merged if _key_of(v, merge_key) not in wanted]
        else:
            in_order = [v for v in merged if v in order]
            server_only = [v for v in merged if v not in order]
        original[key] = _normalize_order(in_order, server_only, order, live, merge_key)


def _order_keys(order: list[Any], merge_key: str) -> list[Any]:
    """What an item is looked up by in `order`: each entry's merge key, or the entry itself in a
    list of primitives (computed once per list, not once per comparison)."""
    return [_live_key(candidate, merge_key) for candidate in order] if merge_key else order


def _position(keys: list[Any], item: Any, merge_key: str) -> int:
    if not keys:
        return -1
    key = _key_of(item, merge_key) if merge_key else item
    for i, candidate in enumerate(keys):
        if candidate == key:
            return i
    return -1


def _sort_by(values: list[Any], order: list[Any], merge_key: str) -> list[Any]:
    """Stable sort by position in `order`; items `order` lacks keep their place relative to others."""
    keys = _order_keys(order, merge_key)
    positions = [_position(keys, value, merge_key) for value in values]

    def compare(a: int, b: int) -> int:
        ia, ib = positions[a], positions[b]
        if ia >= 0 and ib >= 0:
            return (ia > ib) - (ia < ib)
        return 0

    return [values[i] for i in sorted(range(len(values)), key=cmp_to_key(compare))]


def _normalize_order(
    patch_items: list[Any], server_only: list[Any], patch_order: list[Any], server_order: list[Any], merge_key: str
) -> list[Any]:
    """Sort patch items by the patch (or $setElementOrder), server-only items by the live list,
    then interleave them so each server-only item stays before the first patch item it preceded live.
    """
    left = _sort_by(server_only, server_order, merge_key)
    right = _sort_by(patch_items, patch_order, merge_key)
    server_keys = _order_keys(server_order, merge_key)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li, ri = _position(server_keys, left[i], merge_key), _position(server_keys, right[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


# --- messages ----------------------------------------------------------------------------------


def _go_format(value: Any) -> str:
    """Go's `%v` of a decoded JSON value: `map[name:web ports:[map[containerPort:80]]]`."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_format(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_format(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
