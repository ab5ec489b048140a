"""Admission: plugins that may default (mutate) or reject an object before it is stored.

As upstream, the chain runs every mutating plugin, then validation of the object itself, then
every validating plugin. Plugins see the operation, the resource, the new object and the old one.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from kinn.api.resources import Resource

if TYPE_CHECKING:
    from kinn.apiserver.registry.generic import RequestContext

Obj = dict[str, Any]


class Operation(enum.Enum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


def is_pod_create(op: Operation, resource: Resource) -> bool:
    return op is Operation.CREATE and resource.group == "" and resource.plural == "pods"


class MutatingPlugin(Protocol):
    async def admit(self, op: Operation, resource: Resource, obj: Obj, old: Obj | None, ctx: "RequestContext") -> None: ...


class ValidatingPlugin(Protocol):
    async def validate(
        self, op: Operation, resource: Resource, obj: Obj, old: Obj | None, ctx: "RequestContext"
    ) -> None: ...


class AdmissionChain:
    def __init__(self, mutating: Sequence[MutatingPlugin] = (), validating: Sequence[ValidatingPlugin] = ()) -> None:
        self.mutating = list(mutating)
        self.validating = list(validating)

    async def admit(self, op: Operation, resource: Resource, obj: Obj, old: Obj | None, ctx: "RequestContext") -> None:
        for plugin in self.mutating:
            await plugin.admit(op, resource, obj, old, ctx)

    async def validate(
        self, op: Operation, resource: Resource, obj: Obj, old: Obj | None, ctx: "RequestContext"
    ) -> None:
        for plugin in self.validating:
            await plugin.validate(op, resource, obj, old, ctx)
