"""`kinn apiserver`: run the API server alone (flags as kube-apiserver names them)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from kinn.apiserver.server import APIServer, APIServerOptions
from kinn.cli.daemon import run_daemon, setup_logging
from kinn.storage.sqlite import DEFAULT_HISTORY


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), required=True, help="Where the store and PKI live.")
@click.option("--bind-address", default="127.0.0.1", show_default=True)
@click.option("--secure-port", type=int, default=6443, show_default=True, help="0 picks a free port.")
@click.option("--kubeconfig-out", type=click.Path(path_type=Path), help="Write an admin kubeconfig here.")
@click.option("--advertise-address", default="", help="Address the `kubernetes` Endpoints point at.")
@click.option("--service-cluster-ip-range", default="10.96.0.0/12", show_default=True)
@click.option("--service-node-port-range", default="30000-32767", show_default=True)
@click.option("--watch-history", type=int, default=DEFAULT_HISTORY, hidden=True,
              help="Revisions kept for watch replay (tests shrink it to provoke 410 Expired).")
@click.option("-v", "--v", "verbosity", type=int, default=2, show_default=True, help="Log level (klog style).")
def apiserver(
    data_dir: Path, bind_address: str, secure_port: int, kubeconfig_out: Path | None, advertise_address: str,
    service_cluster_ip_range: str, service_node_port_range: str, watch_history: int, verbosity: int,
) -> None:
    """Run the Kubernetes API server over a SQLite store."""
    setup_logging(verbosity)
    options = APIServerOptions(
        data_dir=data_dir, bind_address=bind_address, secure_port=secure_port, kubeconfig_out=kubeconfig_out,
        advertise_address=advertise_address, service_cluster_ip_range=service_cluster_ip_range,
        service_node_port_range=service_node_port_range, watch_history=watch_history,
    )
    run_daemon(_serve(APIServer(options)))


async def _serve(server: APIServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    click.echo(f"kinn apiserver: serving on {server.url}", err=True)
    await stop.wait()
    await server.stop()
