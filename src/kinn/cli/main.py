"""The `kinn` command (subcommands are imported when invoked: see kinn.cli.lazy)."""

from __future__ import annotations

import click

from kinn import __version__
from kinn.cli.lazy import LazyGroup

COMMANDS = {
    "agent": "kinn.cli.agent:agent",
    "apiserver": "kinn.cli.apiserver:apiserver",
    "client": "kinn.cli.nodes:client",
    "controller-manager": "kinn.cli.controllermanager:controller_manager",
    "dns": "kinn.cli.dns:dns",
    "down": "kinn.cli.cluster:down",
    "explain": "kinn.cli.explain:explain",
    "flanneld": "kinn.cli.flanneld:flanneld",
    "get": "kinn.cli.cluster:get",
    "hollow-nodes": "kinn.cli.hollownodes:hollow_nodes",
    "ingress-controller": "kinn.cli.ingress:ingress_controller",
    "kubelet": "kinn.cli.kubelet:kubelet",
    "lab": "kinn.cli.lab:lab",
    "node": "kinn.cli.nodes:node",
    "proxy": "kinn.cli.proxy:proxy",
    "publish": "kinn.cli.publish:publish",
    "scheduler": "kinn.cli.scheduler:scheduler",
    "server": "kinn.cli.server:server",
    "topology": "kinn.cli.topology:topology",
    "trace": "kinn.cli.trace:trace",
    "up": "kinn.cli.cluster:up",
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="kinn")
def main() -> None:
    """kinn — Kubernetes in network namespaces."""
