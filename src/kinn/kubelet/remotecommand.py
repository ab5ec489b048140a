"""The remote command protocol over WebSocket (`kubectl exec` / `attach`), the kubelet's side.

Every WebSocket message is binary: one channel byte, then data. Channels: 0 stdin (client to
server), 1 stdout, 2 stderr, 3 error, 4 resize (client to server, JSON `{"Width":…,"Height":…}`).
v4.channel.k8s.io reports the end on the error channel as a JSON metav1.Status: Success, or
Failure with reason NonZeroExitCode and the code as an ExitCode cause. v5.channel.k8s.io adds a
close signal, `[255, channel]`, with which the client ends its stdin without closing the
connection (kubectl only speaks v5). The server announces itself with an empty message on its
lowest output channel, writes the status, then closes the connection normally (code 1000), as
the API server's websocket stream server does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Sequence

from aiohttp import WSMessage, WSMsgType, web

from kinn.kubelet.runtime import ExecError, ExecProcess
from kinn.kubelet.runtime.terminal import Stdin

log = logging.getLogger("kinn.kubelet.remotecommand")

V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"
PROTOCOLS = (V5, V4)
STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255  # v5: [CLOSE, channel] ends that channel
READ_SIZE = 32 * 1024  # client-go's websocket data buffer
# kubectl sends the terminal's size as soon as the stream is up; a command started before it arrives
# would see a 0x0 terminal (`stty size` fails, full-screen programs draw in 80x24), so a tty session
# waits this long for it and starts the process on a terminal of that size.
FIRST_RESIZE_WAIT = 1.0

Obj = dict[str, Any]


class StreamOptionsError(ValueError):
    """The request asks for no stream at all (the kubelet answers 400 with this text)."""


@dataclass(frozen=True)
class StreamOptions:
    """Which streams the client wants (remotecommand NewOptions): query values "1" mean yes."""

    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> "StreamOptions":
        """A terminal has one output stream, so stderr is dropped with tty, as the kubelet does."""
        flags = {name: query.get(name) == "1" for name in ("stdin", "stdout", "stderr", "tty")}
        if not (flags["stdin"] or flags["stdout"] or flags["stderr"]):
            raise StreamOptionsError("you must specify at least 1 of stdin, stdout, stderr")
        if flags["tty"]:
            flags["stderr"] = False
        return cls(**flags)


# -- framing and statuses -----------------------------------------------------------------

def frame(channel: int, data: bytes) -> bytes:
    return bytes((channel,)) + data


def client_frame(message: WSMessage) -> bytes | None:
    """A client message's frame: a binary one as it is, a text one as its UTF-8 bytes (the Python
    client sends str data as text frames; upstream's wsstream reads both alike). None for the
    connection's own messages (close, error)."""
    if message.type == WSMsgType.BINARY:
        return message.data
    if message.type == WSMsgType.TEXT:
        return message.data.encode()
    return None


def unframe(message: bytes) -> tuple[int, bytes]:
    """(channel, data) of a client message; an empty message carries nothing (channel -1)."""
    return (message[0], message[1:]) if message else (-1, b"")


def success_status() -> Obj:
    return {"metadata": {}, "status": "Success"}


def exit_status(argv: Sequence[str], exit_code: int) -> Obj:
    """A non-zero exit in containerd's and the kubelet's words; kubectl exits with the cause's code."""
    command = "[" + " ".join(argv) + "]"  # Go's %v of a []string
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command {command}, "
                       f"exit code {exit_code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]}}


def internal_error_status(message: str) -> Obj:
    return {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {message}",
            "reason": "InternalError", "details": {"causes": [{"message": message}]}, "code": 500}


def terminal_sizes(buffer: bytes) -> tuple[list[tuple[int, int]], bytes]:
    """(width, height) of each complete JSON TerminalSize in `buffer`, and what is left over."""
    decoder, text, sizes, index = json.JSONDecoder(), buffer.decode(errors="replace"), [], 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        try:
            size, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            return sizes, text[index:].encode()
        sizes.append((int(size.get("Width", 0)), int(size.get("Height", 0))))


# -- a session ----------------------------------------------------------------------------

class StreamSession:
    """One upgraded connection: pumps a process's streams over the channels and reports its end."""

    def __init__(self, ws: web.WebSocketResponse, options: StreamOptions) -> None:
        self.ws = ws
        self.options = options
        self._send_lock = asyncio.Lock()
        self._early: list[Any] = []  # client messages read before the process started, replayed to it

    @classmethod
    async def accept(cls, request: web.Request, options: StreamOptions) -> "StreamSession":
        """Upgrade to WebSocket with a protocol both sides speak; 400 for anything else."""
        ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True)
        ready = ws.can_prepare(request)
        if not ready.ok or ready.protocol is None:
            offered = request.headers.get("Sec-WebSocket-Protocol", "")
            raise web.HTTPBadRequest(text=f"unable to upgrade: the kubelet speaks WebSocket with "
                                          f"{', '.join(PROTOCOLS)} (offered: {offered or 'none'}); "
                                          "SPDY is not supported")
        await ws.prepare(request)
        session = cls(ws, options)
        lowest = STDOUT if options.stdout else STDERR if options.stderr else ERROR
        await session.send(lowest, b"")  # tells the client the streams are ready
        return session

    async def send(self, channel: int, data: bytes) -> None:
        async with self._send_lock:
            await self.ws.send_bytes(frame(channel, data))

    async def finish(self, status: Obj) -> None:
        """The status on the error channel, then a normal close: the client reads to the end first."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send(ERROR, json.dumps(status).encode())
            await self.ws.close()

    async def run(self, process: ExecProcess) -> int | None:
        """Pump until the process ended and its output is sent; its exit code, or None if the
        client went away first (the process is then killed: nobody is left to read it)."""
        outputs = [asyncio.ensure_future(self._pump_output(reader, channel))
                   for reader, channel in ((process.stdout, STDOUT), (process.stderr, STDERR)) if reader is not None]
        inputs = asyncio.ensure_future(self.pump_input(process.stdin, process.resize))
        finished = asyncio.ensure_future(self._wait_done(process, outputs))
        await asyncio.wait([finished, inputs], return_when=asyncio.FIRST_COMPLETED)
        if not finished.done():
            process.kill()
            await process.wait()
            for task in (*outputs, finished):
                task.cancel()
            return None
        inputs.cancel()
        return finished.result()

    @staticmethod
    async def _wait_done(process: ExecProcess, outputs: list[asyncio.Future[None]]) -> int:
        exit_code = await process.wait()
        if outputs:
            await asyncio.wait(outputs)
        return exit_code

    async def _pump_output(self, reader: asyncio.StreamReader, channel: int) -> None:
        while data := await reader.read(READ_SIZE):
            await self.send(channel, data)

    async def first_size(self, timeout: float = FIRST_RESIZE_WAIT) -> tuple[int, int] | None:
        """The client's first terminal size (width, height), read before the process starts; other
        messages that come first are kept for the process. None if none came in time."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                message = await asyncio.wait_for(self.ws.receive(), left)
            except asyncio.TimeoutError:
                return None
            self._early.append(message)
            if (frame := client_frame(message)) is None:
                return None  # closing: the input pump will see it
            channel, data = unframe(frame)
            if channel == RESIZE and (sizes := terminal_sizes(data)[0]):
                return sizes[-1]
        return None

    async def _messages(self) -> Any:
        """The client's messages: those read early first, then the connection's."""
        for message in self._early:
            yield message
        self._early = []
        async for message in self.ws:
            yield message

    async def pump_input(self, stdin: Stdin | None, resize: Callable[[int, int], None] | None = None,
                         close_stdin: bool = True) -> None:
        """Client messages until the connection closes: stdin data into `stdin`, v5 close of stdin,
        resizes. Reading is also what answers the client's pings and tells when it went away. The
        client's end of input closes `stdin` if `close_stdin` (an exec's process; an attach only to a
        stdinOnce container, whose input stays open for the next attach otherwise)."""
        resize_buffer = b""
        async for message in self._messages():
            if (frame := client_frame(message)) is None:
                continue
            channel, data = unframe(frame)
            if channel == STDIN and stdin is not None and not stdin.is_closing():
                with contextlib.suppress(ConnectionError):  # the process may end without reading it all
                    stdin.write(data)
                    await stdin.drain()
            elif channel == CLOSE and data[:1] == bytes((STDIN,)) and stdin is not None and close_stdin:
                stdin.close()
            elif channel == RESIZE and resize is not None:
                sizes, resize_buffer = terminal_sizes(resize_buffer + data)
                for width, height in sizes:
                    resize(width, height)
        if stdin is not None and close_stdin:
            stdin.close()


async def serve_exec(request: web.Request, options: StreamOptions, argv: Sequence[str],
                     start: Callable[[tuple[int, int] | None], Awaitable[ExecProcess]]) -> web.WebSocketResponse:
    """Upgrade, start the process (on a terminal of the client's size), stream it, report how it ended
    (exit code or start failure)."""
    session = await StreamSession.accept(request, options)
    size = await session.first_size() if options.tty else None
    try:
        process = await start(size)
    except ExecError as error:
        await session.finish(internal_error_status(f"error executing command in container: {error}"))
        return session.ws
    exit_code = await session.run(process)
    if exit_code is not None:
        await session.finish(success_status() if exit_code == 0 else exit_status(argv, exit_code))
    return session.ws
