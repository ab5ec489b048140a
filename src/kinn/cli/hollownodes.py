"""`kinn hollow-nodes`: simulated nodes for control-plane tests and benchmarks (like KWOK)."""

from __future__ import annotations

from datetime import timedelta

import click

from kinn.cli.daemon import run_daemon, setup_logging
from kinn.cli.flags import DURATION
from kinn.client.rest import Client
from kinn.hollownode.node import HollowNodeConfig, HollowNodes


@click.command("hollow-nodes")
@click.option("--kubeconfig", type=click.Path(exists=True), required=True)
@click.option("--count", type=int, default=3, show_default=True)
@click.option("--name-prefix", default="hollow-", show_default=True)
@click.option("--cpu", default="4", show_default=True, help="Capacity per node.")
@click.option("--memory", default="16Gi", show_default=True, help="Capacity per node.")
@click.option("--pods", "max_pods", type=int, default=110, show_default=True, help="Pod capacity per node.")
@click.option("--lease-renew-interval", type=DURATION, default="10s", show_default=True,
              help="How often each node renews its Lease (the kubelet renews every 10s); keep it well under "
                   "the controller manager's --node-monitor-grace-period.")
@click.option("--job-duration", type=float, default=1.0, show_default=True,
              help="Seconds a pod with restartPolicy Never/OnFailure runs before it succeeds.")
@click.option("-v", "--v", "verbosity", type=int, default=2, show_default=True)
def hollow_nodes(kubeconfig: str, count: int, name_prefix: str, cpu: str, memory: str, max_pods: int,
                 lease_renew_interval: timedelta, job_duration: float, verbosity: int) -> None:
    """Register COUNT simulated nodes that heartbeat and run their pods on paper.

    Hollow nodes have no namespaces and run no processes: they exist to exercise the scheduler and
    the controllers at scale. They carry the label kinn.io/hollow=true.
    """
    setup_logging(verbosity)
    config = HollowNodeConfig(name_prefix=name_prefix, count=count, cpu=cpu, memory=memory, pods=max_pods,
                              renew_interval=lease_renew_interval.total_seconds(), job_duration=job_duration)
    run_daemon(_run(kubeconfig, config))


async def _run(kubeconfig: str, config: HollowNodeConfig) -> None:
    async with (Client.from_kubeconfig(kubeconfig, user_agent="kinn-hollow-node") as client,
                Client.from_kubeconfig(kubeconfig, user_agent="kinn-hollow-node-lease") as leases):
        await HollowNodes(client, config, leases).run()
