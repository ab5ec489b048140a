"""The live state of a cluster's network, read once: each node's kernel (over netlink) and the API's objects.

The result is plain JSON-able data (a *snapshot*) rather than objects, because it is the boundary
between the live cluster and everything pure: the topology model, `kinn explain`, and unit tests
that build both from a captured snapshot. A node's pod sandboxes (`cni-<uuid>` under the node's
/var/run/netns) are bind mounts inside the node's mount namespace, so they are opened through the
node holder's root (`/proc/<pid>/root/run/netns/…`), which resolves paths in that namespace.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from kinn import netlink
from kinn.client.rest import Client, resource
from kinn.cluster.cluster import Cluster
from kinn.cluster.node import Node
from kinn.cluster.paths import UNDERLAY_BRIDGE

Obj = dict[str, Any]
VTEP = "flannel.1"
NETNS_DIR = "run/netns"  # the node's /var/run/netns (/var/run is /run)
CNI_NETWORKS_DIR = "/var/lib/cni/networks"  # host-local's files, one per allocated IP
OBJECT_KINDS = {"pods": ("v1", "pods"), "services": ("v1", "services"), "nodes": ("v1", "nodes"),
                "endpointslices": ("discovery.k8s.io/v1", "endpointslices"),
                "replicasets": ("apps/v1", "replicasets")}  # a pod's owner's owner (its Deployment)


def _links(ipr: Any) -> list[Obj]:
    """Every link with its IPv4 addresses (`ip -4 addr`)."""
    return [{**dataclasses.asdict(link), "addresses": netlink.ipv4_addresses(ipr, link.index)}
            for link in netlink.list_links(ipr)]


def _routes(ipr: Any) -> list[Obj]:
    return [dataclasses.asdict(route) for route in netlink.list_routes(ipr)]


def sandbox_dir(node: Node) -> Path:
    """The node's /var/run/netns as seen from the host, through the holder's mount namespace."""
    pid = node.holder_pid()
    if pid is None:
        raise OSError(f"node {node.name} is not running (no holder process); run `kinn down` and `kinn up`")
    return Path(f"/proc/{pid}/root") / NETNS_DIR


def _read_sandbox(path: Path) -> Obj:
    with netlink.iproute(path) as ipr:
        return {"netns": path.name, "links": _links(ipr), "routes": _routes(ipr)}


def _read_ipam(node: Node) -> dict[str, str]:
    """host-local's allocations: pod IP → the sandbox (container) ID its file names (first line)."""
    allocations = {}
    for network in sorted(node.paths.path(CNI_NETWORKS_DIR).glob("*")):
        for file in network.iterdir():
            if file.name[0].isdigit() and not file.name.startswith("last_reserved_ip"):
                allocations[file.name] = file.read_text().splitlines()[0].strip()
    return allocations


def read_node(node: Node) -> Obj:
    """One node's network as `ip addr`, `ip route`, `ip neigh`/`bridge fdb` on flannel.1 and each pod netns show it."""
    with netlink.iproute(node.paths.netns) as ipr:
        state: Obj = {"name": node.name, "ip": node.spec.ip, "links": _links(ipr), "routes": _routes(ipr),
                      "neighbours": [], "fdb": []}
        if netlink.find_link(ipr, VTEP) is not None:
            state["neighbours"] = [dataclasses.asdict(n) for n in netlink.list_neighbours(ipr, VTEP)]
            state["fdb"] = [dataclasses.asdict(f) for f in netlink.list_fdb(ipr, VTEP)]
    state["sandboxes"] = [_read_sandbox(path) for path in sorted(sandbox_dir(node).glob("cni-*"))]
    state["ipam"] = _read_ipam(node)
    return state


def read_underlay(cluster: Cluster) -> Obj:
    """The underlay bridge and whether the outside client is attached (it is made on first use)."""
    net = cluster.spec.networking
    client = net.client_ip if netlink.exists(cluster.paths.client_netns) else None
    return {"bridge": UNDERLAY_BRIDGE, "address": f"{net.gateway}/{net.node_subnet.prefixlen}", "client": client,
            "backend": net.backend, "proxyMode": net.kube_proxy_mode, "cniBridge": net.bridge}


async def _read_objects(kubeconfig: Path) -> dict[str, list[Obj]]:
    async with Client.from_kubeconfig(str(kubeconfig), "kinn-topology") as client:
        lists = await asyncio.gather(*(client.list_all(resource(*kind)) for kind in OBJECT_KINDS.values()))
    return {key: found["items"] for key, found in zip(OBJECT_KINDS, lists)}


def read_objects(cluster: Cluster) -> dict[str, list[Obj]]:
    """Pods, Services, EndpointSlices and Nodes from the API server, as `kubectl get -A -o json` lists them."""
    return asyncio.run(_read_objects(cluster.paths.kubeconfig))


def read_snapshot(cluster: Cluster) -> Obj:
    """Everything `kinn topology` draws: the underlay, every node's kernel state, the API's objects."""
    return {"cluster": cluster.name, "underlay": read_underlay(cluster),
            "nodes": [read_node(node) for node in cluster.nodes], "objects": read_objects(cluster)}
