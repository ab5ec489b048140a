"""ResourceQuota usage, PodDisruptionBudget status and the service LB hook against a real API server."""

from __future__ import annotations

import asyncio

import pytest

from kinn.api.errors import StatusError
from kinn.client.informer import SharedInformerFactory
from kinn.client.rest import Client, resource, wait_for
from kinn.controllers.base import ControllerContext
from kinn.controllers.disruption import DisruptionController
from kinn.controllers.resourcequota import ResourceQuotaController
from kinn.controllers.service import CLEANUP_FINALIZER, ServiceController

NAMESPACES = resource("v1", "namespaces")
PODS = resource("v1", "pods")
QUOTAS = resource("v1", "resourcequotas")
CONFIGMAPS = resource("v1", "configmaps")
SERVICES = resource("v1", "services")
REPLICASETS = resource("apps/v1", "replicasets")
DEPLOYMENTS = resource("apps/v1", "deployments")
PDBS = resource("policy/v1", "poddisruptionbudgets")
EVENTS = resource("v1", "events")


@pytest.fixture
async def start(client):
    tasks: list[asyncio.Task] = []
    factory = SharedInformerFactory(client)

    def run(controller_class, **kwargs):
        controller = controller_class(ControllerContext(client, factory), **kwargs)
        factory.start()
        tasks.append(asyncio.create_task(controller.run(2)))
        return controller

    yield run
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await factory.stop()


async def namespace(client: Client, name: str) -> str:
    try:
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except StatusError as e:
        assert e.reason == "AlreadyExists"
    return name


def pod(name: str, labels: dict, cpu: str = "100m", memory: str = "64Mi", owner: dict | None = None) -> dict:
    meta: dict = {"name": name, "labels": labels}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"], "controller": True,
                                    "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [{
        "name": "c", "image": "pause",
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": "1", "memory": "128Mi"}}}]}}


async def set_ready(client: Client, name: str, ns: str, ready: bool = True) -> None:
    await client.patch(PODS, name, {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}, ns, subresource="status")


async def test_quota_used_follows_objects(client, start):
    ns = await namespace(client, "quota")
    await client.create(QUOTAS, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {
        "hard": {"pods": "10", "requests.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi",
                 "configmaps": "5", "count/deployments.apps": "3", "services.nodeports": "2"}}}, ns)
    await client.create(PODS, pod("a", {"app": "q"}, "250m", "64Mi"), ns)
    await client.create(PODS, pod("b", {"app": "q"}, "500m", "128Mi"), ns)
    await client.create(CONFIGMAPS, {"metadata": {"name": "cm"}, "data": {}}, ns)
    start(ResourceQuotaController)

    async def used() -> dict:
        return ((await client.get(QUOTAS, "q", ns)).get("status") or {}).get("used") or {}

    async def used_is(expected: dict) -> bool:
        return (await used()) == expected

    base = {"requests.cpu": "750m", "requests.memory": "192Mi", "limits.memory": "256Mi",
            "count/deployments.apps": "0", "services.nodeports": "0"}
    # kube-root-ca.crt would be a second configmap upstream; kinn's namespace holds only what we made
    configmaps = str(len((await client.list(CONFIGMAPS, ns))["items"]))
    await wait_for(lambda: used_is({**base, "pods": "2", "configmaps": configmaps}), 10)
    quota = await client.get(QUOTAS, "q", ns)
    assert quota["status"]["hard"] == quota["spec"]["hard"]

    await client.patch(PODS, "b", {"status": {"phase": "Succeeded"}}, ns, subresource="status")  # finished: free
    await wait_for(lambda: used_is({**base, "pods": "1", "requests.cpu": "250m", "requests.memory": "64Mi",
                                    "limits.memory": "128Mi", "configmaps": configmaps}), 10)


async def test_pdb_status_counts_healthy_pods_against_the_budget(client, start):
    ns = await namespace(client, "pdb")
    rs = await client.create(REPLICASETS, {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
                                           "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                                                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                                                        "containers": [{"name": "c", "image": "pause"}]}}}}, ns)
    for i in range(3):
        await client.create(PODS, pod(f"web-{i}", {"app": "web"}, owner=rs), ns)
        await set_ready(client, f"web-{i}", ns)
    await client.create(PDBS, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                               "metadata": {"name": "min2"},
                               "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}}, ns)
    await client.create(PDBS, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                               "metadata": {"name": "max25"},
                               "spec": {"maxUnavailable": "25%", "selector": {"matchLabels": {"app": "web"}}}}, ns)
    await client.create(PDBS, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "none"},
                               "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "nothing"}}}}, ns)
    start(DisruptionController)

    def numbers(status: dict) -> tuple:
        return tuple(status.get(k) for k in ("currentHealthy", "desiredHealthy", "expectedPods", "disruptionsAllowed"))

    async def status_is(name: str, expected: tuple) -> dict | None:
        status = (await client.get(PDBS, name, ns)).get("status") or {}
        return status if numbers(status) == expected else None

    status = await wait_for(lambda: status_is("min2", (3, 2, 3, 1)), 10)
    assert status["observedGeneration"] == 1
    condition = status["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "DisruptionAllowed", "True", "SufficientPods")
    # maxUnavailable 25% of the ReplicaSet's 4 replicas rounds up to 1: 3 desired, 3 healthy, none to spare
    status = await wait_for(lambda: status_is("max25", (3, 3, 4, 0)), 10)
    assert status["conditions"][0]["reason"] == "InsufficientPods"
    await wait_for(lambda: status_is("none", (0, 1, 0, 0)), 10)

    async def no_pods_event() -> bool:
        events = await client.list(EVENTS, ns, field_selector="involvedObject.name=none")
        return any((e["reason"], e["message"]) == ("NoPods", "No matching pods found") for e in events["items"])

    await wait_for(no_pods_event, 10)

    await set_ready(client, "web-0", ns, ready=False)
    status = await wait_for(lambda: status_is("min2", (2, 2, 3, 0)), 10)
    assert status["conditions"][0]["reason"] == "InsufficientPods"


class FakeProvider:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def ensure(self, service: dict) -> list[dict]:
        return [{"ip": "10.240.0.200"}]

    async def delete(self, service: dict) -> None:
        self.deleted.append(service["metadata"]["name"])


def lb_service(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": "LoadBalancer", "selector": {"app": "x"}, "ports": [{"port": 80}]}}


async def test_load_balancer_hook_without_and_with_a_provider(client, start):
    ns = await namespace(client, "lb")
    provider = FakeProvider()
    start(ServiceController, provider=provider)
    await client.create(SERVICES, lb_service("front"), ns)

    async def ingress() -> list:
        return ((await client.get(SERVICES, "front", ns)).get("status") or {}).get("loadBalancer", {}).get(
            "ingress") or []

    assert await wait_for(ingress, 10) == [{"ip": "10.240.0.200"}]
    assert CLEANUP_FINALIZER in (await client.get(SERVICES, "front", ns))["metadata"]["finalizers"]

    await client.delete(SERVICES, "front", ns)

    async def gone() -> bool:
        try:
            await client.get(SERVICES, "front", ns)
        except StatusError as e:
            return e.code == 404
        return False

    await wait_for(gone, 10)
    assert set(provider.deleted) == {"front"}


async def test_without_a_provider_the_service_stays_pending_with_the_event(client, start):
    ns = await namespace(client, "lb-none")
    start(ServiceController)
    await client.create(SERVICES, lb_service("pending"), ns)

    async def ensuring() -> bool:
        events = await client.list(EVENTS, ns, field_selector="involvedObject.name=pending")
        return any((e["reason"], e["message"]) == ("EnsuringLoadBalancer", "Ensuring load balancer")
                   for e in events["items"])

    await wait_for(ensuring, 10)
    service = await client.get(SERVICES, "pending", ns)
    assert not service["metadata"].get("finalizers") and not service.get("status", {}).get("loadBalancer")
