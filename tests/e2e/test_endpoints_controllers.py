"""Endpoints and EndpointSlice controllers against a real API server; pods' readiness is simulated
by patching their status as a kubelet would."""

from __future__ import annotations

import pytest

from controller_harness import running
from kinn.api.errors import StatusError
from kinn.client.rest import Client, resource, wait_for
from kinn.controllers.endpoints import EndpointsController
from kinn.controllers.endpointslice import EndpointSliceController
from kinn.controllers.garbagecollector import GarbageCollector

NAMESPACES = resource("v1", "namespaces")
PODS = resource("v1", "pods")
SERVICES = resource("v1", "services")
ENDPOINTS = resource("v1", "endpoints")
SLICES = resource("discovery.k8s.io/v1", "endpointslices")
NS = "ep"
TRANSITIONS = iter(range(10_000))


@pytest.fixture
async def client(apiserver):
    async with Client.from_kubeconfig(str(apiserver.kubeconfig)) as c:
        try:
            await c.create(NAMESPACES, {"metadata": {"name": NS}})
        except StatusError as e:
            assert e.reason == "AlreadyExists"
        yield c


def pod(name: str, labels: dict[str, str], ports: list[dict] | None = None, **spec: object) -> dict:
    container = {"name": "app", "image": "app", "ports": ports or [{"name": "http", "containerPort": 8080}]}
    return {"metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"containers": [container], "nodeName": "node-1", **spec}}


async def run_pod(client: Client, name: str, ip: str, ready: bool, labels: dict[str, str], **kw: object) -> None:
    await client.create(PODS, pod(name, labels, **kw), NS)
    await set_ready(client, name, ip, ready)


async def set_ready(client: Client, name: str, ip: str, ready: bool) -> None:
    ltt = f"2025-01-01T00:{next(TRANSITIONS) // 60 % 60:02d}:{next(TRANSITIONS) % 60:02d}Z"
    status = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
              "conditions": [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": ltt}]}
    await client.patch(PODS, name, {"status": status}, NS, subresource="status")


def service(name: str, selector: dict[str, str], ports: list[dict], **spec: object) -> dict:
    return {"metadata": {"name": name, "namespace": NS, "labels": {"team": "a"}},
            "spec": {"selector": selector, "ports": ports, **spec}}


async def endpoints_of(client: Client, name: str) -> dict | None:
    try:
        return await client.get(ENDPOINTS, name, NS)
    except StatusError as e:
        if e.code == 404:
            return None
        raise


def addresses(ep: dict | None, field: str = "addresses") -> list[tuple[str, int]]:
    return sorted((a["ip"], p["port"]) for s in (ep or {}).get("subsets") or []
                  for a in s.get(field) or [] for p in s.get("ports") or [{"port": 0}])


async def test_endpoints_follow_readiness_and_named_ports(client, apiserver):
    app = {"app": "web"}
    async with running(client, EndpointsController):
        await run_pod(client, "web-1", "10.244.1.5", True, app)
        await run_pod(client, "web-2", "10.244.2.7", False, app,
                      ports=[{"name": "http", "containerPort": 9090}])
        await client.create(SERVICES, service("web", app, [{"name": "http", "port": 80, "targetPort": "http"}]), NS)

        async def shows(ready: list, not_ready: list) -> bool:
            ep = await endpoints_of(client, "web")
            return addresses(ep) == ready and addresses(ep, "notReadyAddresses") == not_ready

        await wait_for(lambda: shows([("10.244.1.5", 8080)], [("10.244.2.7", 9090)]), 10)
        ep = await endpoints_of(client, "web")
        [ready] = [s for s in ep["subsets"] if s.get("addresses")]
        address = ready["addresses"][0]
        web1 = await client.get(PODS, "web-1", NS)
        assert address == {"ip": "10.244.1.5", "nodeName": "node-1", "targetRef": {
            "kind": "Pod", "namespace": NS, "name": "web-1", "uid": web1["metadata"]["uid"]}}
        assert ep["metadata"]["labels"] == {"team": "a"}
        assert ready["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]

        await set_ready(client, "web-2", "10.244.2.7", True)
        await wait_for(lambda: shows([("10.244.1.5", 8080), ("10.244.2.7", 9090)], []), 10)
        out = apiserver.kubectl("get", "endpoints", "web", "-n", NS).stdout
        assert "10.244.1.5:8080,10.244.2.7:9090" in out or "10.244.2.7:9090,10.244.1.5:8080" in out

        await set_ready(client, "web-1", "10.244.1.5", False)
        await wait_for(lambda: shows([("10.244.2.7", 9090)], [("10.244.1.5", 8080)]), 10)
        ep = await endpoints_of(client, "web")
        # The change that moved web-1 is the trigger: its Ready transition time.
        web1 = await client.get(PODS, "web-1", NS)
        assert ep["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"] == \
            web1["status"]["conditions"][0]["lastTransitionTime"]

        # A terminating pod leaves; publishNotReadyAddresses brings every address in as ready.
        await client.patch(PODS, "web-2", {"metadata": {"finalizers": ["test/hold"]}}, NS)
        await client.delete(PODS, "web-2", NS, grace_period_seconds=0)
        await wait_for(lambda: shows([], [("10.244.1.5", 8080)]), 10)
        await client.patch(SERVICES, "web", {"spec": {"publishNotReadyAddresses": True}}, NS)
        await wait_for(lambda: shows([("10.244.1.5", 8080), ("10.244.2.7", 9090)], []), 10)
        await client.patch(PODS, "web-2", {"metadata": {"finalizers": None}}, NS)

        await client.delete(SERVICES, "web", NS)
        await wait_for(lambda: _gone(client, "web"), 10)


async def _gone(client: Client, name: str) -> bool:
    return await endpoints_of(client, name) is None


async def test_headless_service_hostnames_and_selectorless_services(client):
    async with running(client, EndpointsController):
        await run_pod(client, "db-0", "10.244.1.20", True, {"app": "db"}, hostname="db-0", subdomain="db")
        await client.create(SERVICES, service("db", {"app": "db"}, [], clusterIP="None"), NS)
        manual = {"metadata": {"name": "external", "namespace": NS},
                  "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 443}]}]}
        await client.create(SERVICES, {"metadata": {"name": "external", "namespace": NS},
                                       "spec": {"ports": [{"port": 443}]}}, NS)
        await client.create(ENDPOINTS, manual, NS)

        async def headless() -> dict | None:
            ep = await endpoints_of(client, "db")
            return ep if ep and ep.get("subsets") else None

        ep = await wait_for(headless, 10)
        assert ep["subsets"] == [{"addresses": [{"ip": "10.244.1.20", "hostname": "db-0", "nodeName": "node-1",
                                                 "targetRef": ep["subsets"][0]["addresses"][0]["targetRef"]}]}]
        assert ep["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
        assert (await endpoints_of(client, "external"))["subsets"][0]["addresses"] == [{"ip": "192.0.2.1"}]


async def test_endpoint_slices_follow_pods_and_go_with_their_service(client, apiserver):
    app = {"app": "api"}
    async with running(client, EndpointSliceController, GarbageCollector):
        svc = await client.create(SERVICES, service("api", app, [{"name": "http", "port": 80, "targetPort": "http"}]),
                                  NS)

        async def slices() -> list[dict]:
            return (await client.list(SLICES, NS, label_selector="kubernetes.io/service-name=api"))["items"]

        placeholder = (await wait_for(slices, 10))[0]
        assert not placeholder.get("endpoints") and placeholder["metadata"]["name"].startswith("api-")

        await run_pod(client, "api-1", "10.244.1.9", True, app)
        await run_pod(client, "api-2", "10.244.2.9", False, app)

        async def conditions() -> dict:
            found = await slices()
            return {e["addresses"][0]: e["conditions"] for s in found for e in s.get("endpoints") or []}

        await wait_for(lambda: _eq(conditions(), {
            "10.244.1.9": {"ready": True, "serving": True, "terminating": False},
            "10.244.2.9": {"ready": False, "serving": False, "terminating": False}}), 10)
        [slice_] = await slices()
        assert slice_["metadata"]["name"] == placeholder["metadata"]["name"]  # rewritten, not replaced
        assert slice_["metadata"]["labels"] == {
            "team": "a", "kubernetes.io/service-name": "api",
            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
        assert slice_["metadata"]["ownerReferences"] == [{
            "apiVersion": "v1", "kind": "Service", "name": "api", "uid": svc["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}]
        assert slice_["addressType"] == "IPv4"
        assert slice_["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
        api1 = next(e for e in slice_["endpoints"] if e["addresses"] == ["10.244.1.9"])
        assert api1["nodeName"] == "node-1" and api1["targetRef"]["name"] == "api-1"

        # Terminating but still ready: serving, not ready.
        await client.patch(PODS, "api-1", {"metadata": {"finalizers": ["test/hold"]}}, NS)
        await client.delete(PODS, "api-1", NS, grace_period_seconds=0)
        await wait_for(lambda: _eq(conditions(), {
            "10.244.1.9": {"ready": False, "serving": True, "terminating": True},
            "10.244.2.9": {"ready": False, "serving": False, "terminating": False}}), 10)
        await client.patch(PODS, "api-1", {"metadata": {"finalizers": None}}, NS)
        await wait_for(lambda: _eq(conditions(), {
            "10.244.2.9": {"ready": False, "serving": False, "terminating": False}}), 10)
        out = apiserver.kubectl("get", "endpointslices", "-n", NS, "-l", "kubernetes.io/service-name=api").stdout
        assert "IPv4" in out and "8080" in out and "10.244.2.9" in out

        await client.delete(SERVICES, "api", NS)
        await wait_for(lambda: _eq(slices(), []), 10)


async def _eq(awaitable, expected) -> bool:
    return await awaitable == expected
