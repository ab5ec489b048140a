"""DaemonSetsController against a real API server: a pod per eligible node, status, rolling update."""

from __future__ import annotations

import pytest

from kinn.client.rest import Client, resource, wait_for
from kinn.controllers.daemonset import DaemonSetsController
from kinn.controllers.history import CONTROLLER_REVISIONS, REVISION_HASH_LABEL
from workload_harness import PODS, make_namespace, make_node, running

DAEMONSETS = resource("apps/v1", "daemonsets")
NS = "ds-e2e"


@pytest.fixture
async def client(apiserver):
    async with Client.from_kubeconfig(str(apiserver.kubeconfig)) as c:
        await make_namespace(c, NS)
        yield c


def daemonset(name: str, image: str = "agent:1") -> dict:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": NS},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "agent", "image": image}]}}}}


async def pods_of(client: Client, app: str) -> list[dict]:
    return (await client.list(PODS, NS, label_selector=f"app={app}"))["items"]


def pinned_node(pod: dict) -> str:
    term = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    return term["nodeSelectorTerms"][0]["matchFields"][0]["values"][0]


async def test_one_pod_per_eligible_node_and_rolling_update(client):
    await make_node(client, "ds-a")
    await make_node(client, "ds-b")
    await make_node(client, "ds-tainted", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    async with running(client, DaemonSetsController, kubelet_namespace=NS):
        await client.create(DAEMONSETS, daemonset("agent"))

        async def available() -> dict | None:
            ds = await client.get(DAEMONSETS, "agent", NS)
            status = ds.get("status", {})
            return ds if status.get("numberAvailable") == 2 and status.get("updatedNumberScheduled") == 2 else None

        ds = await wait_for(available, 15)
        assert {k: ds["status"][k] for k in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                                              "numberMisscheduled", "observedGeneration")} == {
            "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 2,
            "numberMisscheduled": 0, "observedGeneration": 1}
        pods = await pods_of(client, "agent")
        assert sorted(pinned_node(p) for p in pods) == ["ds-a", "ds-b"]
        assert sorted(p["spec"]["nodeName"] for p in pods) == ["ds-a", "ds-b"]  # bound by the "scheduler"
        tolerations = pods[0]["spec"]["tolerations"]
        assert {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"} in tolerations
        assert pods[0]["metadata"]["generateName"] == "agent-"
        first_hash = pods[0]["metadata"]["labels"][REVISION_HASH_LABEL]

        # A new template replaces the pods one node at a time (maxUnavailable 1).
        await client.patch(DAEMONSETS, "agent", {"spec": {"template": {"spec": {"containers": [
            {"name": "agent", "image": "agent:2"}]}}}}, NS)
        seen_unavailable: list[int] = []

        async def rolled() -> bool:
            pods = [p for p in await pods_of(client, "agent") if not p["metadata"].get("deletionTimestamp")]
            ready_old = [p for p in pods if p["metadata"]["labels"][REVISION_HASH_LABEL] == first_hash]
            ready = [p for p in pods if p.get("status", {}).get("phase") == "Running"]
            seen_unavailable.append(2 - len(ready))
            return len(pods) == 2 and not ready_old and all(p["spec"]["containers"][0]["image"] == "agent:2"
                                                           for p in pods)

        await wait_for(rolled, 20)
        assert max(seen_unavailable) <= 1
        ds = await wait_for(available, 15)
        assert ds["status"]["observedGeneration"] == 2
        revisions = (await client.list(CONTROLLER_REVISIONS, NS))["items"]
        assert sorted(r["revision"] for r in revisions) == [1, 2]


async def test_node_selector_and_relabelled_nodes(client):
    await make_node(client, "sel-a", labels={"role": "edge"})
    await make_node(client, "sel-b", labels={"role": "core"})
    ds = daemonset("edge")
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"role": "edge"}
    async with running(client, DaemonSetsController, kubelet_namespace=NS):
        await client.create(DAEMONSETS, ds)

        async def on(nodes: list[str]) -> bool:
            live = [p for p in await pods_of(client, "edge") if not p["metadata"].get("deletionTimestamp")]
            return sorted(pinned_node(p) for p in live) == nodes

        await wait_for(lambda: on(["sel-a"]), 10)
        # Relabelling moves the daemon: the new edge node gets one, the old one loses its pod.
        await client.patch(resource("v1", "nodes"), "sel-b", {"metadata": {"labels": {"role": "edge"}}})
        await wait_for(lambda: on(["sel-a", "sel-b"]), 10)
        await client.patch(resource("v1", "nodes"), "sel-a", {"metadata": {"labels": {"role": "core"}}})
        await wait_for(lambda: on(["sel-b"]), 10)
