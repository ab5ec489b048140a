"""A kinn node: a network namespace on the underlay, plus a mount and UTS namespace held by a process.

A node is what a kind node is without Docker: `kinn-<cluster>-<node>` is its netns (eth0 on the
underlay bridge, a default route to the underlay's gateway), and a *holder* process — pause, as
in a pod — owns its mount, UTS and cgroup namespaces. Inside them the node has its own hostname,
its own /sys (so /sys/class/net lists its links), its own cgroup2 view, and its standard paths
(`/etc/cni/net.d`, `/opt/cni/bin`, `/var/lib/cni`, `/run`, …) bind-mounted from its state dir.
The mount namespace is a slave of the host's: host mounts appear inside, nothing done inside
(pod netns bind mounts, the node's /run) leaks out, and it all disappears with the holder.

Processes enter the node by joining the holder's namespaces and the node's cgroup (`enter`), as
`docker exec` joins a container. Creating the netns and the holder is kinn.cluster.provision's.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from kinn.cluster import cgroups
from kinn.cluster.config import NodeSpec
from kinn.cluster.paths import NodePaths
from kinn.kubelet import nsutil

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

    def running_holder_pid(self) -> int:
        """The holder's PID, or an error that says what to do when the node no longer runs."""
        pid = self.holder_pid()
        if pid is None:
            raise OSError(f"node {self.name} is not running (no holder process); run `kinn down` and `kinn up`")
        return pid


def node_cgroups(node: Node, cgroup: Path) -> list[Path]:
    """`cgroup` (in the cgroup2 hierarchy, under the node's) and the node's own cgroup in each v1
    hierarchy the cluster has (kinn.cluster.cgroups), made if missing: where a node process belongs."""
    v1 = cgroups.recorded_v1(node.paths.cluster.v1_cgroups)
    return [cgroups.create(cgroup), *(cgroups.create(hierarchy.node(node.name)) for hierarchy in v1)]


def enter(node: Node, cgroup: Path | None = None) -> Callable[[], None]:
    """A preexec_fn that moves a child into the node (its namespaces, and `cgroup` or the node's own),
    so whatever it runs sees the node exactly as the node's own processes do."""
    targets = node_cgroups(node, cgroup or node.paths.cgroup / "exec")
    return functools.partial(join_node, node.running_holder_pid(), targets)


def join_node(pid: int, targets: Sequence[Path]) -> None:
    """Runs between fork and exec. Every namespace file is opened before the first setns, because
    joining the mount namespace changes what /proc/<pid> resolves to."""
    for cgroup in targets:
        cgroups.join(cgroup)
    fds = [os.open(nsutil.namespace_path(pid, kind), os.O_RDONLY) for kind in JOINED_NAMESPACES]
    for fd in fds:
        nsutil.setns(fd)
        os.close(fd)
    os.chdir("/")
