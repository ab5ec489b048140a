"""The exec protocol between a CNI runtime and a plugin: finding the binary, the environment, and
reading its answer. Shared by the async runtime and by plugins that delegate (bridge → IPAM,
flannel → bridge), which call their delegates synchronously like the reference `invoke` package.

Plugins import this module, and a plugin's start-up time is part of every pod's: it imports
neither subprocess, pathlib nor typing (~35 ms together, as much as starting the interpreter)."""

from __future__ import annotations

import os

from kinn.cni import codec
from kinn.cni.errors import DECODING_FAILURE, INTERNAL, CNIError, PluginNotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def find_plugin(plugin: str, paths: list[str]) -> str:
    """The first executable named `plugin` in `paths` (CNI_PATH order)."""
    if "/" in plugin:
        raise PluginNotFound(plugin, paths)
    for directory in paths:
        candidate = os.path.join(directory, plugin)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
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
        data = codec.loads(text) if text else None
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
    return parse_output(*run_binary(binary, codec.dumps(config).encode(), env), plugin)


def run_binary(binary: str, stdin: bytes, env: Mapping[str, str]) -> tuple[int, bytes, bytes]:
    """What `subprocess.run([binary], input=stdin, capture_output=True, env=env)` returns, with
    os.posix_spawn: the kernel's vfork path, ~1 ms where fork() of a large process (the kubelet's
    agent, whose event loop would fork for asyncio's subprocesses) costs ~8. The child's stdin,
    stdout and stderr are memory files (memfd), not pipes: it reads and writes them like pipes, and
    with nothing to write or drain while it runs there is no poll loop and no deadlock on a full pipe. The exit code is negative for a signal, as subprocess's."""
    files = [os.memfd_create(name) for name in ("stdin", "stdout", "stderr")]
    try:
        os.write(files[0], stdin)
        os.lseek(files[0], 0, os.SEEK_SET)
        pid = os.posix_spawn(binary, [binary], env,
                             file_actions=[(os.POSIX_SPAWN_DUP2, fd, number) for number, fd in enumerate(files)])
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), _read_all(files[1]), _read_all(files[2])
    finally:
        for fd in files:
            os.close(fd)


def _read_all(fd: int) -> bytes:
    """Everything written to a memory file, from its start (the child moved the shared offset)."""
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)
