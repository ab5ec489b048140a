"""Making a node: its netns on the underlay and the holder process that owns its other namespaces
(see kinn.cluster.node for what a node is). Separate from node.py so that entering a node — what
`kinn node exec` does — needs no netlink library."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
from pathlib import Path

from kinn import netlink
from kinn.cluster import cgroups
from kinn.cluster.config import Networking
from kinn.cluster.node import Node, node_cgroups
from kinn.cluster.paths import NODE_MOUNTS, UNDERLAY_BRIDGE
from kinn.kubelet import nsutil
from kinn.kubelet.pause import ensure_pause_binary

UNDERLAY_MTU = 1500


def attach_to_underlay(netns: str, port: str, ip: str, networking: Networking, underlay_netns: str) -> None:
    """A new netns as a host on the underlay: eth0 (its bridge port `port`) with `ip`, default route
    via the gateway."""
    netlink.create(netns)
    with netlink.iproute(underlay_netns) as ipr:
        netlink.add_veth(ipr, port, "eth0", peer_netns=netns, mtu=UNDERLAY_MTU)
        netlink.set_master(ipr, port, UNDERLAY_BRIDGE)
        netlink.set_up(ipr, port)
    with netlink.iproute(netns) as ipr:
        netlink.set_up(ipr, "lo")
        netlink.add_address(ipr, "eth0", f"{ip}/{networking.node_subnet.prefixlen}")
        netlink.set_up(ipr, "eth0")
        netlink.add_route(ipr, "0.0.0.0/0", via=networking.gateway, dev="eth0")


def create_netns(node: Node, networking: Networking, underlay_netns: str) -> None:
    """The node's netns on the underlay; a node routes (its pods' traffic), so IP forwarding is on."""
    attach_to_underlay(node.paths.netns, node.paths.underlay_port, node.spec.ip, networking, underlay_netns)
    netlink.enable_ip_forward(node.paths.netns)


def _become_node(netns_fd: int, hostname: str, node_cgroups: list[Path], binds: list[tuple[Path, Path]],
                 cgroup_v1: list[tuple[str, str]]) -> None:
    """Runs in the holder between fork and exec: join the node's cgroups and netns, then make its
    own mount, UTS and cgroup namespaces with the node's view of the filesystem, in which the
    node's cgroups are the roots of its cgroup hierarchies."""
    for cgroup in node_cgroups:
        cgroups.join(cgroup)
    nsutil.setns(netns_fd, nsutil.CLONE_NEWNET)
    nsutil.unshare(nsutil.CLONE_NEWNS | nsutil.CLONE_NEWUTS | nsutil.CLONE_NEWCGROUP)
    socket.sethostname(hostname)
    nsutil.mount(None, "/", flags=nsutil.MS_REC | nsutil.MS_SLAVE)
    for source, target in binds:
        nsutil.bind_mount(source, target)
    nsutil.mount_sys(cgroup_v1=cgroup_v1)


def start_holder(node: Node) -> int:
    """Start the node's holder (pause) in its namespaces; returns its PID, also kept in the state dir."""
    binds = []
    for relative in NODE_MOUNTS:
        source, target = node.paths.dir / relative, Path("/") / relative
        source.mkdir(parents=True, exist_ok=True)
        target.mkdir(parents=True, exist_ok=True)  # a mount point must exist; on a real node it would
        binds.append((source, target))
    v1 = cgroups.recorded_v1(node.paths.cluster.v1_cgroups)
    cgroups_of_node = node_cgroups(node, node.paths.cgroup / "node")
    netns_fd = os.open(netlink.netns_path(node.paths.netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        process = subprocess.Popen(
            ["/pause"], executable=ensure_pause_binary(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=functools.partial(_become_node, netns_fd, node.name, cgroups_of_node, binds,
                                         [(cgroup.directory, cgroup.options) for cgroup in v1]))
    finally:
        os.close(netns_fd)
    start = nsutil.process_start_time(process.pid)
    if start is None:
        raise OSError(f"node {node.name}: the holder process exited at start (code {process.wait()})")
    node.paths.holder_pid_file.write_text(f"{process.pid} {start}\n")
    return process.pid
