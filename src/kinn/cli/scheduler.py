"""`kinn scheduler`: run kube-scheduler alone against an API server (flags as kube-scheduler names them)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from kinn.cli.daemon import run_daemon, setup_logging, until_signalled
from kinn.cli.flags import leader_election_options, leader_election_timings
from kinn.client.leaderelection import LeaderElectionTimings
from kinn.client.rest import Client
from kinn.scheduler.server import SchedulerOptions, run_scheduler


@click.command()
@click.option("--kubeconfig", type=click.Path(exists=True, path_type=Path), required=True,
              help="Kubeconfig with the API server's address and credentials.")
@click.option("--leader-elect", type=bool, default=True, show_default=True,
              help="Take the kube-system/kube-scheduler Lease before scheduling (for running several instances).")
@leader_election_options
@click.option("--percentage-of-nodes-to-score", type=click.IntRange(0, 100), default=0, show_default=True,
              help="Share of nodes to find feasible before scoring; 0 adapts to the cluster size.")
@click.option("-v", "--v", "verbosity", type=int, default=2, show_default=True, help="Log level (klog style).")
def scheduler(kubeconfig: Path, leader_elect: bool, leader_elect_lease_duration: timedelta,
              leader_elect_renew_deadline: timedelta, leader_elect_retry_period: timedelta,
              percentage_of_nodes_to_score: int, verbosity: int) -> None:
    """Run the scheduler: bind pending pods to nodes."""
    setup_logging(verbosity)
    options = SchedulerOptions(percentage_of_nodes_to_score=percentage_of_nodes_to_score)
    timings = leader_election_timings(leader_elect_lease_duration, leader_elect_renew_deadline,
                                      leader_elect_retry_period)
    run_daemon(_serve(kubeconfig, options, leader_elect, timings))


async def _serve(kubeconfig: Path, options: SchedulerOptions, leader_elect: bool,
                 timings: LeaderElectionTimings) -> None:
    async with Client.from_kubeconfig(str(kubeconfig), user_agent="kube-scheduler") as client:
        await until_signalled(run_scheduler(client, options, leader_elect, timings=timings))
