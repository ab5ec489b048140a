"""StatefulSetController against a real API server: ordered creation, PVCs, reverse scale-down, rolling update."""

from __future__ import annotations

import pytest

from kinn.client.rest import Client, resource, wait_for
from kinn.controllers.statefulset import PVCS, StatefulSetController
from workload_harness import PODS, bind, make_namespace, ready_status, running, set_pod_status

STATEFULSETS = resource("apps/v1", "statefulsets")
NS = "sts-e2e"


@pytest.fixture
async def client(apiserver):
    async with Client.from_kubeconfig(str(apiserver.kubeconfig)) as c:
        await make_namespace(c, NS)
        yield c


def statefulset(name: str, replicas: int, **spec) -> dict:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": NS},
            "spec": {"replicas": replicas, "serviceName": "nginx", "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1",
                                                           "volumeMounts": [{"name": "www", "mountPath": "/w"}]}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                         "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}],
                     **spec}}


async def pod_names(client: Client, app: str, include_terminating: bool = False) -> list[str]:
    pods = (await client.list(PODS, NS, label_selector=f"app={app}"))["items"]
    return sorted(p["metadata"]["name"] for p in pods
                  if include_terminating or not p["metadata"].get("deletionTimestamp"))


async def make_ready(client: Client, name: str) -> dict:
    pod = await wait_for(lambda: _get_pod(client, name), 10)
    await bind(client, pod, "node-1")
    await set_pod_status(client, pod, ready_status())
    return pod


async def _get_pod(client: Client, name: str) -> dict | None:
    pods = (await client.list(PODS, NS, field_selector=f"metadata.name={name}"))["items"]
    return pods[0] if pods else None


async def confirm_deletion(client: Client, name: str) -> None:
    """The kubelet's part of graceful deletion: once the pod is terminating, remove it for good."""
    async def terminating() -> bool:
        pod = await _get_pod(client, name)
        return bool(pod and pod["metadata"].get("deletionTimestamp"))
    await wait_for(terminating, 10)
    await client.delete(PODS, name, NS, grace_period_seconds=0)


async def test_ordered_creation_with_claims_and_reverse_scale_down(client):
    async with running(client, StatefulSetController):
        await client.create(STATEFULSETS, statefulset("web", 3))
        for ordinal in range(3):
            pod = await make_ready(client, f"web-{ordinal}")
            # OrderedReady: the next ordinal does not exist before this one is Running and Ready.
            assert await pod_names(client, "web") == [f"web-{i}" for i in range(ordinal + 1)]
            labels = pod["metadata"]["labels"]
            assert labels["statefulset.kubernetes.io/pod-name"] == f"web-{ordinal}"
            assert labels["apps.kubernetes.io/pod-index"] == str(ordinal)
            assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == (f"web-{ordinal}", "nginx")
            assert {"name": "www", "persistentVolumeClaim": {"claimName": f"www-web-{ordinal}"}} in pod["spec"]["volumes"]
        claims = (await client.list(PVCS, NS))["items"]
        assert sorted(c["metadata"]["name"] for c in claims) == ["www-web-0", "www-web-1", "www-web-2"]
        assert claims[0]["metadata"]["labels"] == {"app": "web"}

        async def status_ready() -> dict | None:
            s = (await client.get(STATEFULSETS, "web", NS)).get("status", {})
            return s if s.get("readyReplicas") == 3 else None

        status = await wait_for(status_ready, 10)
        assert status["replicas"] == 3 and status["currentRevision"] == status["updateRevision"]
        assert status["updatedReplicas"] == 3 and status["currentRevision"].startswith("web-")

        # Scale down: the highest ordinal goes first, the next only once it is gone.
        await client.patch(STATEFULSETS, "web", {"spec": {"replicas": 1}}, NS)
        await confirm_deletion(client, "web-2")
        assert await pod_names(client, "web", include_terminating=True) == ["web-0", "web-1"]
        await confirm_deletion(client, "web-1")
        await wait_for(lambda: _only(client, ["web-0"]), 10)
        assert len((await client.list(PVCS, NS))["items"]) == 3  # whenScaled: Retain keeps the claims


async def _only(client: Client, names: list[str]) -> bool:
    return await pod_names(client, "web", include_terminating=True) == names


async def test_rolling_update_respects_partition_highest_first(client):
    async with running(client, StatefulSetController):
        await client.create(STATEFULSETS, statefulset("db", 3, podManagementPolicy="Parallel", updateStrategy={
            "type": "RollingUpdate", "rollingUpdate": {"partition": 1}}))
        await wait_for(lambda: _names_are(client, "db", ["db-0", "db-1", "db-2"]), 10)  # Parallel: all at once
        for i in range(3):
            await make_ready(client, f"db-{i}")
        await client.patch(STATEFULSETS, "db", {"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:2", "volumeMounts": [{"name": "www", "mountPath": "/w"}]}]}}}}, NS)
        for ordinal in (2, 1):
            await confirm_deletion(client, f"db-{ordinal}")
            pod = await wait_for(lambda: _fresh(client, f"db-{ordinal}"), 10)
            assert pod["spec"]["containers"][0]["image"] == "nginx:2"
            await bind(client, pod, "node-1")
            await set_pod_status(client, pod, ready_status())
        status = await wait_for(lambda: _status_with(client, "db", "updatedReplicas", 2), 10)
        assert status["currentReplicas"] == 1 and status["currentRevision"] != status["updateRevision"]
        db0 = await _get_pod(client, "db-0")
        assert db0["spec"]["containers"][0]["image"] == "nginx:1"  # below the partition


async def _names_are(client: Client, app: str, names: list[str]) -> bool:
    return await pod_names(client, app) == names


async def _fresh(client: Client, name: str) -> dict | None:
    pod = await _get_pod(client, name)
    return pod if pod and not pod["metadata"].get("deletionTimestamp") and not pod.get("status", {}).get(
        "conditions") else None


async def _status_with(client: Client, name: str, field: str, value: int) -> dict | None:
    status = (await client.get(STATEFULSETS, name, NS)).get("status", {})
    return status if status.get(field) == value else None
