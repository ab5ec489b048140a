"""Validation per kind, as each kind's registry strategy does upstream (`Validate`, `ValidateUpdate`).

Each group module (`core`, `apps`, …) exports three dicts keyed by Kind:
`CREATE[kind](obj) -> ErrorList`, `UPDATE[kind](new, old) -> ErrorList` and
`STATUS_UPDATE[kind](new, old) -> ErrorList`. Kinds missing from a dict have no checks of that sort.
"""

from __future__ import annotations

import functools
from importlib import import_module
from types import ModuleType
from typing import Any

from kinn.api.field import ErrorList
from kinn.api.resources import Resource

# Group name → module in this package. One module per API group, as pkg/apis/<group>/validation.
GROUP_MODULES = {
    "": "core",
    "apiregistration.k8s.io": "apiregistration",
    "apps": "apps",
    "batch": "batch",
    "coordination.k8s.io": "coordination",
    "discovery.k8s.io": "discovery",
    "events.k8s.io": "events",
    "networking.k8s.io": "networking",
    "policy": "policy",
    "rbac.authorization.k8s.io": "rbac",
    "scheduling.k8s.io": "scheduling",
    "storage.k8s.io": "storage",
}

Obj = dict[str, Any]


@functools.cache
def group_module(package: str, group: str) -> ModuleType | None:
    """`package`'s module for an API group (`kinn.api.validation.core` for ""), None if it has none.

    Cached: every write asks for its group's validation and defaulting modules, and importlib takes
    its module lock even for a module already imported (~5 µs a call, 2% of a Lease renewal)."""
    name = GROUP_MODULES.get(group)
    if name is None:
        return None
    try:
        return import_module(f"{package}.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"{package}.{name}":
            raise
        return None


def validate_create(resource: Resource, obj: Obj) -> ErrorList:
    module = group_module(__name__, resource.group)
    check = getattr(module, "CREATE", {}).get(resource.kind)
    return check(obj) if check else []


def validate_update(resource: Resource, new: Obj, old: Obj) -> ErrorList:
    module = group_module(__name__, resource.group)
    check = getattr(module, "UPDATE", {}).get(resource.kind)
    return check(new, old) if check else []


def validate_status_update(resource: Resource, new: Obj, old: Obj) -> ErrorList:
    module = group_module(__name__, resource.group)
    check = getattr(module, "STATUS_UPDATE", {}).get(resource.kind)
    return check(new, old) if check else []
