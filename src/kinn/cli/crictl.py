"""`kinn node crictl NODE pods|ps [-a]|inspect ID…|inspectp ID…|logs ID`: crictl on a kinn node.

It asks the node's kubelet, which is the node's runtime, over the node's runtime socket as the
host sees it in the node's state dir (`<KINN_HOME>/clusters/<c>/nodes/<node>/run/kinn/runtime.sock`
is the node's `/run/kinn/runtime.sock`), and prints what crictl prints on a containerd node.
IDs may be given in full or as any unique prefix, as with crictl.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, Awaitable, Callable, TypeVar

import click

from kinn.cli.flags import CLUSTER_NAME
from kinn.cluster.cluster import Cluster, ClusterNotFound
from kinn.cluster.node import Node
from kinn.kubelet.cri import crictl as output
from kinn.kubelet.cri.api import DEFAULT_RUNTIME_ENDPOINT, CRIError, endpoint_path
from kinn.kubelet.cri.client import RuntimeServiceClient
from kinn.kubelet.logs import LogOptions, stream_log

T = TypeVar("T")
Obj = dict[str, Any]


def _call(node: Node, call: Callable[[RuntimeServiceClient], Awaitable[T]]) -> T:
    """Run one client call against NODE's runtime; its refusals and an unreachable runtime become
    errors that say what failed and where to look."""
    path = node.paths.path(str(endpoint_path(DEFAULT_RUNTIME_ENDPOINT)))

    async def run() -> T:
        return await call(RuntimeServiceClient(path))

    try:
        return asyncio.run(run())
    except CRIError as error:
        raise click.ClickException(error.message) from error
    except OSError as error:
        reason = getattr(error, "os_error", error).strerror or str(error)
        raise click.ClickException(
            f'cannot reach the container runtime of node "{node.name}" at {DEFAULT_RUNTIME_ENDPOINT} ({path}): '
            f"{reason.lower()}; its kubelet runs in `kinn agent`, is it running? See {node.paths.agent_log}") from error


async def _each(status: Callable[[str], Awaitable[Obj]], ids: tuple[str, ...]) -> list[Obj]:
    return list(await asyncio.gather(*(status(i) for i in ids)))


@click.group()
@CLUSTER_NAME
@click.argument("node_name", metavar="NODE")
@click.pass_context
def crictl(ctx: click.Context, name: str, node_name: str) -> None:
    """crictl on NODE: its kubelet's pod sandboxes and containers (`kinn node crictl worker-1 ps`)."""
    try:
        ctx.obj = Cluster.load(name).node(node_name)
    except ClusterNotFound as error:
        raise click.ClickException(str(error)) from error


@crictl.command()
@click.pass_obj
def pods(node: Node) -> None:
    """List pods."""
    items = _call(node, lambda client: client.list_pod_sandbox())
    click.echo(output.pods_table(items, time.time()), nl=False)


@crictl.command()
@click.option("-a", "--all", "everything", is_flag=True, help="Show all containers.")
@click.pass_obj
def ps(node: Node, everything: bool) -> None:
    """List containers."""
    containers = _call(node, lambda client: client.list_containers(None if everything else "CONTAINER_RUNNING"))
    click.echo(output.ps_table(containers, time.time()), nl=False)


@crictl.command()
@click.argument("ids", nargs=-1, required=True, metavar="CONTAINER-ID...")
@click.pass_obj
def inspect(node: Node, ids: tuple[str, ...]) -> None:
    """Display the status of one or more containers."""
    click.echo(output.inspect_output(_call(node, lambda client: _each(client.container_status, ids))))


@crictl.command()
@click.argument("ids", nargs=-1, required=True, metavar="POD-ID...")
@click.pass_obj
def inspectp(node: Node, ids: tuple[str, ...]) -> None:
    """Display the status of one or more pods."""
    click.echo(output.inspectp_output(_call(node, lambda client: _each(client.pod_sandbox_status, ids))))


@crictl.command()
@click.option("-f", "--follow", is_flag=True, help="Follow log output.")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps.")
@click.option("--tail", type=int, default=-1, show_default=True,
              help="Number of lines to show from the end of the logs; -1 for all.")
@click.argument("container_id", metavar="CONTAINER-ID")
@click.pass_obj
def logs(node: Node, follow: bool, timestamps: bool, tail: int, container_id: str) -> None:
    """Fetch the logs of a container."""
    options = LogOptions(follow=follow, timestamps=timestamps, tail_lines=None if tail < 0 else tail)
    _call(node, lambda client: _print_logs(client, node, container_id, options))


async def _print_logs(client: RuntimeServiceClient, node: Node, container_id: str, options: LogOptions) -> None:
    """The CRI log file the container's status names (a path as the node sees it), read back as
    crictl does: stdout to stdout, stderr to stderr; with --follow, until the container stops."""
    status = (await client.container_status(container_id))["status"]
    running = status["state"] == "CONTAINER_RUNNING"

    async def watch() -> None:
        nonlocal running
        while running:
            await asyncio.sleep(1)
            running = (await client.container_status(status["id"]))["status"]["state"] == "CONTAINER_RUNNING"

    async def write(stream: str, data: bytes) -> None:
        out = sys.stdout.buffer if stream == "stdout" else sys.stderr.buffer
        out.write(data)
        out.flush()

    watcher = asyncio.create_task(watch()) if options.follow else None
    try:
        await stream_log(node.paths.path(status["logPath"]), options, lambda: running, write)
    finally:
        if watcher is not None:
            watcher.cancel()
