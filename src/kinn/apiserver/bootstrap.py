"""Objects every cluster has from its first second, created as upstream's bootstrap controllers do.

The four system namespaces; the `kubernetes` Service in `default` on the first IP of the service
range, with Endpoints and an EndpointSlice pointing at the API server; and the two system
priority classes the scheduler's preemption refers to.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from kinn.api import errors
from kinn.apiserver.registry.generic import Registry, RequestContext
from kinn.api.timestamps import rfc3339

if TYPE_CHECKING:
    from kinn.apiserver.server import APIServer

Obj = dict[str, Any]

CLUSTER_PORT = 6443  # inside a cluster every API server is at <control-plane IP>:6443, whatever the host port
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


async def _ensure(registry: Registry, namespace: str, obj: Obj) -> None:
    """Create the object if absent; an existing one is the user's to change and is left alone."""
    ctx = RequestContext(namespace=namespace, user="system:apiserver", field_manager="kube-apiserver")
    if await registry.store.get(registry.key(namespace, obj["metadata"]["name"])) is None:
        try:
            await registry.create(ctx, obj)
        except errors.StatusError as e:
            if e.reason != "AlreadyExists":
                raise


async def _reconcile(registry: Registry, namespace: str, obj: Obj) -> None:
    """Write the object straight to the store: the API server owns it (the master endpoints reconciler).

    It bypasses validation on purpose: a standalone API server on 127.0.0.1 advertises a loopback
    address, which user-written Endpoints may not contain.
    """
    key = registry.key(namespace, obj["metadata"]["name"])
    existing = await registry.store.get(key)
    meta = obj["metadata"]
    meta["namespace"] = namespace
    if existing is None:
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = rfc3339(RequestContext().now())
        registry.strategy.prepare_for_create(obj)
        registry.strategy.default(obj)
        await registry.store.create(key, obj)
        return
    for system_field in ("uid", "creationTimestamp", "generation"):
        if system_field in existing.obj["metadata"]:
            meta[system_field] = existing.obj["metadata"][system_field]
    registry.strategy.default(obj)
    if {k: v for k, v in obj.items() if k != "metadata"} != {
        k: v for k, v in existing.obj.items() if k != "metadata"
    }:
        await registry.store.update(key, obj, existing.mod_revision)


async def bootstrap(server: "APIServer") -> None:
    regs = server.registries
    for name in SYSTEM_NAMESPACES:
        await _ensure(regs.core("namespaces"), "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    # In a kinn cluster the nodes (and pods, through this Service) reach the API server on the
    # control-plane node's CLUSTER_PORT; a standalone server is only reachable on its own port.
    port = CLUSTER_PORT if server.options.cluster_netns else (server.options.secure_port or CLUSTER_PORT)
    await _ensure(regs.core("services"), "default", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": server.ips.first(), "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]},
    })
    address = server.options.advertise_address or server.options.bind_address
    if address in ("0.0.0.0", ""):
        address = "127.0.0.1"
    await _reconcile(regs.core("endpoints"), "default", {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": address}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    })
    slices = regs.get("discovery.k8s.io", "v1", "endpointslices")
    assert slices is not None
    await _reconcile(slices, "default", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    })
    priority_classes = regs.get("scheduling.k8s.io", "v1", "priorityclasses")
    assert priority_classes is not None
    for name, value in (("system-node-critical", 2000001000), ("system-cluster-critical", 2000000000)):
        await _ensure(priority_classes, "", {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
            "value": value, "description": "Used for system critical pods that must not be moved from their current node.",
        })
