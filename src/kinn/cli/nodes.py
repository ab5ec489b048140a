"""`kinn node exec`, `kinn node crictl` and `kinn client exec`: run things inside a cluster's nodes or
its outside client. Kept light (no client library, no netlink) because tests and users run them often."""

from __future__ import annotations

import subprocess
import sys
from typing import Callable

import click

from kinn.cli.flags import CLUSTER_NAME
from kinn.cli.lazy import LazyGroup
from kinn.cluster.cluster import Cluster, ClusterNotFound
from kinn.cluster.node import enter


@click.group(cls=LazyGroup, lazy_commands={"exec": "kinn.cli.nodes:node_exec", "crictl": "kinn.cli.crictl:crictl"})
def node() -> None:
    """Work inside a cluster's nodes."""


@click.command("exec", context_settings={"ignore_unknown_options": True})
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


@click.group()
def client() -> None:
    """Work from an outside client: a host on the cluster's underlay that is not a node."""


@client.command("exec", context_settings={"ignore_unknown_options": True})
@CLUSTER_NAME
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def client_exec(name: str, command: tuple[str, ...]) -> None:
    """Run COMMAND in the outside client's netns (kinn-<cluster>-client, created on first use), e.g.
    `kinn client exec -- wget -qO- http://10.240.0.200`."""
    from kinn.cluster.outside import enter_client  # creating the client netns needs pyroute2

    try:
        preexec = enter_client(Cluster.load(name))
    except (ClusterNotFound, OSError) as error:
        raise click.ClickException(str(error)) from error
    _exec(command, preexec, "on this host (the client shares the host's files; busybox has ping, nc …)")


def _exec(command: tuple[str, ...], preexec: Callable[[], None], where: str) -> None:
    """Run `command` and exit with its status; one that cannot be executed at all is an error naming it, as a
    shell would say it, not a traceback, with a shell's status: 127 when it is missing, 126 when it is there
    but cannot be run (a directory, not executable, not a program), so scripts can tell the two apart."""
    try:
        sys.exit(subprocess.run(list(command), preexec_fn=preexec).returncode)
    except FileNotFoundError:
        raise _CannotRun(f"{command[0]}: command not found {where}", 127)
    except OSError as error:
        raise _CannotRun(f"{command[0]}: {(error.strerror or str(error)).lower()} {where}", 126)


class _CannotRun(click.ClickException):
    """A command that never started: click prints the message, the exit status is the shell's."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
