"""`kinn agent`: a node's components in one process — kubelet, kube-proxy, flanneld, the LB speaker
and the NetworkPolicy agent.

As `kinn server` hosts the control plane, the agent hosts what a real node runs as a kubelet and the
kube-proxy, flannel and policy DaemonSet pods: separate components sharing nothing but the process, each
talking to the API server through its own client. It runs inside its node (`kinn up` starts it there), so it uses
the node's standard paths and reaches the API server on the control-plane node's IP.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import click

from kinn.cli.daemon import run_daemon, setup_logging, until_signalled
from kinn.cli.kubelet import build_kubelet_config, kubelet_options
from kinn.cli.proxy import PROXY_FLAGS, build_proxy, proxy_options, refuse_host_netns
from kinn.client.rest import Client
from kinn.flannel.daemon import FlannelOptions, run_flanneld
from kinn.flannel.subnet import DEFAULT_NET_CONF, ConfigError, load_net_config
from kinn.kubelet.kubelet import Kubelet, KubeletConfig
from kinn.loadbalancer.speaker import SpeakerOptions, run_speaker
from kinn.networkpolicy.controller import NetworkPolicyAgent


log = logging.getLogger("kinn.agent")
RESTART_DELAY, RESTART_DELAY_MAX = 1.0, 30.0  # seconds; doubled per quick failure, as CrashLoopBackOff
RESTART_RESET = 60.0  # a component that ran this long starts over at the shortest delay

@click.command()
@kubelet_options
@proxy_options
@click.option("--net-config-path", type=click.Path(path_type=Path), default=str(DEFAULT_NET_CONF),
              show_default=True, help="flanneld's net-conf.json.")
@click.option("--ip-masq", is_flag=True, help="flanneld --ip-masq: masquerade traffic leaving the pod network.")
@click.option("--network-policy/--no-network-policy", default=True, show_default=True,
              help="Enforce NetworkPolicies on this node (plain flannel does not).")
@click.option("-v", "--v", "verbosity", type=int, default=2, show_default=True)
def agent(kubeconfig: str, net_config_path: Path, ip_masq: bool, network_policy: bool, verbosity: int,
          **flags: Any) -> None:
    """Run this node's kubelet, kube-proxy, flanneld, LoadBalancer speaker and NetworkPolicy agent
    (inside the node; `kinn up` starts one per node)."""
    refuse_host_netns()
    setup_logging(verbosity)
    proxy_flags = {name: flags.pop(name) for name in PROXY_FLAGS}
    config = build_kubelet_config(**flags)
    try:
        net_config = load_net_config(net_config_path)
    except (OSError, ConfigError) as exc:
        raise click.ClickException(f"failed to read net config {net_config_path}: {exc}") from exc
    flannel = FlannelOptions(node_name=config.node_name, net_config=net_config, public_ip=config.node_ip,
                             ip_masq=ip_masq)
    run_daemon(until_signalled(_run(kubeconfig, config, flannel, proxy_flags, network_policy)))


async def _run(kubeconfig: str, kubelet: KubeletConfig, flannel: FlannelOptions, proxy: dict[str, Any],
               network_policy: bool) -> None:
    async with Client.from_kubeconfig(kubeconfig, "kubelet") as kubelet_client, \
            Client.from_kubeconfig(kubeconfig, "kube-proxy") as proxy_client, \
            Client.from_kubeconfig(kubeconfig, "flanneld") as flannel_client, \
            Client.from_kubeconfig(kubeconfig, "kinn-speaker") as speaker_client, \
            Client.from_kubeconfig(kubeconfig, "kinn-network-policy") as policy_client:
        components = [
            supervise("kubelet", lambda: Kubelet(kubelet_client, kubelet).run()),
            supervise("kube-proxy", lambda: build_proxy(proxy_client, kubelet.node_name, kubelet.node_ip,
                                                        **proxy).run()),
            supervise("flanneld", lambda: run_flanneld(flannel_client, flannel)),
            supervise("speaker", lambda: run_speaker(speaker_client,
                                                     SpeakerOptions(kubelet.node_name, kubelet.node_ip)))]
        if network_policy:
            components.append(supervise("network-policy",
                                        lambda: NetworkPolicyAgent(policy_client, kubelet.node_name).run()))
        await asyncio.gather(*components)


async def supervise(name: str, component: Callable[[], Awaitable[None]]) -> None:
    """Run a component; if it fails, log why and start it afresh after a back-off. On a real node
    these are separate processes that systemd or the kubelet restart: one failing must not take the
    others down with it, as a plain gather would."""
    delay = RESTART_DELAY
    while True:
        started = time.monotonic()
        try:
            await component()
            return
        except Exception:
            log.exception("%s failed; restarting it in %.0f s", name, delay)
        await asyncio.sleep(delay)
        delay = RESTART_DELAY if time.monotonic() - started > RESTART_RESET else min(delay * 2, RESTART_DELAY_MAX)
