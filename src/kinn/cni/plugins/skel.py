"""The plugin side of the exec protocol (the reference `skel` package): read CNI_* and stdin,
dispatch on CNI_COMMAND, print the result or the error object and exit non-zero on failure."""

from __future__ import annotations

import os
import sys

from kinn.cni import codec
from kinn.cni.errors import DECODING_FAILURE, INCOMPATIBLE_VERSION, INTERNAL, INVALID_ENVIRONMENT, CNIError
from kinn.cni.invoke import parse_args

TYPE_CHECKING = False  # every plugin imports this module: no typing at run time (see kinn.cni)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")


class CmdArgs:
    """What one invocation was asked to do: the CNI_* environment and the config on stdin.

    A plain class rather than a dataclass: `dataclasses` (and `inspect` behind it) would add tens
    of milliseconds to the start of every plugin process, and plugins run at every pod start."""

    __slots__ = ("container_id", "netns", "ifname", "args", "path", "config")

    def __init__(self, container_id: str, netns: str, ifname: str, args: dict[str, str], path: list[str],
                 config: dict[str, Any]) -> None:
        self.container_id = container_id
        self.netns = netns
        self.ifname = ifname
        self.args = args
        self.path = path
        self.config = config  # the parsed stdin

    @property
    def cni_version(self) -> str:
        return str(self.config.get("cniVersion", "1.0.0"))


if TYPE_CHECKING:
    Handler = Callable[[CmdArgs], "dict[str, Any] | None"]


def _cmd_args(command: str) -> CmdArgs:
    try:
        config = codec.loads(sys.stdin.buffer.read() or b"{}")
    except ValueError as exc:
        raise CNIError(DECODING_FAILURE, "error decoding network config", str(exc)) from exc
    env = os.environ
    required = {"ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"), "DEL": ("CNI_CONTAINERID", "CNI_IFNAME"),
                "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME")}.get(command, ())
    missing = [name for name in required if not env.get(name)]
    if missing:
        raise CNIError(INVALID_ENVIRONMENT, f"required env variables [{','.join(missing)}] missing")
    if config.get("cniVersion", "1.0.0") not in SUPPORTED_VERSIONS:
        raise CNIError(INCOMPATIBLE_VERSION, "incompatible CNI versions",
                       f'config is "{config.get("cniVersion")}", plugin supports {list(SUPPORTED_VERSIONS)}')
    return CmdArgs(env.get("CNI_CONTAINERID", ""), env.get("CNI_NETNS", ""), env.get("CNI_IFNAME", ""),
                   parse_args(env.get("CNI_ARGS", "")), [p for p in env.get("CNI_PATH", "").split(os.pathsep) if p],
                   config)


def plugin_main(add: Handler, delete: Handler, check: Handler, about: str) -> None:
    """Entry point of a plugin module: never returns."""
    command = os.environ.get("CNI_COMMAND", "")
    version = "1.0.0"
    try:
        if command == "VERSION":
            _print({"cniVersion": "1.1.0", "supportedVersions": list(SUPPORTED_VERSIONS)})
            sys.exit(0)
        if not command:
            sys.stderr.write(f"{about}\nCNI protocol versions supported: {', '.join(SUPPORTED_VERSIONS)}\n")
            sys.exit(0)
        handlers = {"ADD": add, "DEL": delete, "CHECK": check}
        if command not in handlers:
            raise CNIError(INVALID_ENVIRONMENT, f"unknown CNI_COMMAND: {command}")
        cmd = _cmd_args(command)
        version = cmd.cni_version
        answer = handlers[command](cmd)
        if command == "ADD" and answer is not None:
            _print(answer)
    except CNIError as exc:
        _print(exc.to_dict(version))
        sys.exit(1)
    except Exception as exc:  # the reference skel reports any other failure as code 999
        _print(CNIError(INTERNAL, str(exc) or type(exc).__name__).to_dict(version))
        sys.exit(1)
    sys.exit(0)


def _print(data: dict[str, Any]) -> None:
    sys.stdout.write(codec.dumps(data))
    sys.stdout.flush()


def prev_result(cmd: CmdArgs) -> dict[str, Any]:
    prev = cmd.config.get("prevResult")
    return dict(prev) if isinstance(prev, dict) else {"cniVersion": cmd.cni_version, "ips": [], "dns": {}}
