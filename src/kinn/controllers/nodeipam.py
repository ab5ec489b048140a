"""Node IPAM: each node gets a pod CIDR carved out of `--cluster-cidr` (the RangeAllocator).

As upstream with `--allocate-node-cidrs`, a node without `spec.podCIDR` receives the next free
/`--node-cidr-mask-size` subnet (one per IP family when the cluster CIDR is dual-stack), written
to `spec.podCIDR` and `spec.podCIDRs`. The allocator's memory is rebuilt from the nodes' own
specs before any allocation, so a restarted controller never hands out a CIDR twice; a deleted
node's CIDRs go back to the pool. When the pool is exhausted the node gets the upstream event
`CIDRNotAvailable`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kinn.client.informer import SharedInformer
from kinn.client.rest import resource
from kinn.controllers.base import Controller, ControllerContext

Obj = dict[str, Any]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NODES = resource("v1", "nodes")
DEFAULT_IPV6_MASK_SIZE = 64  # --node-cidr-mask-size-ipv6


class CIDRRangeExhausted(Exception):
    """upstream ErrCIDRRangeNoCIDRsRemaining."""

    def __init__(self) -> None:
        super().__init__("CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range")


class CIDRSet:
    """The subnets of one cluster CIDR, handed out lowest first (pkg/controller/nodeipam/ipam/cidrset)."""

    def __init__(self, cluster_cidr: str, mask_size: int) -> None:
        self.cluster = ipaddress.ip_network(cluster_cidr, strict=False)
        if mask_size < self.cluster.prefixlen:
            raise ValueError(f"node CIDR mask size {mask_size} is shorter than the cluster CIDR {cluster_cidr}")
        self.mask_size = mask_size
        self.size = 1 << (mask_size - self.cluster.prefixlen)
        self._used: set[int] = set()

    def _index(self, cidr: str) -> int | None:
        """The subnet's position in the range, or None if it is not one of our subnets."""
        network = ipaddress.ip_network(cidr, strict=False)
        if network.version != self.cluster.version or not network.subnet_of(self.cluster):  # type: ignore[arg-type]
            return None
        if network.prefixlen != self.mask_size:
            return None
        return (int(network.network_address) - int(self.cluster.network_address)) >> (
            self.cluster.max_prefixlen - self.mask_size)

    def _subnet(self, index: int) -> str:
        address = int(self.cluster.network_address) + (index << (self.cluster.max_prefixlen - self.mask_size))
        return str(ipaddress.ip_network((address, self.mask_size)))

    def contains(self, cidr: str) -> bool:
        return self._index(cidr) is not None

    def allocate_next(self) -> str:
        for index in range(self.size):
            if index not in self._used:
                self._used.add(index)
                return self._subnet(index)
        raise CIDRRangeExhausted()

    def occupy(self, cidr: str) -> None:
        index = self._index(cidr)
        if index is not None:
            self._used.add(index)

    def release(self, cidr: str) -> None:
        index = self._index(cidr)
        if index is not None:
            self._used.discard(index)


def cidr_sets(cluster_cidrs: str, mask_size: int) -> list[CIDRSet]:
    """One set per comma-separated cluster CIDR; IPv6 ranges use upstream's default /64 per node."""
    sets = []
    for cidr in filter(None, (c.strip() for c in cluster_cidrs.split(","))):
        family = ipaddress.ip_network(cidr, strict=False).version
        sets.append(CIDRSet(cidr, mask_size if family == 4 else DEFAULT_IPV6_MASK_SIZE))
    return sets


def pod_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec", {})
    return list(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))


class NodeIPAMController(Controller):
    name = "node-ipam-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.enabled = ctx.options.allocate_node_cidrs
        self.sets = cidr_sets(ctx.options.cluster_cidr, ctx.options.node_cidr_mask_size) if self.enabled else []
        self.recorder = ctx.recorder("node-ipam-controller")
        self._allocated: dict[str, list[str]] = {}
        self.nodes: SharedInformer | None = None
        if self.enabled:
            self.nodes = self.informer(NODES, self.enqueue_handler())

    async def run(self, workers: int) -> None:
        """Occupy every CIDR existing nodes hold before the first allocation (upstream NewCIDRRangeAllocator)."""
        if self.nodes is None:
            return
        await self.nodes.synced.wait()
        for node in self.nodes.indexer.list():
            self._remember(node["metadata"]["name"], pod_cidrs(node))
        await super().run(workers)

    def _remember(self, name: str, cidrs: list[str]) -> None:
        for cidr in cidrs:
            for cidr_set in self.sets:
                cidr_set.occupy(cidr)
        self._allocated[name] = cidrs

    def _release(self, name: str) -> None:
        self._give_back(self._allocated.pop(name, []))
        assert self.nodes is not None
        for node in self.nodes.indexer.list():  # a node waiting for a CIDR may now get one
            if not pod_cidrs(node):
                self.enqueue(node)

    async def sync(self, key: str) -> None:
        assert self.nodes is not None
        node = self.nodes.indexer.get(key)
        if node is None:
            self._release(key)
            return
        existing = pod_cidrs(node)
        if existing:
            self._remember(key, existing)
            return
        await self._allocate(node)

    async def _allocate(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        allocated: list[str] = []
        try:
            for cidr_set in self.sets:
                allocated.append(cidr_set.allocate_next())
        except CIDRRangeExhausted as e:
            self._give_back(allocated)
            self.log.warning("node %s: %s", name, e)
            await self.recorder.event(node, "Normal", "CIDRNotAvailable", f"Node {name} status is now: CIDRNotAvailable")
            return
        try:
            await self.client.patch(NODES, name, {"spec": {"podCIDR": allocated[0], "podCIDRs": allocated}})
        except Exception:
            self._give_back(allocated)
            raise
        self._allocated[name] = allocated
        self.log.info("node %s: assigned pod CIDRs %s", name, ",".join(allocated))

    def _give_back(self, cidrs: list[str]) -> None:
        for cidr in cidrs:
            for cidr_set in self.sets:
                cidr_set.release(cidr)
