"""`kinn flanneld`: flannel's daemon, run inside its node's namespaces (flags as flanneld names them)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import click

from kinn.cli.daemon import run_daemon, setup_logging, until_signalled
from kinn.client.rest import Client
from kinn.flannel.daemon import FlannelOptions, run_flanneld
from kinn.flannel.subnet import DEFAULT_NET_CONF, DEFAULT_SUBNET_FILE, ConfigError, load_net_config


@click.command()
@click.option("--kube-subnet-mgr", is_flag=True,
              help="Take subnets from the Node objects (spec.podCIDR); the only mode kinn implements.")
@click.option("--kubeconfig-file", type=click.Path(exists=True, path_type=Path), required=True,
              help="Kubeconfig with the API server's address and credentials.")
@click.option("--net-config-path", type=click.Path(path_type=Path), default=str(DEFAULT_NET_CONF),
              show_default=True, help="net-conf.json: Network and Backend (Type vxlan|host-gw, VNI, Port).")
@click.option("--iface", help="Interface (name or IP) for inter-node traffic; default: the default route's.")
@click.option("--public-ip", help="IP other nodes reach this one at; default: the interface's address.")
@click.option("--subnet-file", type=click.Path(path_type=Path), default=str(DEFAULT_SUBNET_FILE),
              show_default=True, help="Where to write the node's lease for the CNI plugin.")
@click.option("--ip-masq", is_flag=True, help="Masquerade traffic leaving the pod network (FLANNEL-POSTRTG).")
@click.option("--iptables-forward-rules", type=bool, default=True, show_default=True,
              help="Accept forwarding to and from the pod network (FLANNEL-FWD).")
@click.option("--iptables-resync", type=int, default=5, show_default=True,
              help="Seconds between checks that flannel's iptables rules are still installed.")
@click.option("-v", "--v", "verbosity", type=int, default=2, show_default=True, help="Log level (klog style).")
def flanneld(kube_subnet_mgr: bool, kubeconfig_file: Path, net_config_path: Path, iface: str | None,
             public_ip: str | None, subnet_file: Path, ip_masq: bool, iptables_forward_rules: bool,
             iptables_resync: int, verbosity: int) -> None:
    """Run flanneld: this node's pod subnet, the overlay to the other nodes, subnet.env.

    The node is named by $NODE_NAME (as the flannel DaemonSet sets it), else the hostname."""
    if not kube_subnet_mgr:
        raise click.UsageError("kinn implements flannel's kube subnet manager only: pass --kube-subnet-mgr "
                               "(the etcd subnet lease mode is not built)")
    setup_logging(verbosity)
    try:
        config = load_net_config(net_config_path)
    except (OSError, ConfigError) as exc:
        raise click.ClickException(f"failed to read net config {net_config_path}: {exc}") from exc
    options = FlannelOptions(node_name=os.environ.get("NODE_NAME") or socket.gethostname(), net_config=config,
                             iface=iface, public_ip=public_ip, subnet_file=subnet_file, ip_masq=ip_masq,
                             iptables_forward_rules=iptables_forward_rules, iptables_resync=iptables_resync)
    run_daemon(_serve(kubeconfig_file, options))


async def _serve(kubeconfig: Path, options: FlannelOptions) -> None:
    async with Client.from_kubeconfig(str(kubeconfig), user_agent="flanneld") as client:
        await until_signalled(run_flanneld(client, options))
