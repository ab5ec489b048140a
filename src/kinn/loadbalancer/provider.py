"""kinn's LoadBalancerProvider: an address from the underlay pool for each LoadBalancer Service.

This is the controller half of MetalLB (and what kind's cloud-provider-kind does with Docker's
network): the service controller calls `ensure` and `delete`; the address is reported as
`{"ip": ..., "ipMode": "VIP"}` — traffic reaches the nodes addressed to the VIP itself, which
kube-proxy's `loadbalancer IP` rules then DNAT. Announcing the address is the speakers' part.
"""

from __future__ import annotations

from typing import Any, Callable

from kinn.client.informer import object_key
from kinn.loadbalancer.allocator import AllocationError, Allocator
from kinn.loadbalancer.pool import AddressPool

Obj = dict[str, Any]


def ingress_ips(service: Obj) -> list[str]:
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [entry["ip"] for entry in ingress if entry.get("ip")]


def requested_ip(service: Obj) -> str | None:
    """spec.loadBalancerIP: deprecated upstream, still how a user asks for a given address."""
    return (service.get("spec") or {}).get("loadBalancerIP") or None


class PoolProvider:
    def __init__(self, pool: AddressPool, services: Callable[[], list[Obj]]) -> None:
        """`services` lists the Services holding a balancer (the controller's synced cache, those with its
        finalizer), read once to recover their allocations."""
        self.allocator = Allocator(pool)
        self._services = services
        self._recovered = False

    async def ensure(self, service: Obj) -> list[Obj]:
        self._recover()
        recorded = ingress_ips(service)
        ip = self.allocator.allocate(object_key(service), requested_ip(service), recorded[0] if recorded else None)
        return [{"ip": ip, "ipMode": "VIP"}]

    async def delete(self, service: Obj) -> None:
        self._recover()
        self.allocator.release(object_key(service))

    def _recover(self) -> None:
        """Before the first decision, give back every address Services already record, oldest Service
        first (it keeps an address two Services claim), so a restart moves no address."""
        if self._recovered:
            return
        self._recovered = True
        for service in sorted(self._services(), key=lambda s: s["metadata"].get("creationTimestamp") or ""):
            for ip in ingress_ips(service)[:1]:
                try:
                    self.allocator.assign(object_key(service), ip)
                except AllocationError:
                    pass  # outside today's pool, or a younger duplicate: `ensure` gives it another
