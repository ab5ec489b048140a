"""`kinn proxy`: kube-proxy, run inside its node (flags as kube-proxy names them).

Refuses to run in the host's own network namespace: kube-proxy rewrites the firewall of the
namespace it runs in, and on this machine that must only ever be a kinn node's.
"""

from __future__ import annotations

import socket
from typing import Any, Callable

import click

from kinn import netlink
from kinn.cli.daemon import run_daemon, setup_logging, until_signalled
from kinn.cli.flags import DURATION
from kinn.client.rest import Client
from kinn.proxy.healthcheck.proxier_health import parse_bind_address
from kinn.proxy.modes import MODES, new_proxier
from kinn.proxy.node import NodeContext
from kinn.proxy.server import ProxyOptions, ProxyServer


PROXY_FLAGS = ("proxy_mode", "cluster_cidr", "masquerade_all", "iptables_masquerade_bit", "iptables_min_sync_period",
               "iptables_sync_period", "healthz_bind_address")


def _bind_address(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, int] | None:
    try:
        return parse_bind_address(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def proxy_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """kube-proxy's flags, shared by `kinn proxy` and `kinn agent`."""
    for option in reversed([
        click.option("--proxy-mode", type=click.Choice(MODES), default="iptables", show_default=True,
                     help="Which proxy programs the Services."),
        click.option("--cluster-cidr", default="", help="The pod network; traffic from outside it to a "
                     "ClusterIP is masqueraded."),
        click.option("--masquerade-all", is_flag=True, help="Masquerade all traffic sent to Service IPs."),
        click.option("--iptables-masquerade-bit", type=click.IntRange(0, 31), default=14, show_default=True,
                     help="The fwmark bit marking packets to masquerade."),
        click.option("--iptables-min-sync-period", type=DURATION, default="1s", show_default=True,
                     help="At most one sync per this period, however fast changes arrive."),
        click.option("--iptables-sync-period", type=DURATION, default="30s", show_default=True,
                     help="At least one sync (and canary check) per this period."),
        click.option("--healthz-bind-address", default="0.0.0.0:10256", show_default=True, callback=_bind_address,
                     help="IP:port of /healthz and /livez (unhealthy when a change waits for a sync longer "
                     "than twice the sync period). Set empty or 0 to disable."),
    ]):
        f = option(f)
    return f


def build_proxy(client: Client, node_name: str, node_ip: str, proxy_mode: str, cluster_cidr: str,
                masquerade_all: bool, iptables_masquerade_bit: int, iptables_min_sync_period: Any,
                iptables_sync_period: Any, healthz_bind_address: tuple[str, int] | None) -> ProxyServer:
    ctx = NodeContext(node_ip=node_ip, cluster_cidr=cluster_cidr, masquerade_all=masquerade_all,
                      mark=hex(1 << iptables_masquerade_bit))
    options = ProxyOptions(node_name, iptables_min_sync_period.total_seconds(), iptables_sync_period.total_seconds(),
                           healthz_bind_address)
    return ProxyServer(client, new_proxier(proxy_mode, ctx), options)


def refuse_host_netns() -> None:
    if netlink.in_host_netns():
        raise click.ClickException("kinn proxy rewrites the firewall of its network namespace and this is the "
                                   "host's: run it inside a node (`kinn up` does), e.g. with ip netns exec")


@click.command()
@click.option("--kubeconfig", type=click.Path(exists=True), required=True)
@click.option("--hostname-override", "node_name", default=None, help="This node's name (default: the hostname).")
@click.option("--bind-address", "node_ip", required=True, help="The node's IP (kube-proxy's node IP override).")
@proxy_options
@click.option("-v", "--v", "verbosity", type=int, default=2, show_default=True)
def proxy(kubeconfig: str, node_name: str | None, node_ip: str, verbosity: int, **flags: Any) -> None:
    """Run kube-proxy: this node's rules for every Service."""
    refuse_host_netns()
    setup_logging(verbosity)
    run_daemon(until_signalled(_run(kubeconfig, node_name or socket.gethostname(), node_ip, flags)))


async def _run(kubeconfig: str, node_name: str, node_ip: str, flags: dict[str, Any]) -> None:
    async with Client.from_kubeconfig(kubeconfig, "kube-proxy") as client:
        await build_proxy(client, node_name, node_ip, **flags).run()
