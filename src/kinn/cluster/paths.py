"""Where a cluster lives: its state directory, namespace names and cgroup, all derived from its name.

Everything a cluster creates is named after it (`kinn-<cluster>-…` namespaces, the
`kinn/<cluster>` cgroup, `<root>/clusters/<cluster>/`), which is what lets `kinn down` remove a
cluster completely — also after a crash, and without touching other clusters.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STATE_ROOT = Path("/var/lib/kinn")
NETNS_PREFIX = "kinn-"
UNDERLAY_NETNS_SUFFIX = "net"
CLIENT_NETNS_SUFFIX = "client"
UNDERLAY_BRIDGE = "kinn0"

# Paths a node's processes see as on a real node, each bind-mounted from the node's state dir.
NODE_MOUNTS = ("etc/cni/net.d", "opt/cni/bin", "var/lib/cni", "var/lib/kubelet", "var/log", "etc/kubernetes",
               "etc/kube-flannel", "run")


def state_root() -> Path:
    """$KINN_HOME, read at call time so tests can isolate themselves."""
    return Path(os.environ.get("KINN_HOME", str(STATE_ROOT)))


def cgroup_root() -> Path:
    """The cgroup2 mount point (hybrid hosts mount it at /sys/fs/cgroup/unified)."""
    unified = Path("/sys/fs/cgroup/unified")
    return (unified if (unified / "cgroup.procs").exists() else Path("/sys/fs/cgroup")) / "kinn"


@dataclass(frozen=True)
class ClusterPaths:
    name: str

    @property
    def dir(self) -> Path:
        return state_root() / "clusters" / self.name

    @property
    def config(self) -> Path:
        return self.dir / "cluster.yaml"

    @property
    def server_dir(self) -> Path:
        return self.dir / "server"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig on the host (127.0.0.1:<port>), also merged into ~/.kube/config."""
        return self.dir / "kubeconfig"

    @property
    def server_log(self) -> Path:
        return self.dir / "server.log"

    @property
    def publish_log(self) -> Path:
        """The port publisher's log (`kinn up --publish`)."""
        return self.dir / "publish.log"

    @property
    def underlay_netns(self) -> str:
        return f"{NETNS_PREFIX}{self.name}-{UNDERLAY_NETNS_SUFFIX}"

    @property
    def client_netns(self) -> str:
        """The outside client's netns (`kinn client exec`), a host on the underlay that is no node."""
        return f"{NETNS_PREFIX}{self.name}-{CLIENT_NETNS_SUFFIX}"

    @property
    def cgroup(self) -> Path:
        return cgroup_root() / self.name

    @property
    def v1_cgroups(self) -> Path:
        """The cluster's cgroups in v1 hierarchies, if the host has any (kinn.cluster.cgroups)."""
        return self.dir / "cgroup-v1.json"

    @property
    def context(self) -> str:
        """The kubeconfig context (and cluster) name, as kind's `kind-<name>`."""
        return f"kinn-{self.name}"

    def node(self, node: str) -> NodePaths:
        return NodePaths(self, node)


@dataclass(frozen=True)
class NodePaths:
    cluster: ClusterPaths
    name: str

    @property
    def dir(self) -> Path:
        """The node's root of standard paths: <dir>/etc/cni/net.d is the node's /etc/cni/net.d."""
        return self.cluster.dir / "nodes" / self.name

    def path(self, node_path: str) -> Path:
        """The host path of a path as the node sees it (`/run/flannel/subnet.env` → <dir>/run/flannel/…)."""
        return self.dir / node_path.lstrip("/")

    @property
    def netns(self) -> str:
        return f"{NETNS_PREFIX}{self.cluster.name}-{self.name}"

    @property
    def underlay_port(self) -> str:
        return f"v-{self.name}"

    @property
    def cgroup(self) -> Path:
        return self.cluster.cgroup / self.name

    @property
    def holder_pid_file(self) -> Path:
        return self.dir / "holder.pid"

    @property
    def agent_log(self) -> Path:
        return self.path("/var/log/kinn-agent.log")
