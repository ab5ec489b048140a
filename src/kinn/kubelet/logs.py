"""Container logs as the kubelet serves them (`kubectl logs`): CRI log files read back per PodLogOptions.

The runtime writes `<RFC3339Nano> <stream> <F|P> <content>` lines (crilog.py); reading turns them
back into the container's output, as the kubelet's kuberuntime/logs ReadLogs does: a `P` piece
continues on the next line, `F` ends a line; `timestamps` prefixes every piece with its
RFC3339Nano time (trailing zeros trimmed, Go's format); `tailLines` counts log-file lines from
the end; `sinceSeconds`/`sinceTime` skip older pieces; `limitBytes` cuts the output; `follow`
keeps reading while the container runs. Which file is read (`previous`, a container waiting to
restart) follows the kubelet's validateContainerLogStatus.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Awaitable, Callable, Mapping

from kinn.kubelet.status import ContainerRecord

FOLLOW_POLL = 0.1  # seconds between looks at a followed log file that has no new data
READ_SIZE = 64 * 1024
TAIL_BLOCK = 8 * 1024
UNDECODABLE = '{"message": "Unable to decode query."}'  # the kubelet's reply texts, JSON-looking as upstream's
INVALID = '{"message": "Invalid request."}'
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")

Write = Callable[[str, bytes], Awaitable[None]]  # (stream, output)


class LogOptionsError(ValueError):
    """The query does not decode (400) or is not valid (422), with the kubelet's reply text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class LogsUnavailable(RuntimeError):
    """No log to show for the container in its current state; the message is the kubelet's."""


@dataclass(frozen=True)
class LogOptions:
    """The v1 PodLogOptions the kubelet reads logs with; `since_ns` from sinceSeconds or sinceTime."""

    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    limit_bytes: int | None = None
    since_ns: int | None = None


@dataclass(frozen=True)
class LogLine:
    """One CRI log-file line: when it was written, the stream, whether it ends a line, the bytes."""

    timestamp_ns: int
    stream: str
    partial: bool
    content: bytes


# -- query ----------------------------------------------------------------------------------

def _bool(query: Mapping[str, str], name: str) -> bool:
    """Go's strconv.ParseBool, as the parameter codec decodes boolean query values."""
    value = query.get(name, "false")
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise LogOptionsError(400, UNDECODABLE)


def _int(query: Mapping[str, str], name: str) -> int | None:
    if name not in query:
        return None
    try:
        return int(query[name])
    except ValueError:
        raise LogOptionsError(400, UNDECODABLE) from None


def parse_log_options(query: Mapping[str, str], now_ns: int | None = None) -> LogOptions:
    """Decode and validate the kubelet's /containerLogs query (`tail` is an alias of tailLines, "all" = none)."""
    values = dict(query)
    if "tail" in values:
        tail = values.pop("tail")
        if tail != "all":
            values["tailLines"] = tail
    tail_lines, limit_bytes = _int(values, "tailLines"), _int(values, "limitBytes")
    since_seconds = _int(values, "sinceSeconds")
    try:
        since_time = parse_rfc3339(values["sinceTime"]) if "sinceTime" in values else None
    except ValueError:
        raise LogOptionsError(400, UNDECODABLE) from None
    invalid = ((tail_lines is not None and tail_lines < 0) or (limit_bytes is not None and limit_bytes < 1)
               or (since_seconds is not None and (since_time is not None or since_seconds < 1)))
    if invalid:
        raise LogOptionsError(422, INVALID)
    since_ns = since_time
    if since_seconds is not None:
        since_ns = (time.time_ns() if now_ns is None else now_ns) - since_seconds * 1_000_000_000
    return LogOptions(follow=_bool(values, "follow"), previous=_bool(values, "previous"),
                      timestamps=_bool(values, "timestamps"), tail_lines=tail_lines, limit_bytes=limit_bytes,
                      since_ns=since_ns)


# -- the log format -------------------------------------------------------------------------

def parse_rfc3339(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time with up to nine fractional digits."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    whole, fraction, zone = match.groups()
    seconds = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone)).timestamp()
    return int(seconds) * 1_000_000_000 + int((fraction or "").ljust(9, "0"))


def format_rfc3339_nano(nanoseconds: int) -> str:
    """Go's time.RFC3339Nano in UTC: fractional seconds without trailing zeros (none if whole)."""
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{fraction:09d}".rstrip("0")
    return f"{stamp}.{digits}Z" if digits else f"{stamp}Z"


def parse_line(line: bytes) -> LogLine:
    """Split one log-file line (without its newline); a malformed line raises ValueError."""
    parts = line.split(b" ", 3)
    if len(parts) != 4 or parts[1] not in (b"stdout", b"stderr") or parts[2] not in (b"F", b"P"):
        raise ValueError(f"unexpected CRI log line {line[:80]!r}")
    timestamp, stream, tag, content = parts
    return LogLine(parse_rfc3339(timestamp.decode()), stream.decode(), tag == b"P", content)


def render(line: LogLine, timestamps: bool) -> bytes:
    """What the reader of the logs sees of one line: the content, its newline unless partial."""
    prefix = format_rfc3339_nano(line.timestamp_ns).encode() + b" " if timestamps else b""
    return prefix + line.content + (b"" if line.partial else b"\n")


def tail_offset(fd: int, lines: int) -> int:
    """Where the last `lines` lines of the file begin (kubelet's FindTailLineStartIndex), reading
    blocks backwards from the end so a long log is not read whole."""
    end = os.fstat(fd).st_size
    if lines == 0:
        return end
    position, newlines = end, 0
    if end and os.pread(fd, 1, end - 1) == b"\n":
        newlines = -1  # the final newline ends the last line, it does not start a new one
    while position > 0:
        start = max(0, position - TAIL_BLOCK)
        block = os.pread(fd, position - start, start)
        for index in range(len(block) - 1, -1, -1):
            if block[index] == 0x0A:
                newlines += 1
                if newlines == lines:
                    return start + index + 1
        position = start
    return 0


# -- which run's log ------------------------------------------------------------------------

def log_run(record: ContainerRecord, pod_name: str, previous: bool) -> tuple[int, bool]:
    """(the run whose log file to read, whether that run is still going), per validateContainerLogStatus.

    Log files are numbered by run: the current run is `restart_count`, the one before it the
    last terminated; a container waiting to restart has only the last terminated run.
    """
    name = record.name
    last_run = record.restart_count - 1 if record.process is not None else record.restart_count
    if previous:
        if record.last_terminated is None:
            raise LogsUnavailable(f'previous terminated container "{name}" in pod "{pod_name}" not found')
        return last_run, False
    if record.process is not None:
        return record.restart_count, record.running
    if record.last_terminated is not None:
        return last_run, False
    reason = record.waiting_reason
    if reason == "ErrImagePull":
        raise LogsUnavailable(f'container "{name}" in pod "{pod_name}" is waiting to start: image can\'t be pulled')
    if reason == "ImagePullBackOff":
        raise LogsUnavailable(f'container "{name}" in pod "{pod_name}" is waiting to start: '
                              "trying and failing to pull image")
    raise LogsUnavailable(f'container "{name}" in pod "{pod_name}" is waiting to start: {reason}')


# -- reading --------------------------------------------------------------------------------

class _Limit:
    """limitBytes: what may still be written; the output is cut mid-line when it runs out."""

    def __init__(self, limit: int | None) -> None:
        self.remaining = limit

    def take(self, data: bytes) -> bytes:
        if self.remaining is None:
            return data
        data = data[:self.remaining]
        self.remaining -= len(data)
        return data

    @property
    def exhausted(self) -> bool:
        return self.remaining == 0


async def stream_log(path: Path, options: LogOptions, running: Callable[[], bool], write: Write) -> None:
    """Write the log at `path` as the options say, each run of same-stream lines in one call;
    with `follow`, until `running()` turns false and everything the run wrote has been read."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        position = tail_offset(fd, options.tail_lines) if options.tail_lines is not None else 0
        limit, pending = _Limit(options.limit_bytes), b""
        while not limit.exhausted:
            still_running = options.follow and running()  # asked before reading: no line is missed
            data = os.pread(fd, READ_SIZE, position)
            position += len(data)
            *complete, pending = (pending + data).split(b"\n")
            lines = [line for line in map(parse_line, complete)
                     if options.since_ns is None or line.timestamp_ns >= options.since_ns]
            for stream, group in itertools.groupby(lines, key=lambda line: line.stream):
                output = limit.take(b"".join(render(line, options.timestamps) for line in group))
                if output:
                    await write(stream, output)
            if not data:
                if not still_running:
                    return
                await asyncio.sleep(FOLLOW_POLL)
    finally:
        os.close(fd)
