"""apiregistration.k8s.io/v1 defaults, as kube-aggregator's v1 defaults: services are reached on 443."""

from __future__ import annotations

from typing import Any, Callable

Obj = dict[str, Any]


def default_api_service(obj: Obj) -> None:
    service = (obj.get("spec") or {}).get("service")
    if service is not None:
        service.setdefault("port", 443)


DEFAULTERS: dict[str, Callable[[Obj], None]] = {"APIService": default_api_service}
