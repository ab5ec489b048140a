"""The service controller with kinn's address pool against a real API server: addresses in status,
spec.loadBalancerIP, exhaustion and release, type changes, and a restarted controller."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

import pytest

from kinn.api.errors import StatusError
from kinn.client.informer import SharedInformerFactory
from kinn.client.rest import Client, resource, wait_for
from kinn.controllers.base import ControllerContext, ControllerManagerOptions
from kinn.controllers.service import ServiceController
from kinn.loadbalancer.pool import AddressPool

pytestmark = pytest.mark.e2e

NAMESPACES = resource("v1", "namespaces")
SERVICES = resource("v1", "services")
EVENTS = resource("v1", "events")
POOL = AddressPool.parse("10.240.0.200-10.240.0.201")


@contextlib.asynccontextmanager
async def service_controller(client: Client) -> AsyncIterator[None]:
    """A service controller with a fresh allocator, as after a controller-manager restart."""
    factory = SharedInformerFactory(client)
    controller = ServiceController(ControllerContext(client, factory, ControllerManagerOptions(load_balancer_pool=POOL)))
    factory.start()
    task = asyncio.create_task(controller.run(2))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await factory.stop()


async def create_namespace(client: Client, name: str) -> str:
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def lb_service(name: str, ip: str | None = None) -> dict:
    spec: dict = {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}]}
    if ip:
        spec["loadBalancerIP"] = ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


async def ingress_of(client: Client, name: str, ns: str) -> list[dict]:
    service = await client.get(SERVICES, name, ns)
    return ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []


async def wait_for_ingress(client: Client, name: str, ns: str, ip: str) -> None:
    async def assigned() -> bool:
        return await ingress_of(client, name, ns) == [{"ip": ip, "ipMode": "VIP"}]
    await wait_for(assigned, 10)


async def event_messages(client: Client, name: str, ns: str, reason: str) -> list[str]:
    events = await client.list(EVENTS, ns, field_selector=f"involvedObject.name={name}")
    return [e["message"] for e in events["items"] if e["reason"] == reason]


async def gone(client: Client, name: str, ns: str) -> bool:
    with contextlib.suppress(StatusError):
        await client.get(SERVICES, name, ns)
        return False
    return True


async def delete_services(client: Client, ns: str) -> None:
    """Delete the namespace's Services while the controller runs, so it removes its finalizers and the
    next test's controller inherits no allocations."""
    names = [s["metadata"]["name"] for s in (await client.list(SERVICES, ns))["items"]]
    for name in names:
        await client.delete(SERVICES, name, ns)
    for name in names:
        await wait_for(lambda: gone(client, name, ns), 10)


async def test_addresses_from_the_pool_exhaustion_and_release(client: Client) -> None:
    ns = await create_namespace(client, "lb-pool")
    async with service_controller(client):
        await client.create(SERVICES, lb_service("asked", ip="10.240.0.201"), ns)
        await wait_for_ingress(client, "asked", ns, "10.240.0.201")
        await client.create(SERVICES, lb_service("first"), ns)
        await wait_for_ingress(client, "first", ns, "10.240.0.200")
        await client.create(SERVICES, lb_service("third"), ns)
        failed = await wait_for(lambda: event_messages(client, "third", ns, "SyncLoadBalancerFailed"), 10)
        assert failed[0] == ("Error syncing load balancer: failed to ensure load balancer: no available IPs in pool "
                             "10.240.0.200-10.240.0.201 (2 addresses, all in use)")
        assert await ingress_of(client, "third", ns) == []

        # A type change releases the address; the pending Service gets it at once, not after its back-off.
        first = await client.get(SERVICES, "first", ns)
        first["spec"].update(type="ClusterIP")  # the registry drops its node port and traffic policy
        await client.update(SERVICES, first)
        await wait_for_ingress(client, "third", ns, "10.240.0.200")
        assert await ingress_of(client, "first", ns) == []
        assert "service.kubernetes.io/load-balancer-cleanup" not in \
            ((await client.get(SERVICES, "first", ns))["metadata"].get("finalizers") or [])

        await client.create(SERVICES, lb_service("taken", ip="10.240.0.201"), ns)
        taken = await wait_for(lambda: event_messages(client, "taken", ns, "SyncLoadBalancerFailed"), 10)
        assert taken[0].endswith(f"failed to ensure load balancer: 10.240.0.201 is already in use by {ns}/asked")
        await client.delete(SERVICES, "asked", ns)  # deletion releases too: the request is then granted
        await wait_for_ingress(client, "taken", ns, "10.240.0.201")
        await delete_services(client, ns)


async def test_a_restarted_controller_keeps_every_address(client: Client) -> None:
    ns = await create_namespace(client, "lb-restart")
    async with service_controller(client):
        await client.create(SERVICES, lb_service("one"), ns)
        await wait_for_ingress(client, "one", ns, "10.240.0.200")
        await client.create(SERVICES, lb_service("two"), ns)
        await wait_for_ingress(client, "two", ns, "10.240.0.201")
        await client.delete(SERVICES, "one", ns)
        await wait_for(lambda: gone(client, "one", ns), 10)
    # While no controller runs, a new Service appears; the restarted one must not give it two's address.
    await client.create(SERVICES, lb_service("late"), ns)
    async with service_controller(client):
        await wait_for_ingress(client, "late", ns, "10.240.0.200")
        assert await ingress_of(client, "two", ns) == [{"ip": "10.240.0.201", "ipMode": "VIP"}]
        await delete_services(client, ns)


async def event_counts(client: Client, name: str, ns: str) -> dict[str, int]:
    """Occurrences per reason: a repeated event is one Event whose count grows (the correlator)."""
    events = await client.list(EVENTS, ns, field_selector=f"involvedObject.name={name}")
    counts: dict[str, int] = {}
    for e in events["items"]:
        counts[e["reason"]] = counts.get(e["reason"], 0) + e.get("count", 1)
    return counts


async def test_one_ensuring_and_ensured_pair_per_change(client: Client) -> None:
    ns = await create_namespace(client, "lb-once")
    async with service_controller(client):
        await client.create(SERVICES, lb_service("once"), ns)
        await wait_for_ingress(client, "once", ns, "10.240.0.200")
        await wait_for(lambda: event_counts(client, "once", ns), 10)
        # Neither the controller's own finalizer and status writes nor a label are a reason to sync again;
        # an annotation is (a cloud's balancer is configured by them), and gives exactly one more pair.
        await client.patch(SERVICES, "once", {"metadata": {"labels": {"tier": "web"}}}, ns)
        await client.patch(SERVICES, "once", {"metadata": {"annotations": {"example.com/lb": "v2"}}}, ns)

        async def ensured_again() -> bool:
            return (await event_counts(client, "once", ns)).get("EnsuredLoadBalancer", 0) >= 2

        await wait_for(ensured_again, 10)
        await asyncio.sleep(0.5)  # a stray sync would follow within milliseconds
        assert await event_counts(client, "once", ns) == {"EnsuringLoadBalancer": 2, "EnsuredLoadBalancer": 2}
        await delete_services(client, ns)
