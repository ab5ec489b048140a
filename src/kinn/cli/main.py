"""The `kinn` command."""

from __future__ import annotations

import click

from kinn import __version__
from kinn.cli.agent import agent
from kinn.cli.apiserver import apiserver
from kinn.cli.cluster import client, down, get, node, up
from kinn.cli.controllermanager import controller_manager
from kinn.cli.dns import dns
from kinn.cli.flanneld import flanneld
from kinn.cli.hollownodes import hollow_nodes
from kinn.cli.ingress import ingress_controller
from kinn.cli.kubelet import kubelet
from kinn.cli.proxy import proxy
from kinn.cli.publish import publish
from kinn.cli.scheduler import scheduler
from kinn.cli.server import server


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="kinn")
def main() -> None:
    """kinn — Kubernetes in network namespaces."""


main.add_command(agent)
main.add_command(apiserver)
main.add_command(controller_manager)
main.add_command(dns)
main.add_command(flanneld)
main.add_command(hollow_nodes)
main.add_command(ingress_controller)
main.add_command(kubelet)
main.add_command(proxy)
main.add_command(publish)
main.add_command(scheduler)
main.add_command(server)
for command in (up, down, get, node, client):
    main.add_command(command)
