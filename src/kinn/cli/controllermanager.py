"""`kinn controller-manager`: the controllers of kube-controller-manager against any API server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

import click

from kinn.cli.daemon import run_daemon, setup_logging, until_signalled
from kinn.cli.flags import ADDRESS_POOL, DURATION, leader_election_options, leader_election_timings
from kinn.client.leaderelection import LeaderElectionTimings
from kinn.client.rest import Client
from kinn.controllers.base import ControllerManagerOptions
from kinn.controllers.manager import run_controller_manager
from kinn.loadbalancer.pool import AddressPool


def controller_manager_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The kube-controller-manager flags, shared by `kinn controller-manager` and `kinn server`."""
    options = [
        click.option("--cluster-cidr", default="10.244.0.0/16", show_default=True, help="The pod network."),
        click.option("--allocate-node-cidrs/--no-allocate-node-cidrs", default=True, show_default=True,
                     help="Give every node a podCIDR from --cluster-cidr."),
        click.option("--node-cidr-mask-size", type=int, default=24, show_default=True),
        click.option("--node-monitor-grace-period", type=DURATION, default="40s", show_default=True,
                     help="How long a node may be silent before it is marked Unknown."),
        click.option("--node-monitor-period", type=DURATION, default="5s", show_default=True),
        click.option("--controllers", default="*", show_default=True,
                     help="Comma-separated controllers to run: '*' all, 'name' one, '-name' all but one."),
        click.option("--concurrent-syncs", type=int, default=5, show_default=True, help="Workers per controller."),
        click.option("--load-balancer-pool", type=ADDRESS_POOL,
                     help="Addresses for LoadBalancer Services (10.240.0.200-10.240.0.250 or a CIDR), handed out "
                          "by the service controller as MetalLB does; without it they stay <pending>."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def build_options(cluster_cidr: str, allocate_node_cidrs: bool, node_cidr_mask_size: int,
                  node_monitor_grace_period: timedelta, node_monitor_period: timedelta, controllers: str,
                  concurrent_syncs: int, load_balancer_pool: AddressPool | None) -> ControllerManagerOptions:
    return ControllerManagerOptions(
        cluster_cidr=cluster_cidr, allocate_node_cidrs=allocate_node_cidrs, node_cidr_mask_size=node_cidr_mask_size,
        node_monitor_grace_period=node_monitor_grace_period, node_monitor_period=node_monitor_period,
        controllers=[c.strip() for c in controllers.split(",") if c.strip()], concurrent_syncs=concurrent_syncs,
        load_balancer_pool=load_balancer_pool,
    )


@click.command("controller-manager")
@click.option("--kubeconfig", type=click.Path(exists=True), required=True)
@click.option("--leader-elect/--no-leader-elect", default=True, show_default=True)
@leader_election_options
@controller_manager_options
@click.option("-v", "--v", "verbosity", type=int, default=2, show_default=True)
def controller_manager(kubeconfig: str, leader_elect: bool, leader_elect_lease_duration: timedelta,
                       leader_elect_renew_deadline: timedelta, leader_elect_retry_period: timedelta,
                       verbosity: int, **flags: Any) -> None:
    """Run the controllers (replicaset, deployment, endpoints, namespace, nodelifecycle, …)."""
    setup_logging(verbosity)
    options = build_options(**flags)
    timings = leader_election_timings(leader_elect_lease_duration, leader_elect_renew_deadline,
                                      leader_elect_retry_period)
    run_daemon(_run(kubeconfig, options, leader_elect, timings))


async def _run(kubeconfig: str, options: ControllerManagerOptions, leader_elect: bool,
               timings: LeaderElectionTimings) -> None:
    async with Client.from_kubeconfig(kubeconfig, user_agent="kube-controller-manager") as client:
        await until_signalled(run_controller_manager(client, options, leader_elect, timings))
