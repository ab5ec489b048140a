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
import errno
import fcntl
import functools
import os
import signal
import struct
import subprocess
import termios
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from kinn.kubelet import nsutil
from kinn.kubelet.runtime.process import ContainerProcess, exit_code_of

EXEC_NAMESPACES = ("net", "ipc", "uts", "mnt")  # mnt last: joining it also moves root and cwd


class ExecError(RuntimeError):
    """The process could not be started in the container; the message says why."""


@dataclass(frozen=True)
class ExecResult:
    """What an ExecSync returns: the exit code and everything the process wrote."""

    exit_code: int
    stdout: bytes
    stderr: bytes


class _TerminalReaderProtocol(asyncio.StreamReaderProtocol):
    """Reads a pty's master side: EIO there means every slave end closed, i.e. end of output."""

    def connection_lost(self, exc: Exception | None) -> None:
        if isinstance(exc, OSError) and exc.errno == errno.EIO:
            exc = None
        super().connection_lost(exc)


class ExecProcess:
    """A process running in a container; streams are None where not requested.

    With a tty, `stdout` reads the terminal (both output streams), `stdin` writes to it, and
    `resize` sets its window size; `stderr` is None.
    """

    def __init__(self, process: asyncio.subprocess.Process, container: ContainerProcess, *,
                 stdin: asyncio.StreamWriter | None, stdout: asyncio.StreamReader | None,
                 stderr: asyncio.StreamReader | None, terminal_fd: int | None) -> None:
        self.pid = process.pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self._process = process
        self._terminal_fd = terminal_fd
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
        if self._terminal_fd is not None:
            fcntl.ioctl(self._terminal_fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def _kill_with(self, container: ContainerProcess) -> None:
        waiting = asyncio.ensure_future(self._process.wait())
        ended = asyncio.ensure_future(container.wait())
        await asyncio.wait([waiting, ended], return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():
            self.kill()
            await waiting
        ended.cancel()
        if self._terminal_fd is not None:  # the streams read and write through their own copies
            terminal_fd, self._terminal_fd = self._terminal_fd, None
            os.close(terminal_fd)


def _enter_container(namespace_fds: Sequence[int], working_dir: Path, tty: bool) -> None:
    """Runs in the forked child before exec: join the container, then its working directory.

    With a tty, the child (already a session leader) takes its terminal as controlling terminal,
    so shells get job control and ^C reaches the foreground process.
    """
    for fd in namespace_fds:
        nsutil.setns(fd)
    os.chdir(working_dir)
    if tty:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)


async def _terminal_streams(master_fd: int, stdin: bool) -> tuple[asyncio.StreamReader, asyncio.StreamWriter | None]:
    """Async reader (and writer, for stdin) over a pty's master side; each transport owns its own fd."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: _TerminalReaderProtocol(reader), os.fdopen(os.dup(master_fd), "rb", 0))
    if not stdin:
        return reader, None
    transport, protocol = await loop.connect_write_pipe(
        lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), os.fdopen(os.dup(master_fd), "wb", 0))
    return reader, asyncio.StreamWriter(transport, protocol, None, loop)


async def exec_in_container(container: ContainerProcess, argv: Sequence[str], *, tty: bool = False,
                            stdin: bool = False, stdout: bool = True, stderr: bool = True) -> ExecProcess:
    """Start `argv` in the running `container`, with pipes for the streams asked for (or one tty)."""
    if container.exit is not None:
        raise ExecError(f"container {container.id} is not running")
    if not argv:
        raise ExecError("exec command is empty")
    try:
        namespace_fds = [os.open(nsutil.namespace_path(container.pid, kind), os.O_RDONLY | os.O_CLOEXEC)
                         for kind in EXEC_NAMESPACES]
    except OSError as error:
        raise ExecError(f"container {container.id} is not running: {error}") from error
    master_fd, slave_fd = os.openpty() if tty else (None, None)
    pipe_or_null = {True: asyncio.subprocess.PIPE, False: asyncio.subprocess.DEVNULL}
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, env=dict(container.env), start_new_session=True,
            stdin=slave_fd if tty else pipe_or_null[stdin],
            stdout=slave_fd if tty else pipe_or_null[stdout],
            stderr=slave_fd if tty else pipe_or_null[stderr],
            preexec_fn=functools.partial(_enter_container, namespace_fds, container.working_dir, tty))
    except (OSError, subprocess.SubprocessError) as error:
        if master_fd is not None:
            os.close(master_fd)
        raise ExecError(f"failed to exec in container {container.name!r} ({argv[0]}): {error}") from error
    finally:
        for fd in namespace_fds:
            os.close(fd)
        if slave_fd is not None:
            os.close(slave_fd)  # the child holds its own copies; ours would keep the terminal open forever
    if master_fd is None:
        return ExecProcess(process, container, stdin=process.stdin, stdout=process.stdout, stderr=process.stderr,
                           terminal_fd=None)
    terminal_out, terminal_in = await _terminal_streams(master_fd, stdin)
    return ExecProcess(process, container, stdin=terminal_in, stdout=terminal_out, stderr=None,
                       terminal_fd=master_fd)


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
