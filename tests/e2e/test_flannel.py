"""flanneld against a real API server and real namespaces: two nodes on an underlay bridge, the
kube subnet manager and the VXLAN / host-gw backends, a pod on each node, pod→pod pings.

The flanneld logic runs in the test process, its kernel work aimed at each node namespace
(FlannelOptions.netns), its API connection in the test's own namespace. Everything lives in
kt-fl-… namespaces (flannel.1 and cni0 are created inside them, as on a real node). pyroute2's
IPRoute refuses to open on a thread running an event loop, so the async tests do netlink work
through asyncio.to_thread, as flanneld itself does.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

import pytest

from kinn import netlink
from kinn.client.rest import Client, resource, wait_for
from kinn.flannel import FlannelOptions, Flanneld, parse_net_config

pytestmark = pytest.mark.e2e

NODES = resource("v1", "nodes")
VXLAN_CONF = '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}'
HOSTGW_CONF = '{"Network": "10.244.0.0/16", "Backend": {"Type": "host-gw"}}'


def sh(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


@dataclass
class Node:
    """A node netns on the underlay with a cni0-like bridge and one pod (10.244.<n>.2)."""
    n: int
    netns: str
    pod: str
    name: str  # the Node object's name
    subnet_file: Path
    flanneld: Flanneld | None = None
    task: asyncio.Task[None] | None = None

    @property
    def ip(self) -> str:
        return f"10.240.0.{20 + self.n}"

    @property
    def pod_ip(self) -> str:
        return f"10.244.{self.n}.2"

    def sh(self, *args: str) -> str:
        return sh("ip", "-n", self.netns, *args)


@dataclass
class Cluster:
    client: Client
    underlay: str
    nodes: list[Node] = field(default_factory=list)
    net_conf: str = VXLAN_CONF

    async def start(self, node: Node) -> None:
        options = FlannelOptions(node_name=node.name, net_config=parse_net_config(self.net_conf), iface="eth0",
                                 subnet_file=node.subnet_file, ip_masq=True, netns=node.netns)
        node.flanneld = Flanneld(self.client, options)
        await node.flanneld.start()
        node.task = asyncio.create_task(node.flanneld.run())

    async def stop(self, node: Node) -> None:
        if node.task is not None:
            node.task.cancel()
            await asyncio.gather(node.task, return_exceptions=True)
        if node.flanneld is not None:
            await node.flanneld.stop()
        node.flanneld = node.task = None


def ensure_underlay_bridge(underlay: str) -> None:
    with netlink.iproute(underlay) as ipr:
        netlink.ensure_bridge(ipr, "kt-br0")


def wire_node(underlay: str, prefix: str, node: Node) -> None:
    """eth0 on the underlay bridge, cni0 with the pod's veth, the pod routed via cni0's address."""
    n = node.n
    netlink.create(node.netns)
    netlink.create(node.pod)
    with netlink.iproute(underlay) as ipr:
        port = netlink.add_veth(ipr, f"{prefix[-8:]}n{n}", "eth0", peer_netns=node.netns)
        netlink.set_master(ipr, port.index, "kt-br0")
        netlink.set_up(ipr, port.index)
    with netlink.iproute(node.netns) as ipr:
        netlink.set_up(ipr, "lo")
        netlink.add_address(ipr, "eth0", f"{node.ip}/24")
        netlink.set_up(ipr, "eth0")
        netlink.ensure_bridge(ipr, "cni0")
        netlink.add_address(ipr, "cni0", f"10.244.{n}.1/24")
        netlink.add_veth(ipr, "kt-vp0", "eth0", peer_netns=node.pod)
        netlink.set_master(ipr, "kt-vp0", "cni0")
        netlink.set_up(ipr, "kt-vp0")
    netlink.enable_ip_forward(node.netns)
    with netlink.iproute(node.pod) as ipr:
        netlink.set_up(ipr, "lo")
        netlink.add_address(ipr, "eth0", f"{node.pod_ip}/24")
        netlink.set_up(ipr, "eth0")
        netlink.add_route(ipr, "default", via=f"10.244.{n}.1", dev="eth0")


@pytest.fixture
async def cluster(apiserver, tmp_path: Path) -> AsyncIterator[Cluster]:
    prefix = f"kt-fl-{uuid.uuid4().hex[:5]}"
    client = Client.from_kubeconfig(str(apiserver.kubeconfig))
    created = Cluster(client, f"{prefix}-u")
    try:
        netlink.create(created.underlay)
        await asyncio.to_thread(ensure_underlay_bridge, created.underlay)
        for n in (1, 2):
            node = Node(n, f"{prefix}-n{n}", f"{prefix}-p{n}", f"{prefix}-node{n}",
                        tmp_path / f"node{n}" / "subnet.env")
            created.nodes.append(node)
            await asyncio.to_thread(wire_node, created.underlay, prefix, node)
            await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node.name},
                                        "spec": {"podCIDR": f"10.244.{n}.0/24", "podCIDRs": [f"10.244.{n}.0/24"]}})
        yield created
    finally:
        for node in created.nodes:
            await created.stop(node)
            try:
                await client.delete(NODES, node.name)
            except Exception:  # already deleted by the test
                pass
            netlink.delete(node.pod)
            netlink.delete(node.netns)
        netlink.delete(created.underlay)
        await client.close()


def vtep_mac(node: Node) -> str:
    return re.search(r"link/ether (\S+)", node.sh("link", "show", "flannel.1")).group(1)  # type: ignore[union-attr]


def link_packets(node: Node, link: str) -> tuple[int, int]:
    """(rx, tx) packet counters from `ip -s link show`."""
    lines = node.sh("-s", "link", "show", link).splitlines()
    rx = int(lines[lines.index(next(l for l in lines if l.strip().startswith("RX:"))) + 1].split()[1])
    tx = int(lines[lines.index(next(l for l in lines if l.strip().startswith("TX:"))) + 1].split()[1])
    return rx, tx


def overlay_entries(node: Node, remote: Node, mac: str) -> tuple[bool, bool, bool]:
    route = f"10.244.{remote.n}.0/24 via 10.244.{remote.n}.0 dev flannel.1 onlink" in node.sh("route")
    neigh = f"10.244.{remote.n}.0 dev flannel.1 lladdr {mac} PERMANENT" in node.sh("neigh")
    fdb = f"{mac} dst {remote.ip} self permanent" in sh("bridge", "-n", node.netns, "fdb", "show", "dev", "flannel.1")
    return route, neigh, fdb


async def test_vxlan_overlay_carries_pod_traffic_and_follows_nodes(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes
    for node in cluster.nodes:
        await cluster.start(node)
    assert n1.subnet_file.read_text() == ("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n"
                                          "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")
    mac1, mac2 = vtep_mac(n1), vtep_mac(n2)
    annotations = (await cluster.client.get(NODES, n1.name))["metadata"]["annotations"]
    assert {k: v for k, v in annotations.items() if k.startswith("flannel.alpha.coreos.com/")} == {
        "flannel.alpha.coreos.com/kube-subnet-manager": "true",
        "flannel.alpha.coreos.com/backend-type": "vxlan",
        "flannel.alpha.coreos.com/backend-data": json.dumps({"VNI": 1, "VtepMAC": mac1}, separators=(",", ":")),
        "flannel.alpha.coreos.com/public-ip": "10.240.0.21",
    }
    conditions = (await cluster.client.get(NODES, n1.name))["status"]["conditions"]
    assert [(c["type"], c["status"], c["reason"]) for c in conditions] == [
        ("NetworkUnavailable", "False", "FlannelIsUp")]

    link = n1.sh("-d", "link", "show", "flannel.1")
    assert ("flannel.1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UNKNOWN mode DEFAULT "
            "group default \n") in link
    # (this iproute2 also prints `ttl auto` and the kernel's checksum defaults, which seed 002's did not)
    assert "vxlan id 1 local 10.240.0.21 dev eth0 srcport 0 0 dstport 8472 nolearning " in link and "ageing 300" in link
    assert "inet 10.244.1.0/32 scope global flannel.1" in n1.sh("addr", "show", "flannel.1")
    await wait_for(lambda: all(overlay_entries(n1, n2, mac2)) and all(overlay_entries(n2, n1, mac1)), timeout=10)
    routes = n1.sh("route").splitlines()
    assert [r.strip() for r in routes if r.startswith("10.244.")] == [
        "10.244.1.0/24 dev cni0 proto kernel scope link src 10.244.1.1",
        "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink",
    ]

    before = link_packets(n1, "flannel.1")
    assert netlink.ping(n1.pod, n2.pod_ip) and netlink.ping(n2.pod, n1.pod_ip)
    after = link_packets(n1, "flannel.1")
    assert after[0] > before[0] and after[1] > before[1]  # through the tunnel, both ways
    # No NAT between pods: node 2's conntrack saw the sender's pod address.
    tracked = sh("ip", "netns", "exec", n2.netns, "conntrack", "-L", "-p", "icmp")
    assert re.search(rf"src={re.escape(n1.pod_ip)} dst={re.escape(n2.pod_ip)} .*src={re.escape(n2.pod_ip)} "
                     rf"dst={re.escape(n1.pod_ip)}", tracked), tracked

    nat = sh("ip", "netns", "exec", n1.netns, "iptables-save", "-t", "nat")
    assert '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG' in nat
    assert ('-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" '
            '-j MASQUERADE --random-fully') in nat

    # A restart keeps the VTEP's MAC and leaves every entry exactly once.
    await cluster.stop(n1)
    await cluster.start(n1)
    assert vtep_mac(n1) == mac1
    fdb = sh("bridge", "-n", n1.netns, "fdb", "show", "dev", "flannel.1")
    assert fdb.count(f"{mac2} dst 10.240.0.22") == 1
    save = sh("ip", "netns", "exec", n1.netns, "iptables-save")
    assert save.count("-j FLANNEL-POSTRTG") == 1 and save.count("-j FLANNEL-FWD") == 1
    assert netlink.ping(n1.pod, n2.pod_ip)

    # Node 2 leaves the cluster: node 1 forgets how to reach it.
    await cluster.stop(n2)
    await cluster.client.delete(NODES, n2.name)
    await wait_for(lambda: overlay_entries(n1, n2, mac2) == (False, False, False), timeout=10)
    assert not netlink.ping(n1.pod, n2.pod_ip, timeout=0.5)


async def test_restart_prunes_nodes_deleted_while_down(cluster: Cluster) -> None:
    n1, n2 = cluster.nodes
    for node in cluster.nodes:
        await cluster.start(node)
    mac2 = vtep_mac(n2)
    await wait_for(lambda: all(overlay_entries(n1, n2, mac2)), timeout=10)
    await cluster.stop(n1)
    await cluster.client.delete(NODES, n2.name)
    assert all(overlay_entries(n1, n2, mac2))  # nobody removed them while flanneld was down
    await cluster.start(n1)
    assert overlay_entries(n1, n2, mac2) == (False, False, False)


async def test_host_gw_routes_via_node_ips(cluster: Cluster) -> None:
    cluster.net_conf = HOSTGW_CONF
    n1, n2 = cluster.nodes
    for node in cluster.nodes:
        await cluster.start(node)
    assert n1.subnet_file.read_text().splitlines()[2] == "FLANNEL_MTU=1500"
    annotations = (await cluster.client.get(NODES, n2.name))["metadata"]["annotations"]
    assert annotations["flannel.alpha.coreos.com/backend-type"] == "host-gw"
    assert annotations["flannel.alpha.coreos.com/backend-data"] == "null"
    await wait_for(lambda: "10.244.2.0/24 via 10.240.0.22 dev eth0" in n1.sh("route")
                   and "10.244.1.0/24 via 10.240.0.21 dev eth0" in n2.sh("route"), timeout=10)
    assert "flannel.1" not in n1.sh("link")
    assert netlink.ping(n1.pod, n2.pod_ip) and netlink.ping(n2.pod, n1.pod_ip)
    await cluster.stop(n2)
    await cluster.client.delete(NODES, n2.name)
    await wait_for(lambda: "10.244.2.0/24" not in n1.sh("route"), timeout=10)
