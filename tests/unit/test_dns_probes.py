"""kinn dns's liveness and readiness endpoints, as the kubelet's HTTP probes and curl see them."""

from __future__ import annotations

import asyncio
import socket
import urllib.error
import urllib.request

from kinn.dns.health import start_probes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


async def test_health_answers_at_once_and_ready_once_the_caches_synced() -> None:
    health, ready_port, ready = free_port(), free_port(), asyncio.Event()
    probes = await start_probes("127.0.0.1", health, ready_port, ready)
    try:
        assert await asyncio.to_thread(get, health, "/health") == (200, "text/plain; charset=utf-8", "OK")
        assert await asyncio.to_thread(get, ready_port, "/ready") == (503, "text/plain; charset=utf-8", "not ready")
        ready.set()
        assert await asyncio.to_thread(get, ready_port, "/ready?verbose") == (200, "text/plain; charset=utf-8", "OK")
        assert (await asyncio.to_thread(get, health, "/ready"))[0] == 404  # each port serves its own path
        reader, writer = await asyncio.open_connection("127.0.0.1", health)
        writer.write(b"not http\r\n\r\n")
        assert await reader.read() == b""  # no answer, connection closed
        writer.close()
    finally:
        for probe in probes:
            probe.close()
            await probe.wait_closed()


async def test_a_port_of_zero_turns_a_probe_off() -> None:
    probes = await start_probes("127.0.0.1", 0, free_port(), asyncio.Event())
    try:
        assert len(probes) == 1
    finally:
        probes[0].close()
