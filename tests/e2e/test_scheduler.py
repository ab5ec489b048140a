"""The scheduler against a real API server: bindings, events, Unschedulable condition, retries, preemption,
leader election. Nodes are plain Node objects (Ready, with allocatable); the test plays the kubelet where a
pod must finish terminating."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, AsyncIterator

import pytest

from kinn.api.errors import StatusError
from kinn.client.informer import SharedInformerFactory
from kinn.client.rest import Client, resource, wait_for
from kinn.scheduler.scheduler import Scheduler
from kinn.scheduler.server import run_scheduler

NODES = resource("v1", "nodes")
PODS = resource("v1", "pods")
EVENTS = resource("v1", "events")
NAMESPACES = resource("v1", "namespaces")
PRIORITY_CLASSES = resource("scheduling.k8s.io/v1", "priorityclasses")
LEASES = resource("coordination.k8s.io/v1", "leases")
_names = itertools.count()


def node_object(name: str, cpu: str = "2", memory: str = "4Gi", pods: int = 110, taints: list | None = None) -> dict:
    allocatable = {"cpu": cpu, "memory": memory, "pods": str(pods), "ephemeral-storage": "20Gi"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {"taints": taints or []},
            "status": {"allocatable": allocatable, "capacity": allocatable,
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}


def pod_object(name: str, cpu: str = "100m", priority_class: str = "", node_name: str = "") -> dict:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "pause",
                                            "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]}
    if priority_class:
        spec["priorityClassName"] = priority_class
    if node_name:
        spec["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


class Cluster:
    def __init__(self, client: Client, namespace: str) -> None:
        self.client, self.namespace = client, namespace
        self.nodes: list[str] = []

    async def add_node(self, name: str, **kwargs: Any) -> None:
        await self.client.create(NODES, node_object(name, **kwargs))
        self.nodes.append(name)

    async def create_pod(self, name: str, **kwargs: Any) -> dict:
        return await self.client.create(PODS, pod_object(name, **kwargs), self.namespace)

    async def pod(self, name: str) -> dict:
        return await self.client.get(PODS, name, self.namespace)

    async def bound_node(self, name: str) -> str:
        return (await self.pod(name))["spec"].get("nodeName", "")

    async def events(self, name: str, reason: str) -> list[dict]:
        listing = await self.client.list(EVENTS, self.namespace, field_selector=f"involvedObject.name={name}")
        return [e for e in listing["items"] if e["reason"] == reason]

    async def cleanup(self) -> None:
        for name in self.nodes:
            await self.client.delete(NODES, name)


@pytest.fixture
async def cluster(apiserver) -> AsyncIterator[Cluster]:
    async with Client.from_kubeconfig(str(apiserver.kubeconfig)) as client:
        namespace = f"sched-{next(_names)}"
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        c = Cluster(client, namespace)
        yield c
        await c.cleanup()


@pytest.fixture
async def scheduler(cluster: Cluster) -> AsyncIterator[Scheduler]:
    factory = SharedInformerFactory(cluster.client)
    sched = Scheduler(cluster.client, factory)
    factory.start()
    task = asyncio.create_task(sched.run())
    yield sched
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await factory.stop()


async def test_pods_are_bound_with_scheduled_events(cluster: Cluster, scheduler: Scheduler) -> None:
    await cluster.add_node("bind-a")
    await cluster.add_node("bind-b")
    for i in range(4):
        await cluster.create_pod(f"web-{i}")

    async def all_bound() -> list[str] | None:
        nodes = [await cluster.bound_node(f"web-{i}") for i in range(4)]
        return nodes if all(nodes) else None

    placed = await wait_for(all_bound, 10)
    assert sorted(placed) == ["bind-a", "bind-a", "bind-b", "bind-b"]  # equal nodes share the pods
    pod = await cluster.pod("web-0")
    assert any(c["type"] == "PodScheduled" and c["status"] == "True" for c in pod["status"]["conditions"])
    # Upstream's BindingREST writes the pod without the field manager: nobody owns spec.nodeName.
    assert all(entry.get("subresource") != "binding" for entry in pod["metadata"].get("managedFields", []))
    events = await wait_for(lambda: cluster.events("web-0", "Scheduled"), 5)
    assert events[0]["message"] == f"Successfully assigned {cluster.namespace}/web-0 to {placed[0]}"
    assert events[0]["source"]["component"] == "default-scheduler"


async def test_unschedulable_pod_reports_why_and_is_retried_when_a_node_arrives(
        cluster: Cluster, scheduler: Scheduler) -> None:
    await cluster.add_node("small-cp", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    await cluster.add_node("small-1", cpu="1")
    await cluster.create_pod("big", cpu="1500m")
    expected = ("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint "
                "{node-role.kubernetes.io/control-plane: }. preemption: 0/2 nodes are available: "
                "2 Preemption is not helpful for scheduling.")

    async def condition() -> dict | None:
        # The pod may reach the scheduler before its node informer has both nodes (separate watches
        # are not ordered): a first "no nodes available" attempt is retried, so wait for the verdict.
        conditions = (await cluster.pod("big"))["status"].get("conditions") or []
        return next((c for c in conditions if c["type"] == "PodScheduled" and c["status"] == "False"
                     and c.get("reason") == "Unschedulable"), None)

    scheduled = await wait_for(condition, 10)
    assert (scheduled["reason"], scheduled["message"]) == ("Unschedulable", expected)
    failed = await wait_for(lambda: cluster.events("big", "FailedScheduling"), 5)
    assert (failed[0]["type"], failed[0]["message"]) == ("Warning", expected)

    await cluster.add_node("large", cpu="4")
    assert await wait_for(lambda: cluster.bound_node("big"), 10) == "large"


async def play_kubelet(cluster: Cluster, name: str) -> None:
    """Confirm a graceful deletion as the kubelet would once the containers stopped."""
    async def terminating() -> bool:
        try:
            return bool((await cluster.pod(name))["metadata"].get("deletionTimestamp"))
        except StatusError as e:
            return e.code == 404
    await wait_for(terminating, 10)
    try:
        await cluster.client.delete(PODS, name, cluster.namespace, grace_period_seconds=0)
    except StatusError as e:
        assert e.code == 404


async def test_preemption_evicts_lower_priority_pods(cluster: Cluster, scheduler: Scheduler) -> None:
    for name, value in (("e2e-low", 10), ("e2e-high", 1000)):
        try:
            await cluster.client.create(PRIORITY_CLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                                           "metadata": {"name": name}, "value": value})
        except StatusError as e:
            assert e.reason == "AlreadyExists"
    await cluster.add_node("preempt-1", cpu="1")
    await cluster.create_pod("victim", cpu="800m", priority_class="e2e-low")
    assert await wait_for(lambda: cluster.bound_node("victim"), 10) == "preempt-1"

    await cluster.create_pod("never", cpu="500m", priority_class="e2e-high")
    await play_kubelet(cluster, "victim")
    assert await wait_for(lambda: cluster.bound_node("never"), 15) == "preempt-1"
    victim_events = await cluster.client.list(EVENTS, cluster.namespace, field_selector="involvedObject.name=victim")
    preempted = [e for e in victim_events["items"] if e["reason"] == "Preempted"]
    assert preempted and preempted[0]["message"].endswith("on node preempt-1")


async def test_preemption_policy_never_waits(cluster: Cluster, scheduler: Scheduler) -> None:
    try:
        await cluster.client.create(PRIORITY_CLASSES, {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "e2e-polite"},
            "value": 2000, "preemptionPolicy": "Never"})
    except StatusError as e:
        assert e.reason == "AlreadyExists"
    await cluster.add_node("polite-1", cpu="1")
    await cluster.create_pod("occupant", cpu="800m")
    assert await wait_for(lambda: cluster.bound_node("occupant"), 10) == "polite-1"
    await cluster.create_pod("polite", cpu="500m", priority_class="e2e-polite")

    async def message() -> str:
        conditions = (await cluster.pod("polite"))["status"].get("conditions") or []
        return next((c["message"] for c in conditions if c["type"] == "PodScheduled"), "")

    assert await wait_for(message, 10) == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.")
    assert not (await cluster.pod("occupant"))["metadata"].get("deletionTimestamp")


async def test_only_the_leader_binds(cluster: Cluster, apiserver) -> None:
    await cluster.add_node("ha-1")
    clients = [Client.from_kubeconfig(str(apiserver.kubeconfig)) for _ in range(2)]
    bindings = [0, 0]

    def counting(index: int, create: Any) -> Any:
        async def create_and_count(r, obj, namespace="", subresource="", name=""):
            if subresource == "binding":
                bindings[index] += 1
            return await create(r, obj, namespace, subresource, name)
        return create_and_count

    for i, client in enumerate(clients):
        client.create = counting(i, client.create)  # type: ignore[method-assign]
    tasks = [asyncio.create_task(run_scheduler(c, identity=f"scheduler-{i}")) for i, c in enumerate(clients)]
    try:
        for i in range(6):
            await cluster.create_pod(f"ha-{i}")

        async def all_bound() -> bool:
            return all([await cluster.bound_node(f"ha-{i}") for i in range(6)])

        await wait_for(all_bound, 20)
        lease = await cluster.client.get(LEASES, "kube-scheduler", "kube-system")
        leader = int(lease["spec"]["holderIdentity"].rsplit("-", 1)[1])
        assert bindings[leader] >= 6 and bindings[1 - leader] == 0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.close()
