"""The kube subnet manager (flannel's pkg/subnet/kube): leases are Nodes.

It watches all Nodes with an informer and turns every node flannel manages into lease events for
the backend; AcquireLease publishes this node's attributes as annotations and returns the lease
built from `spec.podCIDR`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass

from kinn.api.timestamps import now_rfc3339
from kinn.client.informer import EventHandler, SharedInformerFactory
from kinn.client.rest import Client, Obj, resource
from kinn.flannel.subnet import (Lease, LeaseAttrs, NetConfig, annotations_patch, lease_changed, node_pod_cidr,
                                 node_to_lease, stored_vtep_mac)

NODES = resource("v1", "nodes")
log = logging.getLogger("kinn.flannel.kube")


class LeaseError(RuntimeError):
    """This node has no usable lease (no podCIDR yet, or one outside the flannel network)."""


class EventType(enum.Enum):
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True)
class LeaseEvent:
    type: EventType
    lease: Lease


class KubeSubnetManager:
    def __init__(self, client: Client, node_name: str, config: NetConfig) -> None:
        self.client = client
        self.node_name = node_name
        self.config = config
        self.events: asyncio.Queue[LeaseEvent] = asyncio.Queue()
        self._factory = SharedInformerFactory(client)
        self._informer = self._factory.informer(NODES)
        self._informer.add_event_handler(EventHandler(
            on_add=lambda node: self._announce(EventType.ADDED, node),
            on_update=self._updated,
            on_delete=lambda node: self._announce(EventType.REMOVED, node),
        ))

    async def start(self, timeout: float = 60.0) -> None:
        """Run the node informer and wait for its first list ("Waiting for node controller to sync")."""
        self._factory.start()
        await self._factory.wait_for_cache_sync(timeout)

    async def stop(self) -> None:
        await self._factory.stop()

    async def wait_for_node(self, retry: float) -> None:
        """Wait until our Node is registered: started beside the kubelet (`kinn agent`), flanneld may
        come up before it, where the flannel DaemonSet's pod never can."""
        while self._informer.indexer.get(self.node_name) is None:
            await asyncio.sleep(retry)

    def _node(self) -> Obj:
        node = self._informer.indexer.get(self.node_name)
        if node is None:
            raise LeaseError(f"node {self.node_name!r} not found")
        return node

    def leases(self) -> list[Lease]:
        """Every lease the cached Nodes advertise (ours included)."""
        return [lease for node in self._informer.indexer.list() if (lease := node_to_lease(node)) is not None]

    def stored_vtep_mac(self) -> str | None:
        return stored_vtep_mac(self._node())

    async def acquire_lease(self, attrs: LeaseAttrs) -> Lease:
        node = self._node()
        subnet = node_pod_cidr(node)
        if subnet is None:
            raise LeaseError(f"node {self.node_name!r} pod cidr not assigned")
        if not subnet.subnet_of(self.config.network):
            raise LeaseError(f"subnet {str(self.config.network)!r} specified in the flannel net config doesn't "
                             f"contain {str(subnet)!r} PodCIDR of the {self.node_name!r} node")
        changes = annotations_patch(node, attrs)
        if changes:
            # As upstream, through nodes/status, whose strategy keeps metadata changes.
            await self.client.patch(NODES, self.node_name, {"metadata": {"annotations": changes}},
                                    patch_type="strategic", subresource="status")
        return Lease(subnet, attrs)

    async def complete_lease(self) -> None:
        """Set NodeNetworkUnavailable=False (reason FlannelIsUp), as CompleteLease does."""
        now = now_rfc3339()
        condition = {"type": "NetworkUnavailable", "status": "False", "reason": "FlannelIsUp",
                     "message": "Flannel is running on this node", "lastTransitionTime": now,
                     "lastHeartbeatTime": now}
        await self.client.patch(NODES, self.node_name, {"status": {"conditions": [condition]}},
                                patch_type="strategic", subresource="status")

    def _announce(self, kind: EventType, node: Obj) -> None:
        lease = node_to_lease(node)
        if lease is None:
            return
        self.events.put_nowait(LeaseEvent(kind, lease))

    def _updated(self, old: Obj, new: Obj) -> None:
        if lease_changed(old, new):
            self._announce(EventType.ADDED, new)
