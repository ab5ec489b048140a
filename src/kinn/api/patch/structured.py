"""Typed walks over objects, as sigs.k8s.io/structured-merge-diff performs them.

- `to_field_set`: the fields an object (an applied configuration) sets;
- `merge`: live merged with an applied configuration, and the comparison of the two sides
  (added / modified / removed paths) that managedFields bookkeeping runs on;
- `remove_items`: drop owned fields, list items and map entries from an object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kinn.api.openapi.schemas import Schema
from kinn.api.patch import typed
from kinn.api.patch.typed import Type
from kinn.api.patch.fieldpath import FieldSet, Path, PathElement
from kinn.api.patch.json_patch import json_equal

MISSING: Any = object()


@dataclass
class Comparison:
    added: FieldSet = field(default_factory=set)
    modified: FieldSet = field(default_factory=set)
    removed: FieldSet = field(default_factory=set)
    # Only the comparison is wanted, not the merged value: equal subtrees are then not walked.
    only: bool = False

    def is_same(self) -> bool:
        return not (self.added or self.modified or self.removed)

    def changed(self) -> FieldSet:
        return self.added | self.modified


def _item_element(kind: typed.ListType, item_type: Type, item: Any) -> PathElement:
    if kind.keys:
        return ("k", item_type.item_key(kind.keys, item))
    if isinstance(item, (dict, list)):
        raise typed.SchemaError("associative list without keys has an element that's a map type")
    return ("v", item)


# --- to_field_set ------------------------------------------------------------------------------


def to_field_set(value: Any, schema: Schema | None) -> FieldSet:
    out: FieldSet = set()
    _collect(value, typed.of(schema), (), out)
    return out


def _collect(value: Any, node: Type, path: Path, out: FieldSet) -> None:
    """Leaves and atomic values are members; so are list items, null or empty map values, and
    map entries that are not declared struct fields."""
    if isinstance(value, dict):
        if node.atomic_map:
            out.add(path)
            return
        for key, child in value.items():
            child_node, declared = node.field(key)
            p = path + (("f", key),)
            _collect(child, child_node, p, out)
            if child is None or child == {} or not declared:
                out.add(p)
    elif isinstance(value, list):
        kind = node.list_type
        if kind.atomic:
            out.add(path)
            return
        item_type = node.items
        for item in value:
            p = path + (_item_element(kind, item_type, item),)
            _collect(item, item_type, p, out)
            out.add(p)
    else:
        out.add(path)


# --- merge and compare -------------------------------------------------------------------------


def merge(lhs: Any, rhs: Any, schema: Schema | None) -> tuple[Any, Comparison]:
    """`rhs` merged over `lhs` (either may be MISSING), with what changed from `lhs` to `rhs`."""
    comparison = Comparison()
    return _merge(lhs, rhs, typed.of(schema), (), comparison), comparison


def compare(lhs: Any, rhs: Any, schema: Schema | None) -> Comparison:
    """What changed from `lhs` to `rhs`. Equal subtrees hold no change, so they are skipped whole:
    a status write compares the status alone, not the spec it left as it was."""
    comparison = Comparison(only=True)
    _merge(lhs, rhs, typed.of(schema), (), comparison)
    return comparison


def _merge(lhs: Any, rhs: Any, node: Type, path: Path, c: Comparison) -> Any:
    if c.only and type(rhs) in (dict, list) and json_equal(lhs, rhs):
        return rhs
    if rhs is MISSING or rhs is None:
        shape = type(lhs)
    else:
        shape = type(rhs)
        if lhs is not MISSING and lhs is not None and type(lhs) is not shape:
            shape = object
    # Maps and lists (unless atomic, or empty on both sides) merge member by member; the rest
    # are leaves, compared whole. Either way the node itself is added or removed as a whole.
    granular = (shape is dict and not node.atomic_map) or (shape is list and not node.list_type.atomic)
    if granular and ((lhs is not MISSING and lhs) or (rhs is not MISSING and rhs)):
        out = (_merge_map if shape is dict else _merge_list)(lhs, rhs, node, path, c)
    else:
        granular = False
        out = rhs if rhs is not MISSING else lhs
    if lhs is MISSING:
        c.added.add(path)
    elif rhs is MISSING:
        c.removed.add(path)
    elif not granular and not json_equal(lhs, rhs):
        c.modified.add(path)
    return out


def _merge_map(lhs: Any, rhs: Any, node: Type, path: Path, c: Comparison) -> dict[str, Any]:
    left = lhs if isinstance(lhs, dict) else {}
    right = rhs if isinstance(rhs, dict) else {}
    out: dict[str, Any] = {}
    for key in [*left, *(k for k in right if k not in left)] if left else right:
        newer = right.get(key, MISSING)
        value = _merge(left.get(key, MISSING), newer, node.member(key), path + (("f", key),), c)
        # An explicit null in the newer side unsets the field (it stays owned).
        if newer is not None:
            out[key] = value
    return out


def _index(kind: typed.ListType, item_type: Type, items: list[Any]) -> tuple[list[PathElement], dict]:
    elements = [_item_element(kind, item_type, item) for item in items]
    observed: dict[PathElement, Any] = {}
    for element, item in zip(elements, items):
        observed.setdefault(element, item)
    return elements, observed


def _merge_list(lhs: Any, rhs: Any, node: Type, path: Path, c: Comparison) -> list[Any]:
    """Associative lists merge item by item. Live items keep their places; items only in the
    applied list go where the applied list puts them; shared items follow the applied order."""
    kind = node.list_type
    item_type = node.items
    left_elems, left_seen = _index(kind, item_type, lhs if isinstance(lhs, list) else [])
    right_elems, right_seen = _index(kind, item_type, rhs if isinstance(rhs, list) else [])
    out: list[Any] = []

    def take(element: PathElement, left: Any, right: Any) -> None:
        value = _merge(left, right, item_type, path + (element,), c)
        if value is not MISSING:
            out.append(value)

    if not left_elems or left_elems == right_elems:  # a new list, or the same items in the same order
        for element in right_elems:
            take(element, left_seen.get(element, MISSING), right_seen[element])
        return out
    shared = [e for e in right_elems if e in left_seen]
    done: set[PathElement] = set()
    li = ri = 0
    next_shared = shared.pop(0) if shared else None
    while li < len(left_elems) or ri < len(right_elems):
        if li < len(left_elems) and ri < len(right_elems):
            element = left_elems[li]
            if element == right_elems[ri]:
                done.add(element)
                take(element, left_seen[element], right_seen[element])
                li, ri = li + 1, ri + 1
                next_shared = shared.pop(0) if shared else None
                continue
            if element in right_seen and next_shared is not None and next_shared != element:
                li += 1
                continue
        if li < len(left_elems):
            element = left_elems[li]
            if element not in right_seen:
                take(element, lhs[li], MISSING)
                li += 1
                continue
            if element in done:
                li += 1
                continue
        if ri < len(right_elems):
            element = right_elems[ri]
            done.add(element)
            take(element, left_seen.get(element, MISSING), right_seen[element])
            ri += 1
            if next_shared is not None and next_shared == element:
                next_shared = shared.pop(0) if shared else None
    return out


# --- removal -----------------------------------------------------------------------------------


def ensure_named_fields_are_members(paths: FieldSet, schema: Schema | None) -> FieldSet:
    """Add every declared struct field on the way to a member (upstream's
    EnsureNamedFieldsAreMembers), so that pruning can remove a whole struct."""
    out = set(paths)
    root = typed.of(schema)
    for p in paths:
        node = root
        for i, (kind, payload) in enumerate(p[:-1]):
            if kind == "f":
                node, declared = node.field(payload)
                if declared:
                    out.add(p[: i + 1])
            else:
                node = node.items
    return out


def remove_items(value: Any, doomed: FieldSet, schema: Schema | None) -> Any:
    """A copy of `value` without the subtrees rooted at the paths in `doomed`."""
    prefixes = {p[:i] for p in doomed for i in range(1, len(p))}
    return _remove(value, typed.of(schema), (), doomed, prefixes)


def _remove(value: Any, node: Type, path: Path, doomed: FieldSet, prefixes: set[Path]) -> Any:
    if isinstance(value, dict) and not node.atomic_map:
        out = {}
        for key, child in value.items():
            p = path + (("f", key),)
            if p in doomed:
                continue
            out[key] = _remove(child, node.member(key), p, doomed, prefixes) if p in prefixes else child
        return out
    if isinstance(value, list) and not node.list_type.atomic:
        kind, item_type = node.list_type, node.items
        out_list = []
        for item in value:
            p = path + (_item_element(kind, item_type, item),)
            if p in doomed:
                continue
            out_list.append(_remove(item, item_type, p, doomed, prefixes) if p in prefixes else item)
        return out_list
    return value
