"""The outside client: a host on the underlay that is not a node, as seed 002's external traffic comes from.

`kinn-<cluster>-client` is a bare netns on the underlay bridge at the node subnet's last host
(10.240.0.254), default route via the underlay's gateway: from there LoadBalancer addresses and
node IPs' NodePorts are reached as from another machine on the LAN, and its own ARP table shows
which node answers for an address. It is made on first use and, being named like every netns of
the cluster, removed by `kinn down`; commands run there join the cluster's cgroup for the same reason.
"""

from __future__ import annotations

import fcntl
import functools
import os
from pathlib import Path
from typing import Callable

from kinn import netlink
from kinn.cluster import cgroups
from kinn.cluster.cluster import Cluster
from kinn.cluster.provision import attach_to_underlay
from kinn.kubelet import nsutil

UNDERLAY_PORT = "v-client"


def ensure_client_netns(cluster: Cluster) -> str:
    """The client's netns, created now if missing; a lock file keeps two first uses from racing."""
    paths, net = cluster.paths, cluster.spec.networking
    if not netlink.exists(paths.underlay_netns):
        raise OSError(f'cluster "{cluster.name}" is not running (no {paths.underlay_netns}); `kinn up` it first')
    with open(paths.dir / "client.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not netlink.exists(paths.client_netns):
            try:
                attach_to_underlay(paths.client_netns, UNDERLAY_PORT, net.client_ip, net, paths.underlay_netns)
            except BaseException:
                netlink.delete(paths.client_netns)  # its veth goes with it; the next use starts over
                raise
    return paths.client_netns


def enter_client(cluster: Cluster) -> Callable[[], None]:
    """A preexec_fn putting a child in the client's netns and the cluster's cgroup (so `kinn down` ends it)."""
    netns = ensure_client_netns(cluster)
    cgroup = cgroups.create(cluster.paths.cgroup / "client")
    fd = os.open(netlink.netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)  # used between fork and exec
    return functools.partial(_join_client, fd, cgroup)


def _join_client(netns_fd: int, cgroup: Path) -> None:
    cgroups.join(cgroup)
    nsutil.setns(netns_fd, nsutil.CLONE_NEWNET)
