"""`kinn down`: remove every process, namespace, cgroup, state file and kubeconfig entry of a cluster.

Order matters: processes first (the cgroup holds all of them, wherever they re-parented), which
also frees the nodes' mount namespaces and the pod netns mounted inside them; then the named
network namespaces, whose links (veths, bridges, VXLAN) and netfilter rules die with them; then
the state dir. Every step tolerates an earlier partial run, so `kinn down` also cleans up after a
crash or a failed `kinn up`.
"""

from __future__ import annotations

import os
import shutil

import yaml

from kinn import netlink
from kinn.client.kubeconfig import remove_from_kubeconfig, user_kubeconfig_path
from kinn.cluster import cgroups
from kinn.cluster.cluster import cluster_names
from kinn.cluster.paths import NETNS_PREFIX, ClusterPaths, cgroup_root


def _netns_of(name: str, others: list[str]) -> list[str]:
    """The netns named `kinn-<name>-…`, except those of other clusters whose names extend this one."""
    mine = f"{NETNS_PREFIX}{name}-"
    theirs = tuple(f"{NETNS_PREFIX}{other}-" for other in others if other != name and other.startswith(f"{name}-"))
    return [ns for ns in netlink.list_names() if ns.startswith(mine) and not ns.startswith(theirs)]


def down(name: str) -> list[str]:
    """Remove cluster `name`; returns what was removed (for the progress output)."""
    paths = ClusterPaths(name)
    removed = []
    if paths.cgroup.exists():
        cgroups.kill_and_remove(paths.cgroup)
        removed.append(f"processes (cgroup {paths.cgroup})")
    removed += [f"cgroup {tree}" for tree in cgroups.remove_v1(name)]
    for netns in _netns_of(name, cluster_names()):
        netlink.delete(netns)
        removed.append(f"netns {netns}")
    if paths.kubeconfig.exists():
        remove_from_kubeconfig(user_kubeconfig_path(), yaml.safe_load(paths.kubeconfig.read_text()))
        removed.append(f"kubeconfig context {paths.context}")
    if paths.dir.exists():
        shutil.rmtree(paths.dir)
        removed.append(f"state {paths.dir}")
    try:
        os.rmdir(cgroup_root())  # the shared parent, once the last cluster is gone
    except OSError:
        pass
    return removed


def leftover_names() -> list[str]:
    """Clusters with anything left on this host: state, a cgroup, or an underlay netns."""
    names = set(cluster_names())
    if cgroup_root().exists():
        names |= {entry.name for entry in cgroup_root().iterdir() if entry.is_dir()}
    suffix = "-net"
    names |= {ns[len(NETNS_PREFIX):-len(suffix)] for ns in netlink.list_names()
              if ns.startswith(NETNS_PREFIX) and ns.endswith(suffix)}
    return sorted(names)
