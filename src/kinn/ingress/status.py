"""Where an Ingress is reached: the controller's own Service's LoadBalancer address, written into
`status.loadBalancer.ingress` of every Ingress the controller serves (ingress-nginx's
--publish-service), so `kubectl get ingress` shows it under ADDRESS."""

from __future__ import annotations

import ipaddress
from typing import Any

Obj = dict[str, Any]


def published_addresses(service: Obj | None) -> list[Obj]:
    """The Service's load-balancer ingress points as Ingress ones (ip or hostname), IPs first, sorted."""
    points = ((((service or {}).get("status") or {}).get("loadBalancer") or {}).get("ingress")) or []
    addresses = [{"ip": point["ip"]} if point.get("ip") else {"hostname": point["hostname"]}
                 for point in points if point.get("ip") or point.get("hostname")]
    return sorted(addresses, key=_order)


def _order(address: Obj) -> tuple[int, Any, str]:
    if "ip" in address:
        return 0, ipaddress.ip_address(address["ip"]).packed, ""
    return 1, b"", address["hostname"]


def needs_update(ingress: Obj, addresses: list[Obj]) -> bool:
    current = (((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress")) or []
    return current != addresses


def status_patch(addresses: list[Obj]) -> Obj:
    """A merge patch for the status subresource (a list in a merge patch replaces the old one)."""
    return {"status": {"loadBalancer": {"ingress": addresses}}}
