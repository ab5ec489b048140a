"""Terminals: the pty a `tty: true` container or a `kubectl exec -t` process gets, as runc's console.

The process holds the pty's slave side as stdin, stdout and stderr and as its controlling terminal
(so a shell prompts, echoes, has job control, and ^C reaches its foreground job); the runtime drives
the master side: what the process writes is read there (one stream: a terminal merges stdout and
stderr), what a user types is written there, and the window size is set there.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import struct
import termios
from typing import Protocol

READ_SIZE = 64 * 1024


class Stdin(Protocol):
    """Where a process's input goes: a pipe's asyncio.StreamWriter, or a terminal's input."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...

    def is_closing(self) -> bool: ...


class Terminal:
    """A pty's master side driven by the event loop's reader/writer callbacks.

    Not a pipe transport: uvloop (the daemons' loop) reads nothing from a pty that way. EIO on
    read means every slave end closed, i.e. the end of the output: the terminal is then closed.
    """

    def __init__(self, master_fd: int) -> None:
        self.fd = master_fd
        self.output = asyncio.StreamReader()
        self._loop = asyncio.get_running_loop()
        self._pending = b""
        self._closed = False
        os.set_blocking(master_fd, False)
        self._loop.add_reader(master_fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as error:
            if error.errno != errno.EIO:
                raise
            data = b""
        if data:
            self.output.feed_data(data)
        else:
            self.release()

    def release(self) -> None:
        """Close the master side and end the output: every slave end closed, or the process is gone
        and whatever it left holding the slave (killed with it) must not keep the pty forever."""
        if self.fd >= 0:
            self._loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1
            self.output.feed_eof()

    def write(self, data: bytes) -> None:
        """Write what the terminal takes now, as a transport does; `drain` waits for the rest."""
        self._pending += data
        self._flush()

    def _flush(self) -> None:
        with contextlib.suppress(BlockingIOError):
            if self._pending and self.fd >= 0:
                self._pending = self._pending[os.write(self.fd, self._pending):]

    def resize(self, width: int, height: int) -> None:
        if self.fd >= 0:
            set_window_size(self.fd, width, height)

    async def drain(self) -> None:
        self._flush()
        while self._pending and self.fd >= 0:
            writable = self._loop.create_future()
            self._loop.add_writer(self.fd, writable.set_result, None)
            try:
                await writable
            finally:
                self._loop.remove_writer(self.fd)
            self._flush()

    def close(self) -> None:
        """End of input: a terminal has no half-close, so the EOF character is typed, as ^D is."""
        if not self._closed and self.fd >= 0:
            self._closed = True
            self.write(termios.tcgetattr(self.fd)[6][termios.VEOF])

    def is_closing(self) -> bool:
        return self._closed


def open_pty(size: tuple[int, int] | None = None) -> tuple[int, int]:
    """A new pty's (master, slave) descriptors, of `size` (width, height) from its first moment if
    given: a command that reads its size at once must not see 0x0."""
    master_fd, slave_fd = os.openpty()
    if size is not None:
        set_window_size(master_fd, *size)
    return master_fd, slave_fd


def set_window_size(fd: int, width: int, height: int) -> None:
    """A terminal's size in columns and rows (TIOCSWINSZ), on either side of a pty."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def take_controlling_terminal(slave_fd: int) -> None:
    """Runs in a forked child before exec: become a session leader and take the pty's slave side as
    controlling terminal. On the slave's own descriptor: uvloop (the daemons' loop) runs the child's
    hook before its setsid and before the slave is duplicated onto 0, 1 and 2."""
    if os.getsid(0) != os.getpid():
        os.setsid()
    fcntl.ioctl(slave_fd, termios.TIOCSCTTY, 0)
