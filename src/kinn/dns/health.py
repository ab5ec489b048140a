"""Liveness and readiness over HTTP, where CoreDNS's `health` and `ready` plugins serve them: `/health`
on :8080 answers OK while the process runs, `/ready` on :8181 answers 200 once the informer caches
have synced (503 before), so the Service sends no query to a server that would answer from nothing.

Two fixed answers to a GET need no web framework: each probe is a plain asyncio server that reads
one request and closes the connection. aiohttp's server would cost every DNS pod 2 MB of modules.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Callable

Answer = Callable[[], tuple[int, bytes]]
REQUEST_TIMEOUT = 10.0


async def start_probes(bind_address: str, health_port: int, ready_port: int,
                       ready: asyncio.Event) -> list[asyncio.Server]:
    """Serve the probes (a port of 0 disables one); the caller closes the servers."""
    def health() -> tuple[int, bytes]:
        return 200, b"OK"

    def readiness() -> tuple[int, bytes]:
        return (200, b"OK") if ready.is_set() else (503, b"not ready")

    return [await _serve(bind_address, port, path, answer)
            for port, path, answer in ((health_port, b"/health", health), (ready_port, b"/ready", readiness)) if port]


async def _serve(bind_address: str, port: int, path: bytes, answer: Answer) -> asyncio.Server:
    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)).split(b"\r\n", 1)[0]
            method, target, _ = request_line.split(b" ", 2)
            status, body = answer() if method == b"GET" and target.split(b"?", 1)[0] == path else (404, b"not found")
            writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n%s" % (status, HTTPStatus(status).phrase.encode(), len(body), body))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError,
                ValueError):
            pass  # a client that went away or sent no HTTP request gets nothing
        finally:
            writer.close()

    return await asyncio.start_server(respond, bind_address, port)
