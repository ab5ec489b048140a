"""Container logs in the CRI format the kubelet reads (`kubectl logs`), as containerd writes them.

Each line is `<RFC3339 timestamp, fixed 9-digit nanoseconds> <stdout|stderr> <F|P> <content>\\n`:
`F` ends a line, `P` is a partial piece of a line longer than the maximum line size. Files live at
`<root>/<namespace>_<pod>_<uid>/<container>/<restartCount>.log`.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Callable, Iterator

DEFAULT_LOG_ROOT = Path("/var/log/pods")
MAX_LINE_SIZE = 16 * 1024  # containerd's default max_container_log_line_size
READ_SIZE = 64 * 1024
FULL, PARTIAL = b"F", b"P"


def pod_log_dir(root: Path, namespace: str, pod: str, uid: str) -> Path:
    """`<root>/<namespace>_<pod>_<uid>`: the pod's log directory (kubelet BuildPodLogsDirectory)."""
    return root / f"{namespace}_{pod}_{uid}"


def container_log_path(root: Path, namespace: str, pod: str, uid: str, container: str, restart_count: int) -> Path:
    """`<pod log dir>/<container>/<restartCount>.log`: one file per container run."""
    return pod_log_dir(root, namespace, pod, uid) / container / f"{restart_count}.log"


def format_timestamp(nanoseconds: int) -> str:
    """UTC RFC 3339 with exactly nine fractional digits (containerd's fixed-width timestampFormat)."""
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


def format_line(nanoseconds: int, stream: str, tag: bytes, content: bytes) -> bytes:
    """One CRI log line, newline-terminated."""
    return b"%s %s %s %s\n" % (format_timestamp(nanoseconds).encode(), stream.encode(), tag, content)


class LineSplitter:
    """Cuts a byte stream into (tag, content) pieces: complete lines as F, overlong runs as P.

    Mirrors containerd's redirectLogs: the line ending ("\\n" or "\\r\\n") is dropped, a line
    longer than `max_size` is emitted in `max_size` P pieces followed by an F remainder, and
    bytes left without a newline at end of stream are flushed as an F line.
    """

    def __init__(self, max_size: int = MAX_LINE_SIZE) -> None:
        self.max_size = max_size
        self._pending = b""

    def feed(self, data: bytes) -> Iterator[tuple[bytes, bytes]]:
        self._pending += data
        while piece := self._next_piece():
            yield piece

    def close(self) -> Iterator[tuple[bytes, bytes]]:
        if self._pending:
            line, self._pending = self._pending, b""
            yield FULL, line.removesuffix(b"\r")

    def _next_piece(self) -> tuple[bytes, bytes] | None:
        end = self._pending.find(b"\n", 0, self.max_size + 1)
        if end != -1:
            line, self._pending = self._pending[:end], self._pending[end + 1:]
            return FULL, line.removesuffix(b"\r")
        if len(self._pending) > self.max_size:
            piece, self._pending = self._pending[:self.max_size], self._pending[self.max_size:]
            return PARTIAL, piece
        return None


def open_log(path: Path) -> int:
    """Open (creating directories) a log file for appending; O_APPEND keeps both streams' lines whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)


async def copy_stream(reader: asyncio.StreamReader, stream: str, log_fd: int,
                      tee: Callable[[bytes], None] | None = None) -> None:
    """Copy a container's stdout or stderr into the log until the pipe closes, stamping each line;
    `tee` also gets each piece as read, then b"" at the end."""
    splitter = LineSplitter()
    while data := await reader.read(READ_SIZE):
        if tee is not None:
            tee(data)
        _write(log_fd, stream, splitter.feed(data))
    if tee is not None:
        tee(b"")
    _write(log_fd, stream, splitter.close())


def _write(log_fd: int, stream: str, pieces: Iterator[tuple[bytes, bytes]]) -> None:
    now = time.time_ns()
    lines = b"".join(format_line(now, stream, tag, content) for tag, content in pieces)
    if lines:
        os.write(log_fd, lines)
