"""The upstream schema definitions kinn serves, and navigation over them.

`definitions.json` is extracted from the official Kubernetes OpenAPI v2 document by
`hack/vendor_openapi.py`. It is kinn's single description of object structure: the OpenAPI
documents, unknown-field detection and strategic-merge-patch keys all read it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources as importlib_resources
from typing import Any

Schema = dict[str, Any]

_REF_PREFIX = "#/definitions/"


@lru_cache(maxsize=1)
def definitions() -> dict[str, Schema]:
    text = importlib_resources.files("kinn.api.openapi").joinpath("definitions.json").read_text()
    return json.loads(text)["definitions"]


@lru_cache(maxsize=1)
def _by_gvk() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            index.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return index


def definition_name(group: str, version: str, kind: str) -> str | None:
    """`io.k8s.api.apps.v1.Deployment` for (`apps`, `v1`, `Deployment`)."""
    return _by_gvk().get((group, version, kind))


def for_kind(group: str, version: str, kind: str) -> Schema | None:
    name = definition_name(group, version, kind)
    return definitions()[name] if name else None


def resolve(schema: Schema | None) -> Schema | None:
    """Follow `$ref` (also through `allOf: [{$ref}]`, as v3 documents write it) to the definition."""
    while schema is not None:
        ref = schema.get("$ref")
        if ref is None and len(schema.get("allOf", ())) == 1:
            ref = schema["allOf"][0].get("$ref")
        if not ref:
            return schema
        schema = definitions().get(ref[len(_REF_PREFIX):])
    return None


def items_schema(schema: Schema | None) -> Schema | None:
    schema = resolve(schema)
    return schema.get("items") if schema else None


def map_values_schema(schema: Schema | None) -> Schema | None:
    """The value schema of a map (`additionalProperties`), or None if not a map."""
    schema = resolve(schema)
    if schema is None:
        return None
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


@lru_cache(maxsize=1)
def _names_by_identity() -> dict[int, str]:
    return {id(definition): name for name, definition in definitions().items()}


@lru_cache(maxsize=1)
def _vendored() -> frozenset[int]:
    """Identities of every schema object inside the definitions, which live as long as the process."""
    seen: set[int] = set()
    pending: list[Any] = [definitions()]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            seen.add(id(value))
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return frozenset(seen)


def _plain_ref(schema: Schema) -> bool:
    """A `$ref` with nothing beside it but prose means exactly the definition it names."""
    return "$ref" in schema and all(key in ("$ref", "description") for key in schema)


class Node:
    """A schema as the object walkers meet it, compiled once instead of re-resolved per value.

    `schema` is the schema where it is used (a field's own list/patch extensions sit beside its
    `$ref`), `definition` what it resolves to and `name` that definition's name, if it is one.
    Members are compiled on first use and kept; subclasses derive their own facts from a node
    in `__init__`, and every node under them is of their class. Nodes of the vendored
    definitions are shared process-wide (`Node.of`); those of other schemas live with their root.
    """

    __slots__ = ("schema", "definition", "name", "properties", "_fields", "_items", "_values")

    def __init__(self, schema: Schema | None) -> None:
        self.schema = schema
        self.definition = resolve(schema)
        self.name = _names_by_identity().get(id(self.definition), "") if self.definition is not None else ""
        self.properties: dict[str, Schema] = self.definition.get("properties", {}) if self.definition else {}
        self._fields: dict[str, Node] = {}
        self._items: Node | None = None
        self._values: Node | None = None

    @classmethod
    def of(cls, schema: Schema | None) -> "Node":
        """The compiled node of `schema` (None: a node that knows nothing)."""
        if schema is not None and _plain_ref(schema):
            schema = resolve(schema)
        key = (cls, id(schema))
        node = _NODES.get(key)
        if node is None:
            node = cls(schema)
            if schema is None or id(schema) in _vendored():
                _NODES[key] = node
        return node

    def extension(self, name: str) -> Any:
        """An extension set beside the `$ref` or on the definition it names."""
        if self.schema is None:
            return None
        if name in self.schema:
            return self.schema[name]
        return self.definition.get(name) if self.definition else None

    def member(self, name: str) -> "Node":
        """The node of member `name`: a declared struct field, else the value type of a map."""
        node = self._fields.get(name)
        if node is None:
            declared = self.properties.get(name)
            if declared is None:
                return self.values
            node = self._fields[name] = type(self).of(declared)
        return node

    def field(self, name: str) -> tuple["Node", bool]:
        """(node of member `name`, whether it is a declared struct field rather than a map entry)."""
        return self.member(name), name in self.properties

    @property
    def items(self) -> "Node":
        if self._items is None:
            self._items = type(self).of(self.definition.get("items") if self.definition else None)
        return self._items

    @property
    def values(self) -> "Node":
        """The value node of a map (`additionalProperties`); an empty node if not a map."""
        if self._values is None:
            extra = self.definition.get("additionalProperties") if self.definition else None
            self._values = type(self).of(extra if isinstance(extra, dict) else None)
        return self._values


_NODES: dict[tuple[type, int], Node] = {}
