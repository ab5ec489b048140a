"""Taking over an aiohttp connection after an upgrade aiohttp does not know (Go's http.Hijacker).

aiohttp only switches protocols for WebSocket; a `SPDY/3.1` upgrade (kubectl port-forward's,
answered by the kubelet and relayed by the API server) would have the bytes after it parsed as
more HTTP requests. Like aiohttp's own WebSocketResponse, this installs a payload parser on the
connection before the 101 goes out, so every byte from then on lands in a StreamReader, and the
handler writes the upgraded protocol on the response's transport. Returning from the handler
closes the connection.
"""

from __future__ import annotations

import asyncio
from typing import Mapping

from aiohttp import web


class _RawFeeder:
    """The payload parser interface aiohttp's protocol feeds (feed_data/feed_eof)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.reader.feed_eof()


class Hijacked:
    """Both directions of a connection switched to another protocol."""

    def __init__(self, response: web.StreamResponse, reader: asyncio.StreamReader) -> None:
        self.response = response
        self.reader = reader

    async def write(self, data: bytes) -> None:
        await self.response.write(data)


async def switch_protocols(request: web.BaseRequest, headers: Mapping[str, str]) -> Hijacked:
    """Answer 101 with `headers` and hand over the raw connection."""
    if request.protocol is None or request.transport is None:
        raise ConnectionResetError("Connection lost")
    reader = asyncio.StreamReader(limit=2 ** 20)
    request.protocol.set_parser(_RawFeeder(reader))  # type: ignore[arg-type]  # duck-typed, as WebSocketReader
    request.protocol.keep_alive(False)
    response = web.StreamResponse(status=101, headers=headers)
    response.force_close()
    await response.prepare(request)
    return Hijacked(response, reader)
