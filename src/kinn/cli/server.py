"""`kinn server`: API server, scheduler and controller manager in one process (as k3s runs them).

The three stay separate components: the scheduler and the controller manager talk to the API server
only through the client library, as `system:kube-scheduler` and `system:kube-controller-manager`,
with informers, leader election and all, as they would from other machines. Being in its process,
they reach it on its loopback socket (APIServer.serve_loopback) rather than over TLS on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click

from kinn.apiserver.server import APIServer
from kinn.cli.apiserver import apiserver_options, build_apiserver_options, serve_until_signalled
from kinn.cli.controllermanager import build_options, controller_manager_options
from kinn.cli.daemon import run_daemon, setup_logging
from kinn.client.rest import Client
from kinn.controllers.base import ControllerManagerOptions
from kinn.controllers.manager import run_controller_manager
from kinn.scheduler.server import SchedulerOptions, run_scheduler

# The users the components are to the API server, as their kubeadm certificates name them.
SCHEDULER_USER = "system:kube-scheduler"
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"


@click.command()
@apiserver_options
@controller_manager_options
@click.option("--disable-scheduler", is_flag=True, help="Run without the scheduler.")
@click.option("--disable-controller-manager", is_flag=True, help="Run without the controller manager.")
@click.option("--leader-elect/--no-leader-elect", default=True, show_default=True)
@click.option("-v", "--v", "verbosity", type=int, default=2, show_default=True)
def server(disable_scheduler: bool, disable_controller_manager: bool, leader_elect: bool, verbosity: int,
           **flags: Any) -> None:
    """Run the control plane: API server + scheduler + controller manager."""
    setup_logging(verbosity)
    cm_flags = {k: flags.pop(k) for k in ("cluster_cidr", "allocate_node_cidrs", "node_cidr_mask_size",
                                          "node_monitor_grace_period", "node_monitor_period", "controllers",
                                          "concurrent_syncs", "load_balancer_pool")}
    api = APIServer(build_apiserver_options(**flags))
    cm_options = build_options(**cm_flags)

    async def components() -> None:
        await api.serve_loopback()
        tasks = []
        if not disable_scheduler:
            tasks.append(_scheduler(api, leader_elect))
        if not disable_controller_manager:
            tasks.append(_controller_manager(api, cm_options, leader_elect))
        await asyncio.gather(*tasks, asyncio.Event().wait())  # with both disabled, serve the API alone

    run_daemon(serve_until_signalled(api, components))


async def _scheduler(api: APIServer, leader_elect: bool) -> None:
    async with Client(api.loopback_config(SCHEDULER_USER), "kube-scheduler") as client:
        await run_scheduler(client, SchedulerOptions(), leader_elect)


async def _controller_manager(api: APIServer, options: ControllerManagerOptions, leader_elect: bool) -> None:
    async with Client(api.loopback_config(CONTROLLER_MANAGER_USER), "kube-controller-manager") as client:
        await run_controller_manager(client, options, leader_elect)
