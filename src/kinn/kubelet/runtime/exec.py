"""Processes started inside a running container (CRI Exec and ExecSync, as `runc exec` does them).

The new process joins the container process's network, IPC, UTS and mount namespaces, so it
sees the container's bind mounts (volumes, /etc/hosts …), and gets the container's environment
and working directory. Kubectl exec streams its stdin/stdout/stderr (or one terminal when a tty
is asked for: a terminal merges stdout and stderr, as containerd does); exec probes run it to
completion with a timeout (`exec_sync`). Like the processes of a container's PID namespace, an
exec'd process does not outlive the container: it is killed when the container ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from kinn.kubelet import nsutil, oom
from kinn.kubelet.runtime.process import ContainerProcess, exec_failure, exit_code_of
from kinn.kubelet.runtime.terminal import Stdin, Terminal, open_pty, take_controlling_terminal

EXEC_NAMESPACES = ("net", "ipc", "uts", "cgroup", "mnt")  # mnt last: joining it also moves root and cwd


class ExecError(RuntimeError):
    """The process could not be started in the container; the message says why."""


@dataclass(frozen=True)
class ExecResult:
    """What an ExecSync returns: the exit code and everything the process wrote."""

    exit_code: int
    stdout: bytes
    stderr: bytes


class ExecProcess:
    """A process running in a container; streams are None where not requested.

    With a tty, `stdout` reads the terminal (both output streams), `stdin` writes to it, and
    `resize` sets its window size; `stderr` is None.
    """

    def __init__(self, process: asyncio.subprocess.Process, container: ContainerProcess, *,
                 stdin: Stdin | None, stdout: asyncio.StreamReader | None,
                 stderr: asyncio.StreamReader | None, terminal: Terminal | None) -> None:
        self.pid = process.pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self._process = process
        self._terminal = terminal
        self._container_watch = asyncio.ensure_future(self._kill_with(container))

    async def wait(self) -> int:
        """Wait for the process to end; the exit code is 128+signal if a signal ended it."""
        return exit_code_of(await self._process.wait())

    def kill(self) -> None:
        """SIGKILL the process and whatever it started (its own session, so its process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)

    def resize(self, width: int, height: int) -> None:
        """Set the terminal's window size (columns, rows); without a tty there is nothing to size."""
        if self._terminal is not None:
            self._terminal.resize(width, height)

    async def _kill_with(self, container: ContainerProcess) -> None:
        waiting = asyncio.ensure_future(self._process.wait())
        ended = asyncio.ensure_future(container.wait())
        await asyncio.wait([waiting, ended], return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():
            self.kill()
            await waiting
        ended.cancel()


def _enter_container(namespace_fds: Sequence[int], cgroup_procs: Sequence[Path], oom_score_adj: int | None,
                     working_dir: Path, terminal_fd: int | None) -> None:
    """Runs in the forked child before exec: join the container (its cgroups too, so what runs
    counts against its limits, and its OOM score, as runc exec does), then its working directory.

    With a tty, the pty's slave side (`terminal_fd`) becomes its controlling terminal.
    """
    for procs in cgroup_procs:
        procs.write_text("0")
    if oom_score_adj is not None:
        oom.set_oom_score_adj(oom_score_adj)
    for fd in namespace_fds:
        nsutil.setns(fd)
    os.chdir(working_dir)
    if terminal_fd is not None:
        take_controlling_terminal(terminal_fd)


async def exec_in_container(container: ContainerProcess, argv: Sequence[str], *, tty: bool = False,
                            stdin: bool = False, stdout: bool = True, stderr: bool = True,
                            size: tuple[int, int] | None = None) -> ExecProcess:
    """Start `argv` in the running `container`, with pipes for the streams asked for (or one tty,
    of `size` (width, height) from its first moment: a command reading it at once must not see 0x0)."""
    if container.exit is not None:
        raise ExecError(f"container {container.id} is not running")
    if not argv:
        raise ExecError("exec command is empty")
    try:
        namespace_fds = [os.open(nsutil.namespace_path(container.pid, kind), os.O_RDONLY | os.O_CLOEXEC)
                         for kind in EXEC_NAMESPACES]
    except OSError as error:
        raise ExecError(f"container {container.id} is not running: {error}") from error
    master_fd, slave_fd = open_pty(size) if tty else (None, None)
    pipe_or_null = {True: asyncio.subprocess.PIPE, False: asyncio.subprocess.DEVNULL}
    try:
        process = await asyncio.create_subprocess_exec(
            *container.program(argv[0]), *argv[1:], env=dict(container.env), start_new_session=True,
            stdin=slave_fd if tty else pipe_or_null[stdin],
            stdout=slave_fd if tty else pipe_or_null[stdout],
            stderr=slave_fd if tty else pipe_or_null[stderr],
            preexec_fn=functools.partial(_enter_container, namespace_fds,
                                         container.cgroup.procs_files if container.cgroup else [],
                                         container.oom_score_adj, container.working_dir, slave_fd))
    except (OSError, subprocess.SubprocessError) as error:
        if master_fd is not None:
            os.close(master_fd)
        raise ExecError(f"failed to exec in container {container.name!r}: unable to start container process: "
                        f"{exec_failure(argv[0], error)}") from error
    finally:
        for fd in namespace_fds:
            os.close(fd)
        if slave_fd is not None:
            os.close(slave_fd)  # the child holds its own copies; ours would keep the terminal open forever
    if master_fd is None:
        return ExecProcess(process, container, stdin=process.stdin, stdout=process.stdout, stderr=process.stderr,
                           terminal=None)
    terminal = Terminal(master_fd)
    return ExecProcess(process, container, stdin=terminal if stdin else None, stdout=terminal.output, stderr=None,
                       terminal=terminal)


async def exec_sync(container: ContainerProcess, argv: Sequence[str], timeout: float) -> ExecResult:
    """Run `argv` in the container to completion (exec probes); killed, raising TimeoutError, after `timeout`."""
    process = await exec_in_container(container, argv)
    assert process.stdout is not None and process.stderr is not None
    outputs = asyncio.gather(process.stdout.read(), process.stderr.read(), process.wait())
    try:
        stdout, stderr, exit_code = await asyncio.wait_for(outputs, timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise
    return ExecResult(exit_code, stdout, stderr)
