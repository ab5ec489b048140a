"""Cluster commands: `kinn up`, `kinn down`, `kinn get clusters` (the node and client commands are in
kinn.cli.nodes, light enough to start fast)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from click.core import ParameterSource

from kinn.cli.flags import CLUSTER_NAME
from kinn.cluster import config
from kinn.cluster.cluster import cluster_names
from kinn.cluster.down import down as remove_cluster
from kinn.cluster.down import leftover_names
from kinn.cluster.paths import state_root

@click.command()
@CLUSTER_NAME
@click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True,
              help="Worker nodes (without --config).")
@click.option("--config", "config_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="A cluster config file (kind: Cluster): nodes, addressing, bridge, backend.")
@click.option("--proxy-mode", type=click.Choice(config.PROXY_MODES),
              help="kube-proxy's mode on every node (overrides the config's networking.kubeProxyMode).")
@click.option("--publish", multiple=True, metavar="HOSTPORT:svc/[NS/]NAME:PORT",
              help="Forward 127.0.0.1:HOSTPORT to a Service's LoadBalancer address or NodePort, as kind's "
                   "extraPortMappings (repeatable; adds to the config's publish list).")
@click.option("--retain", is_flag=True, help="On failure keep what was created (logs, nodes) for debugging.")
@click.option("-v", "--v", "verbosity", type=int, default=2, show_default=True, help="Components' log level.")
def up(name: str, workers: int, config_file: Path | None, proxy_mode: str | None, publish: tuple[str, ...],
       retain: bool, verbosity: int) -> None:
    """Create a cluster: underlay network, nodes, control plane and node agents; wait until Ready."""
    # Imported here, not with the module: `kinn down` and `kinn get clusters` skip its ~0.4 s.
    from kinn.cluster.up import ClusterExists, UpError
    from kinn.cluster.up import up as create_cluster
    try:
        doc = config.load(config_file) if config_file else config.default_document(name, workers)
        if config_file and click.get_current_context().get_parameter_source("name") is not ParameterSource.DEFAULT:
            doc["name"] = name  # --name (also `--name kinn`, or $KINN_CLUSTER_NAME) wins over the file's, as kind's
        if proxy_mode:
            doc.setdefault("networking", {})["kubeProxyMode"] = proxy_mode
        if publish:
            doc["publish"] = [*(doc.get("publish") or []), *publish]
        spec = config.parse(doc)
        asyncio.run(create_cluster(spec, click.echo, verbosity, retain))
    except (config.ConfigError, ClusterExists, UpError) as error:
        raise click.ClickException(str(error)) from error


@click.command()
@CLUSTER_NAME
@click.option("--all", "everything", is_flag=True, help="Every kinn cluster on this host, and any leftovers.")
def down(name: str, everything: bool) -> None:
    """Delete a cluster: its processes, namespaces, links, rules, cgroups, state and kubeconfig context."""
    for cluster in leftover_names() if everything else [name]:
        removed = remove_cluster(cluster)
        click.echo(f'Deleted cluster "{cluster}"' + "".join(f"\n - {what}" for what in removed) if removed
                   else f'No cluster "{cluster}" found')


@click.group()
def get() -> None:
    """Show kinn's own objects (clusters)."""


@get.command("clusters")
def get_clusters() -> None:
    """List the clusters whose state is in $KINN_HOME (on stdout, one name a line, as `kind get
    clusters`), and name on stderr any other found on this host by its cgroup or netns: another
    $KINN_HOME's, or a crashed one's leftovers. `kinn down --all` removes those too."""
    names = cluster_names()
    elsewhere = sorted(set(leftover_names()) - set(names))
    if names:
        click.echo("\n".join(names))
    if elsewhere:
        click.echo(f"Also on this host, with no state in {state_root()} (another home's, or leftovers; "
                   f"`kinn down --all` removes them too): {', '.join(elsewhere)}", err=True)
    elif not names:
        click.echo("No kinn clusters found.")
