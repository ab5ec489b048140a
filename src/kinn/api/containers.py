"""A pod's containers of every kind, in the order podutil.VisitContainers walks them (AllContainers):
init containers, containers, then the ephemeral containers `kubectl debug` added."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

CONTAINER_KINDS = ("initContainers", "containers", "ephemeralContainers")


def all_containers(spec: Obj) -> list[Obj]:
    return [container for kind in CONTAINER_KINDS for container in spec.get(kind) or []]
