"""`kinn kubelet`: the node agent that runs the pods bound to its node as real processes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import click

from kinn.api.taints import parse_taint
from kinn.cli.daemon import run_daemon, setup_logging
from kinn.cli.flags import DURATION
from kinn.client.kubeconfig import load_kubeconfig
from kinn.client.rest import Client
from kinn.kubelet.cri.api import DEFAULT_RUNTIME_ENDPOINT
from kinn.kubelet.kubelet import Kubelet, KubeletConfig
from kinn.kubelet.nodenetns import NodeNetns


def _pairs(value: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in value.split(",") if item)
    return {key: val for key, val in pairs}


def _list(value: str) -> list[str]:
    return [item for item in value.split(",") if item]


def kubelet_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The kubelet's flags, shared by `kinn kubelet` and `kinn agent` (upstream names)."""
    options = [
        click.option("--kubeconfig", type=click.Path(exists=True), required=True),
        click.option("--hostname-override", "node_name", required=True, help="The Node name to register."),
        click.option("--node-ip", required=True, help="The node's InternalIP (status.addresses, pods' hostIP)."),
        click.option("--node-labels", default="", help="Extra labels, key=value,key=value."),
        click.option("--register-with-taints", default="",
                     help="Taints the Node registers with, key=value:Effect,… (the control plane's NoSchedule)."),
        click.option("--root-dir", type=click.Path(path_type=Path), default="/var/lib/kubelet", show_default=True),
        click.option("--pod-log-dir", type=click.Path(path_type=Path), default="/var/log/pods", show_default=True,
                     help="Where CRI container logs are written (kinn; fixed at /var/log/pods upstream)."),
        click.option("--netns-dir", type=click.Path(path_type=Path), default="/var/run/netns", show_default=True,
                     help="Where pod network namespaces are bind-mounted as cni-<uuid> (containerd's netns dir)."),
        click.option("--cni-conf-dir", type=click.Path(path_type=Path), default="/etc/cni/net.d", show_default=True),
        click.option("--cni-bin-dir", default="/opt/cni/bin", show_default=True, help="Comma-separated plugin dirs."),
        click.option("--cni-cache-dir", type=click.Path(path_type=Path), default="/var/lib/cni/cache",
                     show_default=True),
        click.option("--cluster-dns", default="", help="Comma-separated DNS server IPs for ClusterFirst pods."),
        click.option("--cluster-domain", default="cluster.local", show_default=True),
        click.option("--cpu", default="2", show_default=True, help="Node capacity: cpu."),
        click.option("--memory", default="4Gi", show_default=True, help="Node capacity: memory."),
        click.option("--max-pods", type=int, default=110, show_default=True),
        click.option("--pod-manifest-path", default="/etc/kubernetes/manifests", show_default=True,
                     help="Static pods: a directory of Pod manifests (or one file); empty for none."),
        click.option("--file-check-frequency", type=DURATION, default="1s", show_default=True,
                     help="How often the manifests are read again (upstream 20s, with inotify for changes)."),
        click.option("--container-runtime-endpoint", default=DEFAULT_RUNTIME_ENDPOINT, show_default=True,
                     help="The unix socket where the kubelet serves its runtime's CRI view (`kinn node crictl`)."),
        click.option("--node-lease-duration-seconds", type=int, default=40, show_default=True),
        click.option("--lease-renew-interval", type=DURATION, default="10s", show_default=True),
        click.option("--crash-loop-backoff", type=DURATION, default="10s", show_default=True,
                     help="The first restart back-off; it doubles per crash up to --crash-loop-backoff-max."),
        click.option("--crash-loop-backoff-max", type=DURATION, default="5m", show_default=True),
        click.option("--cgroup-root", default="",
                     help="The cgroup, in each mounted hierarchy holding memory or cpu, under which pods get "
                     "kubepods/…/pod<uid>/<container> with their limits; empty: no container cgroups, limits "
                     "not enforced (upstream's default is /; `kinn up` sets / in each node's own cgroup view)."),
        click.option("--make-iptables-util-chains", type=bool, default=True, show_default=True,
                     help="Write the kubelet's KUBE-FIREWALL, KUBE-IPTABLES-HINT and KUBE-KUBELET-CANARY chains "
                     "(never in the host's network namespace)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def build_kubelet_config(node_name: str, node_ip: str, node_labels: str, register_with_taints: str, root_dir: Path,
                         pod_log_dir: Path, netns_dir: Path, cni_conf_dir: Path, cni_bin_dir: str,
                         cni_cache_dir: Path, cluster_dns: str, cluster_domain: str, cpu: str, memory: str,
                         max_pods: int, pod_manifest_path: str, file_check_frequency: timedelta,
                         container_runtime_endpoint: str, node_lease_duration_seconds: int,
                         lease_renew_interval: timedelta, crash_loop_backoff: timedelta,
                         crash_loop_backoff_max: timedelta, cgroup_root: str,
                         make_iptables_util_chains: bool) -> KubeletConfig:
    try:
        taints = [parse_taint(spec) for spec in _list(register_with_taints)]
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--register-with-taints") from error
    return KubeletConfig(
        node_name=node_name, node_ip=node_ip, root_dir=root_dir, log_root=pod_log_dir, netns_dir=netns_dir,
        cni_conf_dir=cni_conf_dir, cni_bin_dirs=_list(cni_bin_dir), cni_cache_dir=cni_cache_dir,
        cluster_dns=_list(cluster_dns), cluster_domain=cluster_domain,
        capacity={"cpu": cpu, "memory": memory, "pods": str(max_pods), "ephemeral-storage": "20Gi"},
        labels=_pairs(node_labels), taints=taints, pod_manifest_path=Path(pod_manifest_path) if pod_manifest_path
        else None, file_check_frequency=file_check_frequency.total_seconds(),
        container_runtime_endpoint=container_runtime_endpoint,
        lease_duration=node_lease_duration_seconds,
        lease_renew_interval=lease_renew_interval.total_seconds(),
        backoff_initial=crash_loop_backoff.total_seconds(), backoff_max=crash_loop_backoff_max.total_seconds(),
        cgroup_root=PurePosixPath(cgroup_root) if cgroup_root else None,
        make_iptables_util_chains=make_iptables_util_chains)


@click.command("kubelet")
@kubelet_options
@click.option("--node-netns", default="", help="Run pods, CNI and node networking inside this named netns "
              "(under /var/run/netns) while reaching the API server from the current one.")
@click.option("-v", "--v", "verbosity", type=int, default=2, show_default=True)
def kubelet(kubeconfig: str, node_netns: str, verbosity: int, **flags: Any) -> None:
    """Register this node and run the pods bound to it: pause sandboxes, CNI, container processes."""
    setup_logging(verbosity)
    config = build_kubelet_config(**flags)
    # The node netns is entered before the event loop exists, so its threads are born inside it.
    netns = NodeNetns(node_netns) if node_netns else None
    run_daemon(_run(kubeconfig, config, netns))


async def _run(kubeconfig: str, config: KubeletConfig, netns: NodeNetns | None) -> None:
    cluster = load_kubeconfig(kubeconfig)
    client = Client(cluster, "kinn-kubelet", socket_factory=netns.socket_factory if netns else None)
    async with client:
        await Kubelet(client, config).run()
