"""discovery.k8s.io/v1 defaults, as pkg/apis/discovery/v1/defaults.go: every port has a name
(possibly `""`) and a protocol, so consumers can key ports by name."""

from __future__ import annotations

from typing import Any, Callable

Obj = dict[str, Any]


def default_endpoint_slice(obj: Obj) -> None:
    for port in obj.get("ports") or []:
        port.setdefault("name", "")
        port.setdefault("protocol", "TCP")


DEFAULTERS: dict[str, Callable[[Obj], None]] = {"EndpointSlice": default_endpoint_slice}
