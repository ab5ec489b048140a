"""A pod's quality-of-service class (pkg/apis/core/helper/qos), shown in status.qosClass.

Guaranteed: every container sets cpu and memory limits and its requests equal them.
BestEffort: no container requests or limits anything. Burstable: everything else.
"""

from __future__ import annotations

from typing import Any

from kinn.api.quantity import parse_quantity

_TRACKED = ("cpu", "memory")


def qos_class(spec: dict[str, Any]) -> str:
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests = {k: v for k, v in (resources.get("requests") or {}).items() if k in _TRACKED}
        limits = {k: v for k, v in (resources.get("limits") or {}).items() if k in _TRACKED}
        if any(parse_quantity(str(v)) != 0 for v in list(requests.values()) + list(limits.values())):
            any_set = True
        if set(limits) != set(_TRACKED):
            guaranteed = False
            continue
        for name, limit in limits.items():
            request = requests.get(name, limit)
            if parse_quantity(str(request)) != parse_quantity(str(limit)):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
