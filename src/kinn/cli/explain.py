"""`kinn explain svc/NAME | pod/NAME`: what implements a Service or a pod, read live from every node."""

from __future__ import annotations

import dataclasses
import json

import click

from kinn.cli.flags import CLUSTER_NAME

KINDS = {"svc": "service", "service": "service", "services": "service",
         "po": "pod", "pod": "pod", "pods": "pod"}


@click.command()
@CLUSTER_NAME
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.argument("target", metavar="svc/NAME|pod/NAME")
def explain(name: str, namespace: str, output: str, target: str) -> None:
    """The objects behind a Service or pod and, per node, the kube-proxy rules, routes, flannel
    neighbour/FDB entries and conntrack entries that implement them, read from the kernel now."""
    from kinn.cluster.cluster import Cluster, ClusterNotFound
    from kinn.explain import explain as explaining
    from kinn.explain.kernel import ToolError
    from kinn.explain.text import render_text
    from kinn.topology.live import read_snapshot

    kind, _, object_name = target.partition("/")
    if kind not in KINDS or not object_name:
        raise click.UsageError(f'"{target}": give svc/NAME or pod/NAME')
    build = explaining.explain_service if KINDS[kind] == "service" else explaining.explain_pod
    try:
        cluster = Cluster.load(name)
        result = build(cluster, read_snapshot(cluster), namespace, object_name)
    except (ClusterNotFound, explaining.NotFound, ToolError, OSError) as error:
        raise click.ClickException(str(error)) from error
    if output == "json":
        click.echo(json.dumps(dataclasses.asdict(result), indent=2))
    else:
        click.echo(render_text(result), nl=False)
