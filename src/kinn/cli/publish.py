"""`kinn publish`: forward host 127.0.0.1 ports to a cluster's Services (what `kinn up --publish` runs)."""

from __future__ import annotations

import click

from kinn.cli.daemon import run_daemon, setup_logging, until_signalled
from kinn.cli.flags import CLUSTER_NAME
from kinn.client.rest import Client
from kinn.cluster.cluster import Cluster, ClusterNotFound
from kinn.cluster.portmapping import MappingError, PortMapping
from kinn.cluster.publisher import ListenError, Publisher


@click.command()
@CLUSTER_NAME
@click.argument("mappings", nargs=-1, required=True, metavar="HOSTPORT:svc/[NAMESPACE/]NAME:PORT...")
@click.option("-v", "--v", "verbosity", type=int, default=2, show_default=True)
def publish(name: str, mappings: tuple[str, ...], verbosity: int) -> None:
    """Forward 127.0.0.1:HOSTPORT to the Service's LoadBalancer address (else a node's NodePort), dialled
    from the cluster's underlay: `kinn publish 8080:svc/frontend:80`. Runs until interrupted or until
    the cluster is taken down."""
    try:
        parsed = tuple(PortMapping.parse(text) for text in mappings)
        cluster = Cluster.load(name)
    except (MappingError, ClusterNotFound) as error:
        raise click.ClickException(str(error)) from error
    setup_logging(verbosity)
    try:
        run_daemon(until_signalled(_run(cluster, parsed)))
    except ListenError as error:
        raise click.ClickException(str(error)) from error


async def _run(cluster: Cluster, mappings: tuple[PortMapping, ...]) -> None:
    async with Client.from_kubeconfig(str(cluster.paths.kubeconfig), "kinn-publish") as client:
        await Publisher(client, mappings, cluster.paths.underlay_netns).run()
