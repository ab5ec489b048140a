"""`kinn apiserver`: run the API server alone (flags as kube-apiserver names them)."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable

import click

from kinn.apiserver.server import APIServer, APIServerOptions
from kinn.cli.daemon import run_daemon, setup_logging
from kinn.cli.flags import DURATION
from kinn.storage.sqlite import DEFAULT_HISTORY


def apiserver_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The kube-apiserver flags, shared by `kinn apiserver` and `kinn server`."""
    options = [
        click.option("--data-dir", type=click.Path(path_type=Path), required=True,
                     help="Where the store and PKI live."),
        click.option("--bind-address", default="127.0.0.1", show_default=True),
        click.option("--secure-port", type=int, default=6443, show_default=True, help="0 picks a free port."),
        click.option("--kubeconfig-out", type=click.Path(path_type=Path), help="Write an admin kubeconfig here."),
        click.option("--advertise-address", default="", help="Address the `kubernetes` Endpoints point at."),
        click.option("--cluster-netns", default="",
                     help="The control-plane node's named netns: also serve on --advertise-address:6443 there "
                          "and reach kubelets from there (set by `kinn up`)."),
        click.option("--service-cluster-ip-range", default="10.96.0.0/12", show_default=True),
        click.option("--service-node-port-range", default="30000-32767", show_default=True),
        click.option("--watch-history", type=int, default=DEFAULT_HISTORY, hidden=True,
                     help="Revisions kept for watch replay (tests shrink it to provoke 410 Expired)."),
        click.option("--etcd-compaction-interval", "compaction_interval", type=DURATION, default="5m",
                     show_default=True, help="How often the history is compacted, to the revision of the "
                                             "previous compaction: it keeps one to two intervals of changes."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def build_apiserver_options(compaction_interval: timedelta, **flags: Any) -> APIServerOptions:
    if compaction_interval.total_seconds() <= 0:  # kube-apiserver's 0 leaves it to etcd; kinn has no etcd
        raise click.BadParameter("must be positive: nothing else compacts kinn's store",
                                 param_hint="--etcd-compaction-interval")
    return APIServerOptions(compaction_interval=compaction_interval.total_seconds(), **flags)


@click.command()
@apiserver_options
@click.option("-v", "--v", "verbosity", type=int, default=2, show_default=True, help="Log level (klog style).")
def apiserver(verbosity: int, **flags: Any) -> None:
    """Run the Kubernetes API server over a SQLite store."""
    setup_logging(verbosity)
    server = APIServer(build_apiserver_options(**flags))
    run_daemon(serve_until_signalled(server, lambda: asyncio.Event().wait()))


async def serve_until_signalled(server: APIServer, components: Callable[[], Awaitable[None]]) -> None:
    """Start the API server, run `components` beside it until SIGINT/SIGTERM, then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    click.echo(f"kinn: API server serving on {server.url}", err=True)
    running = asyncio.create_task(components())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for task in (running, stopping):
        task.cancel()
    await asyncio.gather(running, stopping, return_exceptions=True)
    if running.done() and not running.cancelled() and running.exception():
        raise running.exception()  # type: ignore[misc]
    await server.stop()
