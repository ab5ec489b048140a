"""Cluster commands: `kinn up`, `kinn down`, `kinn get clusters`, `kinn node exec`, `kinn node crictl`,
`kinn client exec`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Callable

import click

from kinn.cli.crictl import crictl
from kinn.cli.flags import CLUSTER_NAME
from kinn.cluster import config
from kinn.cluster.cluster import Cluster, ClusterNotFound, cluster_names
from kinn.cluster.down import down as remove_cluster
from kinn.cluster.down import leftover_names
from kinn.cluster.node import enter
from kinn.cluster.outside import enter_client
from kinn.cluster.up import ClusterExists, UpError
from kinn.cluster.up import up as create_cluster

@click.command()
@CLUSTER_NAME
@click.option("--workers", type=int, default=2, show_default=True, help="Worker nodes (without --config).")
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
    try:
        doc = config.load(config_file) if config_file else config.default_document(name, workers)
        if config_file and name != "kinn":
            doc["name"] = name  # --name wins over the file's, as kind's does
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
    """List the clusters on this host."""
    names = cluster_names()
    click.echo("\n".join(names) if names else "No kinn clusters found.")


@click.group()
def node() -> None:
    """Work inside a cluster's nodes."""


@node.command("exec", context_settings={"ignore_unknown_options": True})
@CLUSTER_NAME
@click.argument("node_name", metavar="NODE")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def node_exec(name: str, node_name: str, command: tuple[str, ...]) -> None:
    """Run COMMAND inside NODE (its network, mount and UTS namespaces): `kinn node exec worker-1 -- ip route`."""
    try:
        preexec = enter(Cluster.load(name).node(node_name))
    except (ClusterNotFound, OSError) as error:
        raise click.ClickException(str(error)) from error
    _exec(command, preexec, f"on node {node_name}")


node.add_command(crictl)


@click.group()
def client() -> None:
    """Work from an outside client: a host on the cluster's underlay that is not a node."""


@client.command("exec", context_settings={"ignore_unknown_options": True})
@CLUSTER_NAME
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def client_exec(name: str, command: tuple[str, ...]) -> None:
    """Run COMMAND in the outside client's netns (kinn-<cluster>-client, created on first use), e.g.
    `kinn client exec -- wget -qO- http://10.240.0.200`."""
    try:
        preexec = enter_client(Cluster.load(name))
    except (ClusterNotFound, OSError) as error:
        raise click.ClickException(str(error)) from error
    _exec(command, preexec, "on this host (the client shares the host's files; busybox has ping, nc …)")


def _exec(command: tuple[str, ...], preexec: Callable[[], None], where: str) -> None:
    try:
        sys.exit(subprocess.run(list(command), preexec_fn=preexec).returncode)
    except FileNotFoundError:
        raise click.ClickException(f"{command[0]}: command not found {where}")
