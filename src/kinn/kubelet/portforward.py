"""The portforward.k8s.io protocol over SPDY/3.1, the kubelet's side (`kubectl port-forward`).

Per local connection the client opens two streams sharing a `requestID` header: `streamType:
error` and `streamType: data`, each with the remote `port`. Every stream is accepted with an
empty SYN_REPLY (as apimachinery's spdy connection does). Once both of a pair are there, the pod's
port is dialed from inside its network namespace (localhost, IPv4 then IPv6, as containerd) and
bytes are copied: the client's DATA into the socket (its FIN half-closes it), the socket's bytes
back as DATA, its end as FIN. A failure is written as text on the error stream, in the kubelet's
and containerd's words, which kubectl prints; the error stream is then closed, as is the data stream.
The client's flow control is not enforced (spdystream does not send WINDOW_UPDATEs either).

The same connections also come over a WebSocket (`serve_websocket`), as the Python client's
`portforward` asks for them: one per port named in the URL, on a pair of channels.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable, Sequence

from aiohttp import web

from kinn import netlink
from kinn.kubelet import spdy
from kinn.kubelet.remotecommand import client_frame, unframe

log = logging.getLogger("kinn.kubelet.portforward")

PROTOCOL = "portforward.k8s.io"
CHANNEL_PROTOCOL = "v4.channel.k8s.io"  # port-forward over a WebSocket (wsstream's binary channels)
READ_SIZE = 32 * 1024

Write = Callable[[bytes], Awaitable[None]]


@dataclass(frozen=True)
class Target:
    """Where forwarded connections go: the pod's sandbox and its network namespace."""

    pod: str  # namespace/name, for logs
    sandbox_id: str
    netns_path: Path


@dataclass
class _Pair:
    """The two streams of one forwarded connection; data arriving before the dial is queued."""

    port: str = ""
    error_id: int = 0
    data_id: int = 0
    inbound: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)


async def dial_in_netns(netns_path: Path, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """localhost:<port> inside the pod: 127.0.0.1, then ::1 (containerd's order); OSError names both."""
    failures = []
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        sock = netlink.socket_in(netns_path, family)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, (address, port))
        except OSError as error:
            sock.close()
            shown = f"tcp4 {address}:{port}" if family == socket.AF_INET else f"tcp6 [{address}]:{port}"
            failures.append(f"dial {shown}: connect: {netlink.errno_words(error)}")
            continue
        return await asyncio.open_connection(sock=sock)
    raise OSError(errno.ECONNREFUSED, f"IPv4: {failures[0]} IPv6 {failures[1]} ")


class PortForwardSession:
    """One upgraded connection: SPDY frames in, forwarded connections out, until the client leaves."""

    def __init__(self, reader: asyncio.StreamReader, write: Write, target: Target) -> None:
        self.reader = reader
        self._write = write
        self.target = target
        self.codec = spdy.FrameCodec()
        self.pairs: dict[str, _Pair] = {}
        self.by_data_stream: dict[int, _Pair] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._send_lock = asyncio.Lock()

    async def send(self, frame: spdy.Frame) -> None:
        """Encode and write under one lock: header blocks share one zlib stream, so order matters."""
        async with self._send_lock:
            await self._write(self.codec.encode(frame))

    async def run(self) -> None:
        try:
            while data := await self.reader.read(READ_SIZE):
                for frame in self.codec.feed(data):
                    if not await self._handle(frame):
                        return
        except spdy.ProtocolError as error:
            log.warning("port-forward to %s: %s", self.target.pod, error)
        finally:
            for task in self.tasks:
                task.cancel()

    async def _handle(self, frame: spdy.Frame) -> bool:
        """One frame from the client; False when the session is over (GOAWAY)."""
        match frame:
            case spdy.SynStream():
                await self._open_stream(frame)
            case spdy.DataFrame(stream_id, data):
                pair = self.by_data_stream.get(stream_id)
                if pair is not None:
                    if data:
                        pair.inbound.put_nowait(data)
                    if frame.fin:
                        pair.inbound.put_nowait(None)
            case spdy.RstStream(stream_id):
                pair = self.by_data_stream.pop(stream_id, None)
                if pair is not None:
                    pair.inbound.put_nowait(None)
            case spdy.Ping():
                await self.send(frame)  # answer the client's keep-alive pings
            case spdy.GoAway():
                return False
        return True

    async def _open_stream(self, frame: spdy.SynStream) -> None:
        headers = {name: values[0] for name, values in frame.headers.items() if values}
        stream_type, request_id = headers.get("streamtype", ""), headers.get("requestid", "")
        if stream_type not in ("error", "data"):
            await self.send(spdy.RstStream(frame.stream_id, spdy.PROTOCOL_ERROR))
            log.warning("port-forward to %s: invalid stream type %r", self.target.pod, stream_type)
            return
        await self.send(spdy.SynReply(frame.stream_id))
        pair = self.pairs.setdefault(request_id, _Pair())
        pair.port = headers.get("port", "")
        if stream_type == "error":
            pair.error_id = frame.stream_id
        else:
            pair.data_id = frame.stream_id
            self.by_data_stream[frame.stream_id] = pair
        if pair.error_id and pair.data_id:
            del self.pairs[request_id]
            task = asyncio.ensure_future(self._forward(pair))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _forward(self, pair: _Pair) -> None:
        """One connection on its stream pair, then both streams ended (FIN)."""
        try:
            await forward(self.target, pair.port, pair.inbound,
                          lambda data: self.send(spdy.DataFrame(pair.data_id, data)),
                          lambda data: self.send(spdy.DataFrame(pair.error_id, data)))
        finally:
            self.by_data_stream.pop(pair.data_id, None)
            with contextlib.suppress(ConnectionError):
                await self.send(spdy.DataFrame(pair.data_id, b"", spdy.FLAG_FIN))
                await self.send(spdy.DataFrame(pair.error_id, b"", spdy.FLAG_FIN))


async def forward(target: Target, port: str, inbound: asyncio.Queue[bytes | None], send_data: Write,
                  send_error: Write) -> None:
    """One forwarded connection: dial the pod's localhost:`port`, copy the client's bytes (`inbound`,
    None at its end) in and the pod's out until the pod's side ends; a failed dial is reported on
    the error stream, in the kubelet's and containerd's words."""
    try:
        reader, writer = await dial_in_netns(target.netns_path, int(port))
    except (OSError, ValueError) as error:
        detail = (f'failed to execute portforward in network namespace "{target.netns_path}": '
                  f'failed to connect to localhost:{port} inside namespace "{target.sandbox_id}", '
                  f"{error.strerror if isinstance(error, OSError) else error}")
        message = f"error forwarding port {port} to pod {target.sandbox_id}, uid : {detail}"
        log.info("port-forward to %s: %s", target.pod, message)
        await send_error(message.encode())
        return
    upload = asyncio.ensure_future(_upload(inbound, writer))
    try:
        while chunk := await reader.read(READ_SIZE):
            await send_data(chunk)
    finally:
        upload.cancel()
        writer.close()


async def _upload(inbound: asyncio.Queue[bytes | None], writer: asyncio.StreamWriter) -> None:
    """The client's bytes into the pod's socket; the client's end (FIN, reset, close) half-closes it."""
    with contextlib.suppress(ConnectionError):
        while (data := await inbound.get()) is not None:
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


async def serve_websocket(request: web.Request, target: Target, ports: Sequence[int]) -> web.WebSocketResponse:
    """portforward.k8s.io over a WebSocket, the channel protocol of the kubelet's websocket.go (the
    Python client's `portforward`): port i's bytes on channel 2i and its errors on 2i+1, each
    channel's first message the port as two little-endian bytes; one connection per port, and the
    WebSocket closes once every one has ended (or when the client leaves)."""
    ws = web.WebSocketResponse(protocols=(CHANNEL_PROTOCOL,))
    await ws.prepare(request)

    async def send(channel: int, data: bytes) -> None:
        await ws.send_bytes(bytes((channel,)) + data)

    inbound: list[asyncio.Queue[bytes | None]] = [asyncio.Queue() for _ in ports]
    for i, port in enumerate(ports):
        for channel in (2 * i, 2 * i + 1):
            await send(channel, port.to_bytes(2, "little"))
    forwards = asyncio.gather(*(forward(target, str(port), inbound[i], functools.partial(send, 2 * i),
                                        functools.partial(send, 2 * i + 1)) for i, port in enumerate(ports)),
                              return_exceptions=True)
    receiving = asyncio.ensure_future(_receive(ws, inbound))
    await asyncio.wait([forwards, receiving], return_when=asyncio.FIRST_COMPLETED)
    receiving.cancel()
    for queue in inbound:
        queue.put_nowait(None)
    with contextlib.suppress(Exception):
        await forwards
    await ws.close()
    return ws


async def _receive(ws: web.WebSocketResponse, inbound: list[asyncio.Queue[bytes | None]]) -> None:
    """The client's data messages, to their port's connection, until it closes."""
    async for message in ws:
        frame = client_frame(message)
        if frame is None:
            continue
        channel, data = unframe(frame)
        if channel >= 0 and channel % 2 == 0 and channel // 2 < len(inbound):
            inbound[channel // 2].put_nowait(data)
