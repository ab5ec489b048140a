"""Field paths and field sets, and their FieldsV1 form (sigs.k8s.io/structured-merge-diff fieldpath).

A path element is a struct field or map key (`f:name`), a list-map item (`k:{"name":"web"}`),
a set member (`v:"value"`) or a list index (`i:0`). A field set is the set of paths it owns as
members; their prefixes are implied. FieldsV1 writes it as nested objects, with `"."` marking a
node that is a member and also has children, ordered as upstream serialises it.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, Iterable, Iterator

# (kind, payload): ("f", name) | ("k", ((key, value), ...)) | ("v", value) | ("i", index)
PathElement = tuple[str, Any]
Path = tuple[PathElement, ...]
FieldSet = set[Path]

_KIND_ORDER = {"f": 0, "k": 1, "v": 2, "i": 3}


def field(name: str) -> PathElement:
    return ("f", name)


def path(*names: str) -> Path:
    return tuple(field(n) for n in names)


def _value_order(value: Any) -> tuple[int, Any]:
    """structured-merge-diff's total order of values: numbers, strings, bools, then the rest."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (3, _json(value))


def element_order(element: PathElement) -> tuple[Any, ...]:
    kind, payload = element
    if kind == "f":
        return (0, payload)
    if kind == "k":
        return (_KIND_ORDER[kind], tuple((name, _value_order(v)) for name, v in payload))
    if kind == "v":
        return (_KIND_ORDER[kind], _value_order(payload))
    return (_KIND_ORDER[kind], payload)


_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _json(value: Any) -> str:
    """Compact JSON with sorted keys. Key values are nearly always strings or integers, which
    are spelled directly: the general encoder costs microseconds per call."""
    if isinstance(value, str):
        return encode_basestring(value)
    if type(value) is int:
        return int.__repr__(value)
    return _COMPACT.encode(value)


def _json_object(pairs: tuple[tuple[str, Any], ...]) -> str:
    """`_json(dict(pairs))` for pairs already sorted by name, as list-map keys are."""
    return "{" + ",".join(encode_basestring(name) + ":" + _json(value) for name, value in pairs) + "}"


def encode_element(element: PathElement) -> str:
    kind, payload = element
    if kind == "f":
        return f"f:{payload}"
    if kind == "k":
        return "k:" + _json_object(payload)
    if kind == "v":
        return "v:" + _json(payload)
    return f"i:{payload}"


def decode_element(text: str) -> PathElement:
    kind, _, payload = text.partition(":")
    if kind == "f":
        return ("f", payload)
    if kind == "k":
        return ("k", tuple(sorted(json.loads(payload).items())))
    if kind == "v":
        return ("v", json.loads(payload))
    if kind == "i":
        return ("i", int(payload))
    raise ValueError(f"unknown path element {text!r}")


def describe(p: Path) -> str:
    """A path as upstream prints it in conflicts: `.spec.containers[name="web"].image`."""
    out = []
    for kind, payload in p:
        if kind == "f":
            out.append("." + payload)
        elif kind == "k":
            out.append("[" + ",".join(f"{name}={_go_value(v)}" for name, v in payload) + "]")
        elif kind == "v":
            out.append(f"[={_go_value(payload)}]")
        else:
            out.append(f"[{payload}]")
    return "".join(out)


def _go_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else _json(value)


class _Node:
    __slots__ = ("member", "children")

    def __init__(self) -> None:
        self.member = False
        self.children: dict[PathElement, _Node] = {}


def _tree(paths: Iterable[Path]) -> _Node:
    root = _Node()
    for p in paths:
        node = root
        for element in p:
            child = node.children.get(element)
            if child is None:
                child = node.children[element] = _Node()
            node = child
        node.member = True
    return root


def _child_order(item: tuple[PathElement, _Node]) -> tuple[Any, ...]:
    return element_order(item[0])


def _sorted_children(node: _Node) -> Iterable[tuple[PathElement, _Node]]:
    if len(node.children) < 2:
        return node.children.items()
    return sorted(node.children.items(), key=_child_order)


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    return _encode(_tree(paths))


def _encode(node: _Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if node.member and node.children:
        out["."] = {}
    for element, child in _sorted_children(node):
        out[encode_element(element)] = _encode(child) if child.children else {}
    return out


def from_fields_v1(fields: dict[str, Any]) -> FieldSet:
    out: FieldSet = set()
    _decode(fields, (), out)
    return out


def _decode(fields: dict[str, Any], prefix: Path, out: FieldSet) -> None:
    if not isinstance(fields, dict):
        raise ValueError("FieldsV1 nodes must be objects")
    for text, child in fields.items():
        if text == ".":
            out.add(prefix)
            continue
        p = prefix + (decode_element(text),)
        if not child:
            out.add(p)
        else:
            _decode(child, p, out)


def iterate(paths: Iterable[Path]) -> Iterator[Path]:
    """Paths in upstream's Set.Iterate order: a node's members first, then its children."""
    yield from _iterate(_tree(paths), ())


def _iterate(node: _Node, prefix: Path) -> Iterator[Path]:
    ordered = _sorted_children(node)
    for element, child in ordered:
        if child.member:
            yield prefix + (element,)
    for element, child in ordered:
        if child.children:
            yield from _iterate(child, prefix + (element,))


def without_prefixes(paths: Iterable[Path], prefixes: Iterable[Path]) -> FieldSet:
    """Upstream's RecursiveDifference: drop every path at or under one of `prefixes`.

    Works by set difference, which reuses the hashes a set keeps instead of rehashing every path."""
    paths = paths if isinstance(paths, set) else set(paths)
    doomed = set(prefixes)
    dropped: FieldSet = set()
    for n in {len(q) for q in doomed}:
        dropped |= {p for p in paths if p[:n] in doomed}
    return paths - dropped
