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
from kinn.api.patch.fieldpath import FieldSet, Path, PathElement
from kinn.api.patch.json_patch import json_equal

MISSING: Any = object()


@dataclass
class Comparison:
    added: FieldSet = field(default_factory=set)
    modified: FieldSet = field(default_factory=set)
    removed: FieldSet = field(default_factory=set)

    def is_same(self) -> bool:
        return not (self.added or self.modified or self.removed)

    def changed(self) -> FieldSet:
        return self.added | self.modified


def _item_element(kind: typed.ListType, item_schema: Schema | None, item: Any) -> PathElement:
    if kind.keys:
        return ("k", typed.list_item_key(kind.keys, item_schema, item))
    if isinstance(item, (dict, list)):
        raise typed.SchemaError("associative list without keys has an element that's a map type")
    return ("v", item)


# --- to_field_set ------------------------------------------------------------------------------


def to_field_set(value: Any, schema: Schema | None) -> FieldSet:
    out: FieldSet = set()
    _collect(value, schema, (), out)
    return out


def _collect(value: Any, schema: Schema | None, path: Path, out: FieldSet) -> None:
    """Leaves and atomic values are members; so are list items, null or empty map values, and
    map entries that are not declared struct fields."""
    if isinstance(value, dict):
        if typed.is_atomic_map(schema):
            out.add(path)
            return
        for key, child in value.items():
            child_schema, declared = typed.field(schema, key)
            p = path + (("f", key),)
            _collect(child, child_schema, p, out)
            if child is None or child == {} or not declared:
                out.add(p)
    elif isinstance(value, list):
        kind = typed.list_type(schema)
        if kind.atomic:
            out.add(path)
            return
        item_schema = typed.items(schema)
        for item in value:
            p = path + (_item_element(kind, item_schema, item),)
            _collect(item, item_schema, p, out)
            out.add(p)
    else:
        out.add(path)


# --- merge and compare -------------------------------------------------------------------------


def merge(lhs: Any, rhs: Any, schema: Schema | None) -> tuple[Any, Comparison]:
    """`rhs` merged over `lhs` (either may be MISSING), with what changed from `lhs` to `rhs`."""
    comparison = Comparison()
    return _merge(lhs, rhs, schema, (), comparison), comparison


def compare(lhs: Any, rhs: Any, schema: Schema | None) -> Comparison:
    return merge(lhs, rhs, schema)[1]


def _present(value: Any) -> bool:
    return value is not MISSING and value is not None


def _empty(value: Any) -> bool:
    return not _present(value) or value == {} or value == []


def _merge(lhs: Any, rhs: Any, schema: Schema | None, path: Path, c: Comparison) -> Any:
    shape = type(rhs) if _present(rhs) else type(lhs)
    if _present(lhs) and _present(rhs) and type(lhs) is not type(rhs):
        shape = object
    if shape is dict and not typed.is_atomic_map(schema) and not (_empty(lhs) and _empty(rhs)):
        out: Any = _merge_map(lhs, rhs, schema, path, c)
    elif shape is list and not typed.list_type(schema).atomic and not (_empty(lhs) and _empty(rhs)):
        out = _merge_list(lhs, rhs, schema, path, c)
    else:
        return _leaf(lhs, rhs, path, c)
    if lhs is MISSING:
        c.added.add(path)
    elif rhs is MISSING:
        c.removed.add(path)
    return out


def _leaf(lhs: Any, rhs: Any, path: Path, c: Comparison) -> Any:
    if lhs is MISSING:
        c.added.add(path)
    elif rhs is MISSING:
        c.removed.add(path)
    elif not json_equal(lhs, rhs):
        c.modified.add(path)
    return rhs if rhs is not MISSING else lhs


def _merge_map(lhs: Any, rhs: Any, schema: Schema | None, path: Path, c: Comparison) -> dict[str, Any]:
    left = lhs if isinstance(lhs, dict) else {}
    right = rhs if isinstance(rhs, dict) else {}
    out: dict[str, Any] = {}
    for key in [*left, *(k for k in right if k not in left)]:
        child_schema = typed.field(schema, key)[0]
        value = _merge(left.get(key, MISSING), right.get(key, MISSING), child_schema, path + (("f", key),), c)
        # An explicit null in the newer side unsets the field (it stays owned).
        if right.get(key, MISSING) is not None:
            out[key] = value
    return out


def _index(kind: typed.ListType, item_schema: Schema | None, items: list[Any]) -> tuple[list[PathElement], dict]:
    elements = [_item_element(kind, item_schema, item) for item in items]
    observed: dict[PathElement, Any] = {}
    for element, item in zip(elements, items):
        observed.setdefault(element, item)
    return elements, observed


def _merge_list(lhs: Any, rhs: Any, schema: Schema | None, path: Path, c: Comparison) -> list[Any]:
    """Associative lists merge item by item. Live items keep their places; items only in the
    applied list go where the applied list puts them; shared items follow the applied order."""
    kind = typed.list_type(schema)
    item_schema = typed.items(schema)
    left_elems, left_seen = _index(kind, item_schema, lhs if isinstance(lhs, list) else [])
    right_elems, right_seen = _index(kind, item_schema, rhs if isinstance(rhs, list) else [])
    shared = [e for e in right_elems if e in left_seen]
    out: list[Any] = []
    done: set[PathElement] = set()

    def take(element: PathElement, left: Any, right: Any) -> None:
        value = _merge(left, right, item_schema, path + (element,), c)
        if value is not MISSING:
            out.append(value)

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
    for p in paths:
        node = schema
        for i, (kind, payload) in enumerate(p[:-1]):
            if kind == "f":
                child, declared = typed.field(node, payload)
                if declared:
                    out.add(p[: i + 1])
                node = child
            else:
                node = typed.items(node)
    return out


def remove_items(value: Any, doomed: FieldSet, schema: Schema | None) -> Any:
    """A copy of `value` without the subtrees rooted at the paths in `doomed`."""
    prefixes = {p[:i] for p in doomed for i in range(1, len(p))}
    return _remove(value, schema, (), doomed, prefixes)


def _remove(value: Any, schema: Schema | None, path: Path, doomed: FieldSet, prefixes: set[Path]) -> Any:
    if isinstance(value, dict) and not typed.is_atomic_map(schema):
        out = {}
        for key, child in value.items():
            p = path + (("f", key),)
            if p in doomed:
                continue
            out[key] = _remove(child, typed.field(schema, key)[0], p, doomed, prefixes) if p in prefixes else child
        return out
    if isinstance(value, list) and not typed.list_type(schema).atomic:
        kind, item_schema = typed.list_type(schema), typed.items(schema)
        out_list = []
        for item in value:
            p = path + (_item_element(kind, item_schema, item),)
            if p in doomed:
                continue
            out_list.append(_remove(item, item_schema, p, doomed, prefixes) if p in prefixes else item)
        return out_list
    return value
