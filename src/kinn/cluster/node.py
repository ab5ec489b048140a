"""A kinn node: a network namespace on the underlay, plus a mount and UTS namespace held by a process.

A node is what a kind node is without Docker: `kinn-<cluster>-<node>` is its netns (eth0 on the
underlay bridge, a default route to the underlay's gateway), and a *holder* process — pause, as
in a pod — owns its mount, UTS and cgroup namespaces. Inside them the node has its own hostname,
its own /sys (so /sys/class/net lists its links), its own cgroup2 view, and its standard paths
(`/etc/cni/net.d`, `/opt/cni/bin`, `/var/lib/cni`, `/run`, …) bind-mounted from its state dir.
The mount namespace is a slave of the host's: host mounts appear inside, nothing done inside
(pod netns bind mounts, the node's /run) leaks out, and it all disappears with the holder.

Processes enter the node by joining the holder's namespaces and the node's cgroup (`enter`), as
`docker exec` joins a container.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kinn import netlink
from kinn.cluster import cgroups
from kinn.cluster.config import Networking, NodeSpec
from kinn.cluster.paths import NODE_MOUNTS, UNDERLAY_BRIDGE, NodePaths
from kinn.kubelet import nsutil
from kinn.kubelet.pause import ensure_pause_binary

UNDERLAY_MTU = 1500
JOINED_NAMESPACES = ("cgroup", "net", "uts", "mnt")


@dataclass(frozen=True)
class Node:
    spec: NodeSpec
    paths: NodePaths

    @property
    def name(self) -> str:
        return self.spec.name

    def holder_pid(self) -> int | None:
        """The holder's PID if it still runs (PID + start time guard against reuse)."""
        try:
            pid, start = (int(field) for field in self.paths.holder_pid_file.read_text().split())
        except (FileNotFoundError, ValueError):
            return None
        return pid if nsutil.process_start_time(pid) == start else None


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


def _become_node(netns_fd: int, hostname: str, cgroup: Path, binds: list[tuple[Path, Path]]) -> None:
    """Runs in the holder between fork and exec: join the node's cgroup and netns, then make its
    own mount, UTS and cgroup namespaces with the node's view of the filesystem."""
    cgroups.join(cgroup)
    nsutil.setns(netns_fd, nsutil.CLONE_NEWNET)
    nsutil.unshare(nsutil.CLONE_NEWNS | nsutil.CLONE_NEWUTS | nsutil.CLONE_NEWCGROUP)
    socket.sethostname(hostname)
    nsutil.mount(None, "/", flags=nsutil.MS_REC | nsutil.MS_SLAVE)
    for source, target in binds:
        nsutil.bind_mount(source, target)
    nsutil.mount_sys()


def start_holder(node: Node) -> int:
    """Start the node's holder (pause) in its namespaces; returns its PID, also kept in the state dir."""
    binds = []
    for relative in NODE_MOUNTS:
        source, target = node.paths.dir / relative, Path("/") / relative
        source.mkdir(parents=True, exist_ok=True)
        target.mkdir(parents=True, exist_ok=True)  # a mount point must exist; on a real node it would
        binds.append((source, target))
    cgroup = cgroups.create(node.paths.cgroup / "node")
    netns_fd = os.open(netlink.netns_path(node.paths.netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        process = subprocess.Popen(
            ["/pause"], executable=ensure_pause_binary(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=functools.partial(_become_node, netns_fd, node.name, cgroup, binds))
    finally:
        os.close(netns_fd)
    start = nsutil.process_start_time(process.pid)
    if start is None:
        raise OSError(f"node {node.name}: the holder process exited at start (code {process.wait()})")
    node.paths.holder_pid_file.write_text(f"{process.pid} {start}\n")
    return process.pid


def enter(node: Node, cgroup: Path | None = None) -> Callable[[], None]:
    """A preexec_fn that moves a child into the node (its namespaces, and `cgroup` or the node's own),
    so whatever it runs sees the node exactly as the node's own processes do."""
    pid = node.holder_pid()
    if pid is None:
        raise OSError(f"node {node.name} is not running (no holder process); run `kinn down` and `kinn up`")
    target = cgroups.create(cgroup or node.paths.cgroup / "exec")
    return functools.partial(_join_node, pid, target)


def _join_node(pid: int, cgroup: Path) -> None:
    """Runs between fork and exec. Every namespace file is opened before the first setns, because
    joining the mount namespace changes what /proc/<pid> resolves to."""
    cgroups.join(cgroup)
    fds = [os.open(nsutil.namespace_path(pid, kind), os.O_RDONLY) for kind in JOINED_NAMESPACES]
    for fd in fds:
        nsutil.setns(fd)
        os.close(fd)
    os.chdir("/")
