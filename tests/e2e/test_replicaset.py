"""ReplicaSets and ReplicationControllers end to end: pods from the template, adoption and release by
labels, replacement, scale down, status, and the events kubectl describe shows."""

from __future__ import annotations

import asyncio

import yaml
from workload_harness import running

from kinn.client.rest import Client, resource, wait_for
from kinn.controllers.replicaset import ReplicaSetController
from kinn.controllers.replication import ReplicationManager

PODS = resource("v1", "pods")
RS = resource("apps/v1", "replicasets")
RC = resource("v1", "replicationcontrollers")
EVENTS = resource("v1", "events")

TEMPLATE = {"metadata": {"labels": {"app": "cache", "tier": "backend"}},
            "spec": {"containers": [{"name": "redis", "image": "redis:7"}]}}


async def kubectl(apiserver, *args: str, input: str | None = None) -> str:
    return (await asyncio.to_thread(apiserver.kubectl, *args, input=input)).stdout


async def live_pods(client: Client, ns: str) -> list[dict]:
    return [p for p in (await client.list(PODS, ns))["items"] if not p["metadata"].get("deletionTimestamp")]


def owner_uid(pod: dict) -> str | None:
    refs = [r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")]
    return refs[0]["uid"] if refs else None


async def messages(client: Client, ns: str, name: str, reason: str) -> list[str]:
    return [e["message"] for e in (await client.list(EVENTS, ns))["items"]
            if e["involvedObject"]["name"] == name and e["reason"] == reason]


async def test_replicaset_creates_adopts_releases_and_scales(apiserver, client):
    ns = "rs-e2e"
    async with running(client, ReplicaSetController, kubelet_namespace=ns):
        await kubectl(apiserver, "create", "namespace", ns)
        manifest = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "cache", "namespace": ns},
                    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "cache"}}, "template": TEMPLATE}}
        await kubectl(apiserver, "create", "-f", "-", input=yaml.safe_dump(manifest))

        async def status_is(want: dict) -> bool:
            rs = await client.get(RS, "cache", ns)
            return all(rs.get("status", {}).get(k) == v for k, v in want.items())

        await wait_for(lambda: status_is({"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3,
                                          "availableReplicas": 3, "observedGeneration": 1}), 10)
        rs = await client.get(RS, "cache", ns)
        uid = rs["metadata"]["uid"]
        pods = await live_pods(client, ns)
        assert {owner_uid(p) for p in pods} == {uid}
        assert all(p["metadata"]["generateName"] == "cache-" for p in pods)
        assert sorted(await messages(client, ns, "cache", "SuccessfulCreate")) == sorted(
            f"Created pod: {p['metadata']['name']}" for p in pods)

        # An orphan that matches is adopted; the set then has one too many and deletes the least settled pod.
        orphan = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "labels": {"app": "cache"}},
                  "spec": {"containers": [{"name": "redis", "image": "redis:7"}]}}
        await client.create(PODS, orphan, ns)

        async def adopted_and_trimmed() -> bool:
            pods = await live_pods(client, ns)
            return len(pods) == 3 and {owner_uid(p) for p in pods} == {uid} and bool(
                await messages(client, ns, "cache", "SuccessfulDelete"))

        await wait_for(adopted_and_trimmed, 10)
        # The stray lacks the template's `tier` label: fully labelled only if it was the one deleted.
        stray_kept = any(p["metadata"]["name"] == "stray" for p in await live_pods(client, ns))
        await wait_for(lambda: status_is({"replicas": 3, "fullyLabeledReplicas": 2 if stray_kept else 3}), 10)

        # A pod relabelled out of the selector is released (ownerReference removed) and replaced.
        victim = (await live_pods(client, ns))[0]["metadata"]["name"]
        await kubectl(apiserver, "label", "pod", victim, "app=retired", "--overwrite", "-n", ns)

        async def released_and_replaced() -> bool:
            pods = {p["metadata"]["name"]: p for p in await live_pods(client, ns)}
            owned = [p for p in pods.values() if owner_uid(p) == uid]
            return victim in pods and owner_uid(pods[victim]) is None and len(owned) == 3

        await wait_for(released_and_replaced, 10)

        await kubectl(apiserver, "scale", "rs", "cache", "--replicas=1", "-n", ns)

        async def scaled_down() -> bool:
            return len([p for p in await live_pods(client, ns) if owner_uid(p) == uid]) == 1

        await wait_for(scaled_down, 10)
        await wait_for(lambda: status_is({"replicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                                          "observedGeneration": 2}), 10)
        deleted = await messages(client, ns, "cache", "SuccessfulDelete")
        assert all(m.startswith("Deleted pod: cache-") or m == "Deleted pod: stray" for m in deleted)
        assert len(deleted) >= 3

        [survivor] = [p for p in await live_pods(client, ns) if owner_uid(p) == uid]
        await kubectl(apiserver, "delete", "pod", survivor["metadata"]["name"], "-n", ns, "--wait=false")

        async def replaced() -> bool:
            owned = [p for p in await live_pods(client, ns) if owner_uid(p) == uid]
            return len(owned) == 1 and owned[0]["metadata"]["name"] != survivor["metadata"]["name"]

        await wait_for(replaced, 10)


async def test_replication_controller_keeps_its_map_selector_count(apiserver, client):
    ns = "rc-e2e"
    async with running(client, ReplicationManager, kubelet_namespace=ns):
        await kubectl(apiserver, "create", "namespace", ns)
        manifest = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "cache", "namespace": ns},
                    "spec": {"replicas": 2, "selector": {"app": "cache"}, "template": TEMPLATE}}
        await kubectl(apiserver, "create", "-f", "-", input=yaml.safe_dump(manifest))

        async def ready(count: int) -> bool:
            rc = await client.get(RC, "cache", ns)
            return rc.get("status", {}).get("readyReplicas") == count and rc["status"].get("replicas") == count

        await wait_for(lambda: ready(2), 10)
        pods = await live_pods(client, ns)
        assert [r["kind"] for p in pods for r in p["metadata"]["ownerReferences"]] == ["ReplicationController"] * 2
        await kubectl(apiserver, "scale", "rc", "cache", "--replicas=3", "-n", ns)
        await wait_for(lambda: ready(3), 10)
        out = await kubectl(apiserver, "get", "rc", "cache", "-n", ns)
        assert out.split("\n")[1].split()[:4] == ["cache", "3", "3", "3"]
