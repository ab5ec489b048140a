"""The API client's HTTP/1.1 transport against real sockets: framing, keep-alive, retries, streams."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from kinn.client.transport import ChunkedDecoder, ConnectionClosed, Endpoint, Transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def test_chunked_decoder_takes_bytes_however_they_are_split() -> None:
    body = b"4;ext=1\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n"
    for step in (1, 3, 7, len(body)):
        decoder = ChunkedDecoder()
        out = b"".join(decoder.feed(body[i:i + step]) for i in range(0, len(body), step))
        assert out == b"Wikipedia in \r\n\r\nchunks." and decoder.done


async def read_request(reader: asyncio.StreamReader) -> tuple[str, bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    length = next((int(line.split(":")[1]) for line in head.split("\r\n") if line.lower().startswith("content-length")), 0)
    return head.split("\r\n")[0], await reader.readexactly(length)


class Server:
    """A TCP server on loopback that answers with `handler`, counting the connections it accepted."""

    def __init__(self, handler: Handler) -> None:
        self.handler, self.connections = handler, 0

    async def __aenter__(self) -> Transport:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.transport = Transport(Endpoint("127.0.0.1", port), f"127.0.0.1:{port}", {"User-Agent": "test"}, 2)
        return self.transport

    async def __aexit__(self, *exc: object) -> None:
        await self.transport.close()
        self.server.close()
        await self.server.wait_closed()


async def echo_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        line, body = await read_request(reader)
        reply = f"{line} {len(body)}".encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(reply), reply))


async def test_requests_reuse_one_kept_alive_connection() -> None:
    server = Server(echo_forever)
    async with server as transport:
        for i in range(5):
            assert await transport.fetch("POST", f"/x/{i}", {}, b"abc") == (200, f"POST /x/{i} HTTP/1.1 3".encode())
    assert server.connections == 1


async def test_at_most_limit_requests_are_in_flight() -> None:
    in_flight, most = 0, 0

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal in_flight, most
        while True:
            await read_request(reader)
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.02)
            in_flight -= 1
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")

    async with Server(slow) as transport:
        results = await asyncio.gather(*(transport.fetch("GET", "/", {}, None) for _ in range(6)))
    assert results == [(204, b"")] * 6 and most == 2


async def test_an_idle_connection_the_server_dropped_is_retried_for_a_get_not_for_a_post() -> None:
    async def one_answer_per_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await reader.read(1)  # keep it open until the client's next request arrives, then drop it

    server = Server(one_answer_per_connection)
    async with server as transport:
        assert await transport.fetch("GET", "/", {}, None) == (200, b"ok")
        assert await transport.fetch("GET", "/", {}, None) == (200, b"ok")  # sent again on a new connection
        assert server.connections == 2
        with pytest.raises(ConnectionClosed):
            await transport.fetch("POST", "/", {}, b"{}")  # may have been acted upon: the caller decides


async def test_a_stream_yields_lines_across_chunks_and_the_connection_is_kept() -> None:
    async def watch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b'{"a":1}\n{"b"', b":2}\n", b'{"c":3}\n'):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")
        await echo_forever(reader, writer)

    server = Server(watch)
    async with server as transport:
        async with transport.stream("/watch", {}, 5) as (status, body):
            assert status == 200 and [line async for line in body] == [b'{"a":1}', b'{"b":2}', b'{"c":3}']
        assert (await transport.fetch("GET", "/next", {}, None))[0] == 200
    assert server.connections == 1


async def test_a_silent_stream_times_out_and_its_connection_is_dropped() -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n")
        await reader.read(1)

    async with Server(stall) as transport:
        lines = []
        with pytest.raises(TimeoutError):
            async with transport.stream("/watch", {}, 0.2) as (_, body):
                async for line in body:
                    lines.append(line)
        assert lines == [b"hello"] and not transport._idle
