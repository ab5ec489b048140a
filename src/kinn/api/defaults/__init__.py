"""Defaulting per kind, as the generated `SetObjectDefaults_<Kind>` functions do upstream.

Each group module (`core`, `apps`, …; same names as `kinn.api.validation.GROUP_MODULES`) exports
`DEFAULTERS[kind](obj) -> None`, which fills unset fields in place. Defaults apply to every object
that enters the API server (create, update, patch result), before validation.
"""

from __future__ import annotations

from typing import Any

from kinn.api.resources import Resource
from kinn.api.validation import group_module


def apply_defaults(resource: Resource, obj: dict[str, Any]) -> None:
    module = group_module(__name__, resource.group)
    defaulter = getattr(module, "DEFAULTERS", {}).get(resource.kind)
    if defaulter:
        defaulter(obj)
