"""Node IPAM and node lifecycle against a real API server, with the kubelet simulated by the test."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from kinn.client.informer import SharedInformerFactory
from kinn.client.leaderelection import LEASES
from kinn.client.rest import Client, resource, wait_for
from kinn.controllers.base import ControllerContext, ControllerManagerOptions
from kinn.controllers.nodeipam import NodeIPAMController
from kinn.controllers.nodelifecycle import NodeLifecycleController

NODES = resource("v1", "nodes")
PODS = resource("v1", "pods")
EVENTS = resource("v1", "events")


def micro_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_manifest(name: str) -> dict:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status",
                                       "lastHeartbeatTime": now, "lastTransitionTime": now}]}}


def pod_manifest(name: str, node: str, toleration_seconds: int | None) -> dict:
    spec: dict = {"nodeName": node, "containers": [{"name": "c", "image": "pause"}]}
    if toleration_seconds is not None:
        spec["tolerations"] = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                "effect": "NoExecute", "tolerationSeconds": toleration_seconds}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


@pytest.fixture
async def run_controllers(client):
    """Start controllers over one informer factory in this loop; stop them all at the end."""
    tasks: list[asyncio.Task] = []
    factories: list[SharedInformerFactory] = []

    def start(options: ControllerManagerOptions, *classes):
        factory = SharedInformerFactory(client)
        ctx = ControllerContext(client, factory, options)
        controllers = [cls(ctx) for cls in classes]
        factory.start()
        factories.append(factory)
        tasks.extend(asyncio.create_task(c.run(2)) for c in controllers)
        return controllers

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for factory in factories:
        await factory.stop()


async def test_nodes_get_pod_cidrs_in_order_and_freed_ones_are_reused(client, run_controllers):
    for name in ("ipam-a", "ipam-b"):
        await client.create(NODES, node_manifest(name))
    run_controllers(ControllerManagerOptions(allocate_node_cidrs=True, cluster_cidr="10.244.0.0/22"),
                    NodeIPAMController)

    async def cidr(name: str) -> str | None:
        return (await client.get(NODES, name)).get("spec", {}).get("podCIDR")

    assert {await wait_for(lambda: cidr("ipam-a"), 10), await wait_for(lambda: cidr("ipam-b"), 10)} == {
        "10.244.0.0/24", "10.244.1.0/24"}
    node_b = await client.get(NODES, "ipam-b")
    assert node_b["spec"]["podCIDRs"] == [node_b["spec"]["podCIDR"]]

    for name in ("ipam-c", "ipam-d"):
        await client.create(NODES, node_manifest(name))
    assert await wait_for(lambda: cidr("ipam-c"), 10) == "10.244.2.0/24"
    assert await wait_for(lambda: cidr("ipam-d"), 10) == "10.244.3.0/24"

    await client.create(NODES, node_manifest("ipam-e"))  # the /22 holds four /24s

    async def exhausted() -> bool:
        events = await client.list(EVENTS, "default", field_selector="involvedObject.name=ipam-e")
        return any(e["reason"] == "CIDRNotAvailable" and e["message"] == "Node ipam-e status is now: CIDRNotAvailable"
                   for e in events["items"])

    await wait_for(exhausted, 10)
    freed = await cidr("ipam-c")
    await client.delete(NODES, "ipam-c")
    assert await wait_for(lambda: cidr("ipam-e"), 10) == freed


async def test_restarted_allocator_never_hands_out_a_cidr_twice(client, run_controllers):
    await client.create(NODES, {**node_manifest("held"), "spec": {"podCIDR": "10.250.0.0/24",
                                                                  "podCIDRs": ["10.250.0.0/24"]}})
    await client.create(NODES, node_manifest("fresh"))
    run_controllers(ControllerManagerOptions(allocate_node_cidrs=True, cluster_cidr="10.250.0.0/16"),
                    NodeIPAMController)

    async def cidr() -> str | None:
        return (await client.get(NODES, "fresh")).get("spec", {}).get("podCIDR")

    assert await wait_for(cidr, 10) == "10.250.1.0/24"


async def renew_lease(client: Client, name: str) -> None:
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": name, "namespace": "kube-node-lease"},
             "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": micro_now()}}
    try:
        current = await client.get(LEASES, name, "kube-node-lease")
    except Exception:
        await client.create(LEASES, lease)
        return
    current["spec"]["renewTime"] = micro_now()
    await client.update(LEASES, current)


def taint_keys(node: dict) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in node.get("spec", {}).get("taints") or []}


async def test_silent_node_goes_unknown_is_tainted_and_its_pods_are_evicted(client, run_controllers):
    await client.create(NODES, node_manifest("quiet"))
    await renew_lease(client, "quiet")
    await client.create(PODS, pod_manifest("short", "quiet", 1))
    await client.create(PODS, pod_manifest("default-tolerations", "quiet", None))
    for name in ("short", "default-tolerations"):
        await client.patch(PODS, name, {"status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True"}]}}, "default", subresource="status")
    options = ControllerManagerOptions(node_monitor_grace_period=timedelta(seconds=3),
                                       node_monitor_period=timedelta(seconds=0.5))
    run_controllers(options, NodeLifecycleController)

    loop = asyncio.get_running_loop()
    alive_until = loop.time() + 4  # longer than the grace period: the Lease alone keeps it alive
    while loop.time() < alive_until:
        await renew_lease(client, "quiet")
        node = await client.get(NODES, "quiet")
        assert node["status"]["conditions"][0]["status"] == "True"
        await asyncio.sleep(0.5)

    silent_since = loop.time()

    async def unknown() -> dict | None:
        node = await client.get(NODES, "quiet")
        return node if node["status"]["conditions"][0]["status"] == "Unknown" else None

    node = await wait_for(unknown, 6)
    assert loop.time() - silent_since < 5
    ready = node["status"]["conditions"][0]
    assert (ready["reason"], ready["message"]) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]} == {
        "Ready": "Unknown", "MemoryPressure": "Unknown", "DiskPressure": "Unknown", "PIDPressure": "Unknown"}

    async def tainted() -> dict | None:
        node = await client.get(NODES, "quiet")
        return node if {("node.kubernetes.io/unreachable", "NoSchedule"),
                        ("node.kubernetes.io/unreachable", "NoExecute")} <= taint_keys(node) else None

    node = await wait_for(tainted, 5)
    no_execute = next(t for t in node["spec"]["taints"] if t["effect"] == "NoExecute")
    assert no_execute.get("timeAdded")

    async def pod_ready(name: str) -> str:
        pod = await client.get(PODS, name, "default")
        return next(c["status"] for c in pod["status"]["conditions"] if c["type"] == "Ready")

    await wait_for(lambda: _eq(pod_ready("default-tolerations"), "False"), 5)

    async def evicted() -> dict | None:
        pod = await client.get(PODS, "short", "default")
        return pod if pod["metadata"].get("deletionTimestamp") else None

    pod = await wait_for(evicted, 6)
    assert any(c["type"] == "DisruptionTarget" and c["reason"] == "DeletionByTaintManager"
               for c in pod["status"]["conditions"])
    survivor = await client.get(PODS, "default-tolerations", "default")
    assert not survivor["metadata"].get("deletionTimestamp")  # 300 s from admission are far from over

    events = await client.list(EVENTS, "default")
    reasons = {(e["involvedObject"]["name"], e["reason"], e["message"]) for e in events["items"]}
    assert ("short", "TaintManagerEviction", "Marking for deletion Pod default/short") in reasons
    assert ("default-tolerations", "NodeNotReady", "Node is not ready") in reasons
    assert ("quiet", "NodeNotReady", "Node quiet status is now: NodeNotReady") in reasons

    # The kubelet comes back: a fresh Ready heartbeat lifts the taints.
    node = await client.get(NODES, "quiet")
    node["status"]["conditions"] = node_manifest("quiet")["status"]["conditions"]
    await client.update(NODES, node, "status")

    async def untainted() -> bool:
        return not taint_keys(await client.get(NODES, "quiet"))

    await wait_for(untainted, 5)


async def _eq(value, expected) -> bool:
    return (await value) == expected
