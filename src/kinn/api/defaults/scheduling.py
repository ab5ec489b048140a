"""scheduling.k8s.io/v1 defaults, as pkg/apis/scheduling/v1/defaults.go."""

from __future__ import annotations

from typing import Any, Callable

Obj = dict[str, Any]


def default_priority_class(obj: Obj) -> None:
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")


DEFAULTERS: dict[str, Callable[[Obj], None]] = {"PriorityClass": default_priority_class}
