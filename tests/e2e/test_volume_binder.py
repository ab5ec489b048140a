"""The PersistentVolume binder against a real API server."""

from __future__ import annotations

import asyncio

import pytest

from kinn.api.errors import StatusError
from kinn.client.informer import SharedInformerFactory
from kinn.client.rest import Client, resource, wait_for
from kinn.controllers.base import ControllerContext
from kinn.controllers.volume import PersistentVolumeBinderController

VOLUMES = resource("v1", "persistentvolumes")
CLAIMS = resource("v1", "persistentvolumeclaims")
EVENTS = resource("v1", "events")


def volume(name: str, size: str, policy: str = "Retain", modes: tuple[str, ...] = ("ReadWriteOnce",),
           class_name: str = "manual") -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": class_name,
                     "persistentVolumeReclaimPolicy": policy, "hostPath": {"path": f"/tmp/{name}"}}}


def claim(name: str, size: str, class_name: str | None = "manual") -> dict:
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if class_name is not None:
        spec["storageClassName"] = class_name
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


@pytest.fixture
async def binder(client):
    factory = SharedInformerFactory(client)
    controller = PersistentVolumeBinderController(ControllerContext(client, factory))
    factory.start()
    task = asyncio.create_task(controller.run(2))
    yield controller
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await factory.stop()


async def phase_of(client: Client, r, name: str, namespace: str = "") -> str:
    try:
        return (await client.get(r, name, namespace)).get("status", {}).get("phase", "")
    except StatusError as e:
        if e.code == 404:
            return "<gone>"
        raise


async def test_claim_binds_to_the_smallest_matching_volume_and_release_follows_policy(client, binder):
    await client.create(VOLUMES, volume("pv-10g", "10Gi", policy="Delete"))
    await client.create(VOLUMES, volume("pv-2g", "2Gi", policy="Delete"))
    await client.create(VOLUMES, volume("pv-500m", "500Mi"))
    await client.create(VOLUMES, volume("pv-rwx", "1Gi", modes=("ReadWriteOnce", "ReadWriteMany")))
    await client.create(VOLUMES, volume("pv-other-class", "1Gi", class_name="fast"))
    for name in ("pv-10g", "pv-2g", "pv-500m"):
        await wait_for(lambda: _is(phase_of(client, VOLUMES, name), "Available"), 10)

    await client.create(CLAIMS, claim("data", "1Gi"))
    await wait_for(lambda: _is(phase_of(client, CLAIMS, "data", "default"), "Bound"), 10)
    pvc = await client.get(CLAIMS, "data", "default")
    assert pvc["spec"]["volumeName"] == "pv-2g"
    assert pvc["metadata"]["annotations"] == {"pv.kubernetes.io/bind-completed": "yes",
                                              "pv.kubernetes.io/bound-by-controller": "yes"}
    assert pvc["status"]["capacity"] == {"storage": "2Gi"}
    assert pvc["status"]["accessModes"] == ["ReadWriteOnce"]
    pv = await client.get(VOLUMES, "pv-2g")
    assert pv["status"]["phase"] == "Bound"
    assert pv["metadata"]["annotations"] == {"pv.kubernetes.io/bound-by-controller": "yes"}
    assert {k: pv["spec"]["claimRef"][k] for k in ("kind", "namespace", "name", "uid")} == {
        "kind": "PersistentVolumeClaim", "namespace": "default", "name": "data", "uid": pvc["metadata"]["uid"]}

    await client.create(CLAIMS, claim("logs", "1Gi"))  # the RWO-only 10Gi beats the RWO+RWX 1Gi
    await wait_for(lambda: _is(phase_of(client, CLAIMS, "logs", "default"), "Bound"), 10)
    assert (await client.get(CLAIMS, "logs", "default"))["spec"]["volumeName"] == "pv-10g"

    await client.delete(CLAIMS, "data", "default")  # Delete policy: the volume goes
    await wait_for(lambda: _is(phase_of(client, VOLUMES, "pv-2g"), "<gone>"), 10)

    await client.create(CLAIMS, claim("small", "100Mi"))
    await wait_for(lambda: _is(phase_of(client, CLAIMS, "small", "default"), "Bound"), 10)
    assert (await client.get(CLAIMS, "small", "default"))["spec"]["volumeName"] == "pv-500m"
    await client.delete(CLAIMS, "small", "default")  # Retain: the volume stays, Released
    await wait_for(lambda: _is(phase_of(client, VOLUMES, "pv-500m"), "Released"), 10)


async def test_claim_without_volume_or_class_waits_with_failed_binding(client, binder):
    await client.create(CLAIMS, claim("orphan", "50Gi", class_name=""))

    async def failed_binding() -> bool:
        events = await client.list(EVENTS, "default", field_selector="involvedObject.name=orphan")
        return any(e["reason"] == "FailedBinding" and e["type"] == "Normal" and e["message"] ==
                   "no persistent volumes available for this claim and no storage class is set"
                   for e in events["items"])

    await wait_for(failed_binding, 10)
    assert await phase_of(client, CLAIMS, "orphan", "default") == "Pending"

    await client.create(VOLUMES, volume("pv-late", "50Gi", class_name=""))  # a volume appears: it binds
    await wait_for(lambda: _is(phase_of(client, CLAIMS, "orphan", "default"), "Bound"), 10)


async def _is(value, expected) -> bool:
    return (await value) == expected
