"""HTTP/1.1 for the API client: a pool of kept-alive connections over TCP, TLS or a Unix socket,
whole responses for requests and line streams for watches (what net/http's Transport is to client-go).

Why not aiohttp's client: every component's requests and watches go through here, and kinn's
components are Python processes on one machine. aiohttp's ClientSession spends ~0.3 ms of Python
per request around the few microseconds the socket takes (in `kinn server`, the controller
manager's creates and the scheduler's bindings were a tenth of the process's time), and importing
it costs each process ~14 MB. The API server's answers are simple: a status line, headers, and a
body with a Content-Length or chunked; nothing else is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from dataclasses import dataclass
from typing import AsyncIterator, Callable

# Idle connections are kept a minute, less than the API server's 75 s, so a pool survives the gaps
# between bursts instead of connecting (and handshaking) again, and never reuses one the server dropped.
KEEPALIVE_SECONDS = 60.0
CONNECT_TIMEOUT = 30.0
REQUEST_TIMEOUT = 300.0  # a whole request and its response; watches have their own read timeout
_READ_LIMIT = 1 << 20  # bytes a status line or header block may take
_READ_SIZE = 1 << 16  # bytes asked of the socket at once for a body
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

SocketFactory = Callable[[tuple], socket.socket]


class ConnectionClosed(ConnectionError):
    """The server closed the connection before the response was complete; `unanswered` if not a
    byte of it had arrived (a kept-alive connection the server dropped looks like this)."""

    def __init__(self, message: str, unanswered: bool = False) -> None:
        super().__init__(message)
        self.unanswered = unanswered


@dataclass(frozen=True)
class Endpoint:
    """Where the API server is: host and port (with TLS when `ssl` is set), or a Unix socket.
    `socket_factory(addr_info)` makes the TCP socket (a kubelet opens it in the host's netns)."""

    host: str
    port: int
    ssl: ssl.SSLContext | None = None
    unix_socket: str = ""
    socket_factory: SocketFactory | None = None

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.unix_socket:
            return await asyncio.open_unix_connection(self.unix_socket, limit=_READ_LIMIT)
        if self.socket_factory is not None:
            loop = asyncio.get_running_loop()
            family, kind, proto, _, address = (await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM))[0]
            sock = self.socket_factory((family, kind, proto, "", address))
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, address)
            except BaseException:
                sock.close()
                raise
            return await asyncio.open_connection(sock=sock, ssl=self.ssl, limit=_READ_LIMIT,
                                                 server_hostname=self.host if self.ssl else None)
        return await asyncio.open_connection(self.host, self.port, ssl=self.ssl, limit=_READ_LIMIT)


class Connection:
    """One HTTP/1.1 connection: a request written, its response read, then maybe the next one."""

    __slots__ = ("reader", "writer", "reused", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.reused = False
        self.idle_since = 0.0

    async def exchange(self, head: bytes, body: bytes | None) -> tuple[int, dict[str, str]]:
        """Send a request; return the response's status and headers (names lower-cased)."""
        self.writer.write(head + body if body else head)
        try:
            block = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as e:
            if e.partial:
                raise ConnectionClosed("connection closed in the response's headers") from None
            raise ConnectionClosed("connection closed before the response", unanswered=True) from None
        except (ConnectionResetError, BrokenPipeError) as e:
            raise ConnectionClosed(f"connection lost before the response: {e}", unanswered=True) from None
        lines = block.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        status = int(rest[:3])
        headers: dict[str, str] = {}
        for line in lines[1:-2]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if version == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
            headers["connection"] = "close"
        return status, headers

    async def read_body(self, headers: dict[str, str], read_timeout: float | None = None) -> bytes:
        """The whole body, however it is framed."""
        return b"".join([piece async for piece in self.body(headers, read_timeout)])

    async def body(self, headers: dict[str, str], read_timeout: float | None = None) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive, unframed; waiting longer than `read_timeout` for the
        next bytes raises TimeoutError (a watch whose connection silently died)."""
        reader = self.reader
        try:
            if "chunked" in headers.get("transfer-encoding", ""):
                decoder = ChunkedDecoder()
                while not decoder.done:
                    async with asyncio.timeout(read_timeout):
                        data = await reader.read(_READ_SIZE)
                    if not data:
                        raise ConnectionClosed("connection closed in a chunked body")
                    if piece := decoder.feed(data):
                        yield piece
            elif "content-length" in headers:
                async with asyncio.timeout(read_timeout):
                    yield await reader.readexactly(int(headers["content-length"]))
            else:  # delimited by the end of the connection
                while True:
                    async with asyncio.timeout(read_timeout):
                        data = await reader.read(_READ_SIZE)
                    if not data:
                        return
                    yield data
        except asyncio.IncompleteReadError:
            raise ConnectionClosed("connection closed in the response's body") from None

    def close(self) -> None:
        self.writer.close()

    @property
    def usable(self) -> bool:
        """Still open and not closed by the server while idle (which would show as EOF)."""
        return not self.writer.is_closing() and not self.reader.at_eof()


class Transport:
    """Connections to one endpoint, at most `limit` at once (None: no limit), idle ones kept for
    reuse. Each request has a connection to itself until its response is read (HTTP/1.1 does not
    multiplex), so `limit` is also how many requests may be in flight."""

    def __init__(self, endpoint: Endpoint, host_header: str, headers: dict[str, str], limit: int | None) -> None:
        self.endpoint = endpoint
        self._common = "".join(f"{k}: {v}\r\n" for k, v in {"Host": host_header, **headers}.items())
        self._slots: contextlib.AbstractAsyncContextManager[object] = (
            asyncio.Semaphore(limit) if limit else contextlib.nullcontext())
        self._idle: list[Connection] = []
        self._busy: set[Connection] = set()

    def _head(self, method: str, target: str, headers: dict[str, str], length: int | None) -> bytes:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        if length is not None:
            extra += f"Content-Length: {length}\r\n"
        return f"{method} {target} HTTP/1.1\r\n{self._common}{extra}\r\n".encode("latin-1")

    async def _acquire(self) -> Connection:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if connection.usable and now - connection.idle_since < KEEPALIVE_SECONDS:
                connection.reused = True
                self._busy.add(connection)
                return connection
            connection.close()
        async with asyncio.timeout(CONNECT_TIMEOUT):
            connection = Connection(*await self.endpoint.connect())
        self._busy.add(connection)
        return connection

    def _release(self, connection: Connection, reusable: bool) -> None:
        self._busy.discard(connection)
        if reusable and connection.usable:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()

    async def fetch(self, method: str, target: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        """One request and its whole response body. A kept-alive connection the server closed
        meanwhile fails before any byte of the answer: an idempotent request is then sent again
        on a new connection (as net/http does); any other failure is the caller's."""
        head = self._head(method, target, headers, len(body) if body is not None else None)
        async with self._slots, asyncio.timeout(REQUEST_TIMEOUT):
            while True:
                connection = await self._acquire()
                reusable = False
                try:
                    status, response_headers = await connection.exchange(head, body)
                    bodiless = method == "HEAD" or status in (204, 304)
                    payload = b"" if bodiless else await connection.read_body(response_headers)
                    reusable = _keeps_alive(response_headers, bodiless)
                    return status, payload
                except ConnectionClosed as e:
                    if not (e.unanswered and connection.reused and method in _IDEMPOTENT):
                        raise
                finally:
                    self._release(connection, reusable)

    @contextlib.asynccontextmanager
    async def stream(self, target: str, headers: dict[str, str],
                     read_timeout: float | None) -> AsyncIterator[tuple[int, "Lines"]]:
        """GET `target` and stream its body as lines (a watch). The connection goes back to the
        pool only if the body was read to its end."""
        async with self._slots:
            connection = await self._acquire()
            lines = None
            try:
                async with asyncio.timeout(read_timeout):
                    status, response_headers = await connection.exchange(
                        self._head("GET", target, headers, None), None)
                lines = Lines(connection, response_headers, read_timeout)
                yield status, lines
            finally:
                self._release(connection, lines is not None and lines.finished and _keeps_alive(lines.headers, False))

    async def close(self) -> None:
        for connection in [*self._idle, *self._busy]:
            connection.close()
        self._idle.clear()
        self._busy.clear()


class Lines:
    """A streamed response body, as newline-terminated lines (watch events) or whole."""

    def __init__(self, connection: Connection, headers: dict[str, str], read_timeout: float | None) -> None:
        self.connection, self.headers, self.read_timeout = connection, headers, read_timeout
        self.finished = False

    async def read(self) -> bytes:
        body = await self.connection.read_body(self.headers, self.read_timeout)
        self.finished = True
        return body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pending = b""
        async for piece in self.connection.body(self.headers, self.read_timeout):
            if b"\n" not in piece:
                pending += piece
                continue
            *complete, rest = (pending + piece).split(b"\n")
            pending = rest
            for line in complete:
                yield line
        if pending:
            yield pending
        self.finished = True


class ChunkedDecoder:
    """Undoes chunked transfer coding over bytes fed as they arrive (trailers are ignored)."""

    __slots__ = ("_raw", "done")

    def __init__(self) -> None:
        self._raw = bytearray()
        self.done = False

    def feed(self, data: bytes) -> bytes:
        """The payload of the chunks `data` completes."""
        raw = self._raw
        raw += data
        pieces = []
        position = 0
        while True:
            end_of_size = raw.find(b"\r\n", position)
            if end_of_size < 0:
                break
            size = int(raw[position:end_of_size].split(b";", 1)[0], 16)
            if size == 0:  # the last chunk: the body ends after the trailers' empty line
                end = raw.find(b"\r\n\r\n", end_of_size)
                if end >= 0:
                    self.done = True
                    position = end + 4
                break
            start = end_of_size + 2
            if len(raw) < start + size + 2:
                break
            pieces.append(bytes(raw[start:start + size]))
            position = start + size + 2
        del raw[:position]
        return b"".join(pieces)


def _keeps_alive(headers: dict[str, str], bodiless: bool) -> bool:
    """May the connection carry another request? Not if the server said close, nor if the body
    ran to the end of the connection."""
    return headers.get("connection", "").lower() != "close" and (
        bodiless or "content-length" in headers or "chunked" in headers.get("transfer-encoding", ""))
