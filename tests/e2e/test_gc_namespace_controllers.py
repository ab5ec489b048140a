"""Garbage collector, namespace and service account controllers against a real API server."""

from __future__ import annotations

import asyncio

from controller_harness import running
from workload_harness import make_namespace
from kinn.api.errors import StatusError
from kinn.client.rest import Client, resource, wait_for
from kinn.controllers.garbagecollector import GarbageCollector
from kinn.controllers.namespace import NamespaceController
from kinn.controllers.serviceaccount import ServiceAccountsController

NAMESPACES = resource("v1", "namespaces")
CONFIGMAPS = resource("v1", "configmaps")
PODS = resource("v1", "pods")
SERVICE_ACCOUNTS = resource("v1", "serviceaccounts")
REPLICASETS = resource("apps/v1", "replicasets")
DEPLOYMENTS = resource("apps/v1", "deployments")


async def get(client: Client, r, name: str, ns: str = "") -> dict | None:
    try:
        return await client.get(r, name, ns)
    except StatusError as e:
        if e.code == 404:
            return None
        raise


def owned_by(owner: dict, block: bool = True) -> list[dict]:
    return [{"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
             "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": block}]


def replicaset(name: str, ns: str) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}


async def owner_with_dependents(client: Client, ns: str, name: str, count: int = 2) -> tuple[dict, list[str]]:
    owner = await client.create(REPLICASETS, replicaset(name, ns), ns)
    owner.setdefault("apiVersion", "apps/v1")
    owner.setdefault("kind", "ReplicaSet")
    names = [f"{name}-dep-{i}" for i in range(count)]
    for dep in names:
        await client.create(CONFIGMAPS, {"metadata": {"name": dep, "namespace": ns,
                                                      "ownerReferences": owned_by(owner)}}, ns)
    return owner, names


async def all_gone(client: Client, ns: str, names: list[str]) -> bool:
    return all([await get(client, CONFIGMAPS, n, ns) is None for n in names])


async def test_background_deletion_removes_dependents_after_the_owner(client):
    await make_namespace(client, "gc-bg")
    async with running(client, GarbageCollector):
        owner, deps = await owner_with_dependents(client, "gc-bg", "bg")
        await client.delete(REPLICASETS, "bg", "gc-bg", propagation_policy="Background")
        assert await get(client, REPLICASETS, "bg", "gc-bg") is None
        await wait_for(lambda: all_gone(client, "gc-bg", deps), 10)


async def test_dangling_reference_is_verified_then_collected(client):
    """A dependent created naming an owner uid that never existed goes; one naming a live owner stays."""
    await make_namespace(client, "gc-dangling")
    async with running(client, GarbageCollector):
        live = await client.create(REPLICASETS, replicaset("live", "gc-dangling"), "gc-dangling")
        ghost = {**live, "apiVersion": "apps/v1", "kind": "ReplicaSet",
                 "metadata": {**live["metadata"], "name": "ghost", "uid": "00000000-0000-0000-0000-000000000000"}}
        await client.create(CONFIGMAPS, {"metadata": {"name": "orphaned", "namespace": "gc-dangling",
                                                      "ownerReferences": owned_by(ghost)}}, "gc-dangling")
        await client.create(CONFIGMAPS, {"metadata": {"name": "kept", "namespace": "gc-dangling", "ownerReferences":
                                                      owned_by({**live, "apiVersion": "apps/v1", "kind": "ReplicaSet"})}},
                            "gc-dangling")
        await wait_for(lambda: all_gone(client, "gc-dangling", ["orphaned"]), 10)
        assert await get(client, CONFIGMAPS, "kept", "gc-dangling") is not None


async def test_foreground_deletion_removes_dependents_first(client):
    await make_namespace(client, "gc-fg")
    # Dependents held by a finalizer let us watch the owner wait for them.
    owner, deps = await owner_with_dependents(client, "gc-fg", "fg")
    for dep in deps:
        await client.patch(CONFIGMAPS, dep, {"metadata": {"finalizers": ["test/hold"]}}, "gc-fg")
    async with running(client, GarbageCollector):
        await client.delete(REPLICASETS, "fg", "gc-fg", propagation_policy="Foreground")

        async def dependents_marked() -> bool:
            found = [await get(client, CONFIGMAPS, d, "gc-fg") for d in deps]
            return all(cm and cm["metadata"].get("deletionTimestamp") for cm in found)

        await wait_for(dependents_marked, 10)
        waiting = await get(client, REPLICASETS, "fg", "gc-fg")
        assert waiting["metadata"]["deletionTimestamp"] and waiting["metadata"]["finalizers"] == ["foregroundDeletion"]
        for dep in deps:
            await client.patch(CONFIGMAPS, dep, {"metadata": {"finalizers": None}}, "gc-fg")
        await wait_for(lambda: all_gone(client, "gc-fg", deps), 10)
        await wait_for(lambda: _is_none(get(client, REPLICASETS, "fg", "gc-fg")), 10)


async def test_foreground_deletion_cascades_through_a_chain(client):
    """Deployment → ReplicaSet → pods: the middle link is deleted in foreground too."""
    ns = "gc-chain"
    await make_namespace(client, ns)
    labels = {"app": "chain"}
    deployment = await client.create(DEPLOYMENTS, {"metadata": {"name": "chain", "namespace": ns}, "spec": {
        "replicas": 0, "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}, ns)
    deployment.update(apiVersion="apps/v1", kind="Deployment")
    rs = await client.create(REPLICASETS, {**replicaset("chain-1", ns), "metadata": {
        "name": "chain-1", "namespace": ns, "ownerReferences": owned_by(deployment)}}, ns)
    rs.update(apiVersion="apps/v1", kind="ReplicaSet")
    await client.create(PODS, {"metadata": {"name": "chain-pod", "namespace": ns, "labels": labels,
                                            "finalizers": ["test/hold"], "ownerReferences": owned_by(rs)},
                               "spec": {"containers": [{"name": "c", "image": "i"}]}}, ns)
    async with running(client, GarbageCollector):
        await client.delete(DEPLOYMENTS, "chain", ns, propagation_policy="Foreground")

        async def pod_marked() -> bool:
            pod = await get(client, PODS, "chain-pod", ns)
            return bool(pod and pod["metadata"].get("deletionTimestamp"))

        await wait_for(pod_marked, 10)
        middle = await get(client, REPLICASETS, "chain-1", ns)
        assert middle["metadata"]["finalizers"] == ["foregroundDeletion"]
        assert (await get(client, DEPLOYMENTS, "chain", ns))["metadata"]["deletionTimestamp"]
        await client.patch(PODS, "chain-pod", {"metadata": {"finalizers": None}}, ns)
        await wait_for(lambda: _is_none(get(client, DEPLOYMENTS, "chain", ns)), 10)
        assert await get(client, REPLICASETS, "chain-1", ns) is None


async def test_orphan_deletion_clears_owner_references(client):
    await make_namespace(client, "gc-orphan")
    async with running(client, GarbageCollector):
        owner, deps = await owner_with_dependents(client, "gc-orphan", "or")
        await client.delete(REPLICASETS, "or", "gc-orphan", propagation_policy="Orphan")
        await wait_for(lambda: _is_none(get(client, REPLICASETS, "or", "gc-orphan")), 10)
        for dep in deps:
            cm = await get(client, CONFIGMAPS, dep, "gc-orphan")
            assert cm is not None and not cm["metadata"].get("ownerReferences")


async def _is_none(awaitable) -> bool:
    return await awaitable is None


async def test_default_service_account_in_every_active_namespace(client):
    async with running(client, ServiceAccountsController):
        await make_namespace(client, "sa-new")
        await wait_for(lambda: get(client, SERVICE_ACCOUNTS, "default", "sa-new"), 10)
        await client.delete(SERVICE_ACCOUNTS, "default", "sa-new")
        recreated = await wait_for(lambda: get(client, SERVICE_ACCOUNTS, "default", "sa-new"), 10)
        assert recreated["metadata"]["name"] == "default"
        assert await wait_for(lambda: get(client, SERVICE_ACCOUNTS, "default", "default"), 10)


async def test_kubectl_delete_namespace_removes_everything_then_the_namespace(client, apiserver):
    ns = "doomed"
    await make_namespace(client, ns)
    apiserver.kubectl("create", "configmap", "cfg", "-n", ns, "--from-literal=a=b")
    apiserver.kubectl("create", "deployment", "web", "-n", ns, "--image=nginx", "--replicas=0")
    apiserver.kubectl("create", "service", "clusterip", "web", "-n", ns, "--tcp=80:8080")
    await client.create(PODS, {"metadata": {"name": "pending", "namespace": ns},
                               "spec": {"containers": [{"name": "c", "image": "i"}]}}, ns)
    await client.create(CONFIGMAPS, {"metadata": {"name": "held", "namespace": ns,
                                                  "finalizers": ["example.com/hold"]}}, ns)
    async with running(client, NamespaceController, GarbageCollector):
        deleting = apiserver.kubectl_stream("delete", "namespace", ns, "--timeout=25s")
        with deleting:
            async def conditions() -> dict | None:
                found = await get(client, NAMESPACES, ns)
                by_type = {c["type"]: c for c in (found or {}).get("status", {}).get("conditions") or []}
                return by_type if "NamespaceFinalizersRemaining" in by_type else None

            by_type = await wait_for(conditions, 15)
            assert by_type["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
            assert by_type["NamespaceContentRemaining"]["message"] == \
                "Some resources are remaining: configmaps. has 1 resource instances"
            assert by_type["NamespaceFinalizersRemaining"]["message"] == \
                "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
            assert by_type["NamespaceDeletionDiscoveryFailure"]["status"] == "False"
            assert (await get(client, NAMESPACES, ns))["status"]["phase"] == "Terminating"
            for r, name in ((CONFIGMAPS, "cfg"), (DEPLOYMENTS, "web"), (PODS, "pending")):
                assert await get(client, r, name, ns) is None
            await client.patch(CONFIGMAPS, "held", {"metadata": {"finalizers": None}}, ns)
            code, err = await asyncio.to_thread(deleting.wait, 30)
            assert code == 0, err
        assert await get(client, NAMESPACES, ns) is None
