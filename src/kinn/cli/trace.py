"""`kinn trace FROM TO`: where did my packet go."""

from __future__ import annotations

import asyncio

import click

from kinn.cli.flags import CLUSTER_NAME

# As ping's: a script can tell "the packet got no answer" (the trace shows where it went) from
# "nothing was traced" (no such cluster, pod or Service; no permission).
NOT_ANSWERED, NOT_TRACED = 1, 2


@click.command()
@CLUSTER_NAME
@click.argument("source", metavar="FROM")
@click.argument("destination", metavar="TO")
@click.option("-n", "--namespace", default="default", show_default=True, help="Namespace of pod/ and svc/ names.")
@click.option("--port", type=click.IntRange(1, 65535), help="Destination port (default: the Service's first port).")
@click.option("--proto", "protocol", type=click.Choice(["tcp", "udp", "icmp"]),
              help="Probe protocol (default: the Service port's, else tcp).")
@click.option("--json", "as_json", is_flag=True, help="Print the hops as JSON.")
def trace(name: str, source: str, destination: str, namespace: str, port: int | None, protocol: str | None,
          as_json: bool) -> None:
    """Send one real probe from FROM to TO and show its path hop by hop: the netfilter rules that
    matched (as iptables-save or nft prints them), routing decisions, VXLAN encapsulation, conntrack
    NAT, and the reply. FROM and TO are pod/NAME, svc/NAME, node/NAME, client or an IP:
    `kinn trace pod/client svc/web --port 80`. Exits 1 when the probe got no answer, 2 when
    nothing could be traced."""
    from kinn.api.errors import StatusError
    from kinn.client.rest import Client
    from kinn.cluster.cluster import Cluster, ClusterNotFound
    from kinn.trace import render
    from kinn.trace.targets import TargetError
    from kinn.trace.tracer import Trace, trace as run_trace

    async def run() -> Trace:
        cluster = Cluster.load(name)
        async with Client.from_kubeconfig(str(cluster.paths.kubeconfig), "kinn-trace") as client:
            return await run_trace(client, cluster, source, destination, namespace, port, protocol)

    try:
        found = asyncio.run(run())
    except (ClusterNotFound, TargetError, StatusError, ValueError, OSError, RuntimeError) as error:
        failed = click.ClickException(str(error))
        failed.exit_code = NOT_TRACED
        raise failed from error
    click.echo(render.as_json(found) if as_json else render.text(found), nl=False)
    if not found.probe.ok:
        raise SystemExit(NOT_ANSWERED)
