"""The structure server-side apply sees in an object, read from the upstream schema.

kube-openapi converts the OpenAPI schema into structured-merge-diff types the same way:
- lists: `x-kubernetes-list-type` `atomic` | `set` | `map` (keyed by `x-kubernetes-list-map-keys`);
  without it, `x-kubernetes-patch-strategy: merge` makes the list associative (keyed by the
  patch merge key, or a set of primitives); anything else is atomic (owned whole);
- maps: declared fields (structs) and `additionalProperties` maps are granular unless
  `x-kubernetes-map-type: atomic`;
- values with no schema are "deduced": maps granular, lists atomic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kinn.api.openapi import schemas
from kinn.api.openapi.schemas import Schema

# The v2 document carries no defaults, but list-map keys may be omitted when defaulted, and
# structured-merge-diff then keys the item by the default. These are the defaulted key fields.
_KEY_DEFAULTS: dict[tuple[str, str], Any] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.EndpointPort", "protocol"): "TCP",
    ("io.k8s.api.discovery.v1.EndpointPort", "protocol"): "TCP",
}

# Struct-valued Go fields that are not pointers: a zero object (what a create is compared
# against) already holds them as `{}`, so creating one does not mark it as added. `metadata`,
# `spec` and `status` are such fields everywhere; these are the other common ones.
_VALUE_STRUCTS = frozenset(
    {
        "io.k8s.api.apps.v1.DeploymentStrategy",
        "io.k8s.api.apps.v1.StatefulSetUpdateStrategy",
        "io.k8s.api.apps.v1.DaemonSetUpdateStrategy",
        "io.k8s.api.core.v1.ResourceRequirements",
        "io.k8s.api.core.v1.LoadBalancerStatus",
        "io.k8s.api.core.v1.ContainerState",
        "io.k8s.api.core.v1.NodeDaemonEndpoints",
        "io.k8s.api.core.v1.DaemonEndpoint",
        "io.k8s.api.core.v1.NodeSystemInfo",
    }
)
_VALUE_FIELDS = frozenset({"metadata", "spec", "status"})


class SchemaError(ValueError):
    """An object that does not fit its schema's list keys (upstream reports these as 500s)."""


@dataclass(frozen=True)
class ListType:
    atomic: bool
    keys: tuple[str, ...] = ()


ATOMIC_LIST = ListType(atomic=True)
SET_LIST = ListType(atomic=False)


class Type(schemas.Node):
    """A schema node with what structured-merge-diff reads from it, derived once."""

    __slots__ = ("atomic_map", "list_type", "key_defaults", "_zero")

    def __init__(self, schema: Schema | None) -> None:
        super().__init__(schema)
        self.atomic_map = self.extension("x-kubernetes-map-type") == "atomic"
        self.list_type = self._list_type()
        self.key_defaults = {key: value for (owner, key), value in _KEY_DEFAULTS.items() if owner == self.name}
        self._zero: dict[str, Any] | None = None

    def _list_type(self) -> ListType:
        declared = self.extension("x-kubernetes-list-type")
        if declared == "map":
            return ListType(atomic=False, keys=tuple(self.extension("x-kubernetes-list-map-keys") or ()))
        if declared == "set":
            return SET_LIST
        if declared is None and "merge" in (self.extension("x-kubernetes-patch-strategy") or "").split(","):
            key = self.extension("x-kubernetes-patch-merge-key")
            return ListType(atomic=False, keys=(key,)) if key else SET_LIST
        return ATOMIC_LIST

    def item_key(self, keys: tuple[str, ...], item: Any) -> tuple[tuple[str, Any], ...]:
        """The (name, value) pairs identifying `item`, an item of this type in a list-map."""
        if not isinstance(item, dict):
            raise SchemaError("associative list with keys may not have non-map elements")
        pairs = []
        for name in keys:
            if name in item:
                pairs.append((name, item[name]))
            elif name in self.key_defaults:
                pairs.append((name, self.key_defaults[name]))
            else:
                raise SchemaError(
                    f'associative list with keys has an element that omits key field "{name}" (and doesn\'t have default value)'
                )
        if len(pairs) > 1:
            pairs.sort()
        return tuple(pairs)

    def zero(self) -> dict[str, Any]:
        """The zero object of this struct (`zero_object`), computed once; callers must not mutate it."""
        if self._zero is None:
            self._zero = _zero_object(self.schema, 0)
        return self._zero


def of(schema: Schema | None) -> Type:
    return Type.of(schema)  # type: ignore[return-value]


def extension(schema: Schema | None, name: str) -> Any:
    """An extension set beside a field's `$ref` or on the definition it names."""
    return of(schema).extension(name)


def list_type(schema: Schema | None) -> ListType:
    return of(schema).list_type


def is_atomic_map(schema: Schema | None) -> bool:
    return of(schema).atomic_map


def items(schema: Schema | None) -> Schema | None:
    return schemas.items_schema(schema)


def field(schema: Schema | None, name: str) -> tuple[Schema | None, bool]:
    """(schema of member `name`, whether it is a declared struct field rather than a map entry)."""
    resolved = schemas.resolve(schema)
    if resolved is None:
        return None, False
    declared = resolved.get("properties", {}).get(name)
    if declared is not None:
        return declared, True
    return schemas.map_values_schema(resolved), False


def is_declared_field(schema: Schema | None, name: str) -> bool:
    return name in of(schema).properties


def definition_name(schema: Schema | None) -> str:
    """`io.k8s.api.core.v1.ContainerPort` for a schema that is (or refers to) that definition."""
    return of(schema).name


def list_item_key(keys: tuple[str, ...], item_schema: Schema | None, item: Any) -> tuple[tuple[str, Any], ...]:
    """The (name, value) pairs identifying an item of a list-map, sorted by name as upstream."""
    return of(item_schema).item_key(keys, item)


def zero_object(schema: Schema | None, depth: int = 0) -> dict[str, Any]:
    """The object a Go zero value of this struct converts to: value structs as `{}`, fields
    without `omitempty` (OpenAPI `required`) as null. Updates made at creation are computed
    against it, which decides where managedFields shows a `"."` (a newly added node)."""
    return _copy(of(schema).zero()) if depth == 0 else _zero_object(schema, depth)


def _copy(zero: dict[str, Any]) -> dict[str, Any]:
    return {name: _copy(value) if value is not None else None for name, value in zero.items()}


def _zero_object(schema: Schema | None, depth: int) -> dict[str, Any]:
    resolved = schemas.resolve(schema)
    if resolved is None or depth > 8:
        return {}
    required = set(resolved.get("required", ()))
    out: dict[str, Any] = {}
    for name, prop in resolved.get("properties", {}).items():
        target = schemas.resolve(prop)
        is_struct = bool(target) and "properties" in target
        if is_struct and (name in required or name in _VALUE_FIELDS or definition_name(prop) in _VALUE_STRUCTS):
            out[name] = _zero_object(prop, depth + 1)
        elif name in required and target is not None and target.get("type") in ("array", "object"):
            out[name] = None
    return out
