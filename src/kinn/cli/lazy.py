"""Click groups whose subcommands are imported when invoked, not up front.

Every kinn process (the server, each node's agent, the DNS and ingress pods, each `kinn node exec`)
is the one `kinn` command; importing all of kinn for each would cost every one of them ~20 MB and
most of a second of start-up.
"""

from __future__ import annotations

import importlib
from typing import Any

import click


class LazyGroup(click.Group):
    """`lazy_commands` maps each subcommand's name to "module:attribute" of its click command."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy_commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_commands.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command
