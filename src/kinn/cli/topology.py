"""`kinn topology`: the cluster's network drawn from live state (text, DOT, SVG or PNG)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kinn.cli.flags import CLUSTER_NAME
from kinn.cluster.cluster import Cluster, ClusterNotFound

FORMATS = ("text", "dot", "svg", "png")
EXTENSIONS = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png"}


def format_of(output: str | None) -> str:
    """The format a file name asks for by its extension (`-o net.png` is a picture), else text."""
    return EXTENSIONS.get(Path(output).suffix.lower(), "text") if output else "text"


@click.command()
@CLUSTER_NAME
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="An indented tree, Graphviz DOT, or a picture laid out by Graphviz [default: from -o's "
                   "extension (.dot/.gv, .svg, .png), else text].")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file instead of standard output (required for png on a terminal).")
def topology(name: str, fmt: str | None, output: str | None) -> None:
    """Nodes on the underlay, their bridges, veth pairs to pods, flannel tunnels and Services, read live."""
    from kinn.topology import dot, graphviz, live, model, text

    fmt = fmt or format_of(output)

    try:
        snapshot = live.read_snapshot(Cluster.load(name))
    except (ClusterNotFound, OSError) as error:
        raise click.ClickException(str(error)) from error
    view = model.build(snapshot)
    if fmt == "text":
        data = text.render_text(view).encode()
    elif fmt == "dot":
        data = dot.render_dot(view).encode()
    else:
        if output is None and sys.stdout.isatty():
            raise click.UsageError(f"--format {fmt} writes binary data: give -o FILE or redirect standard output")
        try:
            data = graphviz.layout(dot.render_dot(view), fmt)
        except graphviz.GraphvizError as error:
            raise click.ClickException(str(error)) from error
    if output:
        try:
            with open(output, "wb") as file:
                file.write(data)
        except OSError as error:  # a missing directory, a read-only place: said, not a traceback
            raise click.ClickException(f"cannot write {output}: {(error.strerror or str(error)).lower()}") from error
    else:
        sys.stdout.buffer.write(data)
