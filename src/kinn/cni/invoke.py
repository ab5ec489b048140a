"""The exec protocol between a CNI runtime and a plugin: finding the binary, the environment, and
reading its answer. Shared by the async runtime and by plugins that delegate (bridge → IPAM,
flannel → bridge), which call their delegates synchronously like the reference `invoke` package."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Mapping

from kinn.cni.errors import DECODING_FAILURE, INTERNAL, CNIError, PluginNotFound


def find_plugin(plugin: str, paths: list[str]) -> Path:
    """The first executable named `plugin` in `paths` (CNI_PATH order)."""
    if "/" in plugin:
        raise PluginNotFound(plugin, paths)
    for directory in paths:
        candidate = Path(directory) / plugin
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise PluginNotFound(plugin, paths)


def format_args(args: Mapping[str, str]) -> str:
    """CNI_ARGS: `K=V;K=V` in the given order."""
    return ";".join(f"{key}={value}" for key, value in args.items())


def parse_args(text: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in text.split(";") if item)
    return {key: value for key, value in pairs}


def plugin_env(command: str, container_id: str, netns: str, ifname: str, args: Mapping[str, str],
               paths: list[str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for one invocation: the caller's plus the CNI_* variables."""
    env = dict(os.environ if base is None else base)
    env.update(CNI_COMMAND=command, CNI_CONTAINERID=container_id, CNI_NETNS=netns, CNI_IFNAME=ifname,
               CNI_ARGS=format_args(args), CNI_PATH=os.pathsep.join(paths))
    return env


def parse_output(returncode: int, stdout: bytes, stderr: bytes, plugin: str) -> dict[str, Any] | None:
    """The plugin's JSON answer, or CNIError from its error object (or its stderr if it wrote none)."""
    text = stdout.strip()
    try:
        data = json.loads(text) if text else None
    except ValueError as exc:
        if returncode == 0:
            raise CNIError(DECODING_FAILURE, f"plugin {plugin} wrote invalid JSON", text.decode(errors="replace")) from exc
        data = None
    if returncode != 0:
        if isinstance(data, dict) and "code" in data:
            raise CNIError.from_dict(data)
        raise CNIError(INTERNAL, f"plugin {plugin} failed (exit {returncode})",
                       (stderr or stdout).decode(errors="replace").strip())
    return data


def exec_plugin(plugin: str, command: str, config: dict[str, Any], env: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """Run a delegate synchronously with the caller's CNI environment but another CNI_COMMAND."""
    env = dict(os.environ if env is None else env)
    env["CNI_COMMAND"] = command
    binary = find_plugin(plugin, [p for p in env.get("CNI_PATH", "").split(os.pathsep) if p])
    proc = subprocess.run([str(binary)], input=json.dumps(config).encode(), capture_output=True, env=env)
    return parse_output(proc.returncode, proc.stdout, proc.stderr, plugin)
