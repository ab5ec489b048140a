"""Liveness and readiness over HTTP, where CoreDNS's `health` and `ready` plugins serve them: `/health`
on :8080 answers OK while the process runs, `/ready` on :8181 answers 200 once the informer caches
have synced (503 before), so the Service sends no query to a server that would answer from nothing."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.Response]]


async def start_probes(bind_address: str, health_port: int, ready_port: int,
                       ready: asyncio.Event) -> list[web.AppRunner]:
    """Serve the probes (a port of 0 disables one); the caller cleans the runners up."""
    async def health(request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def readiness(request: web.Request) -> web.Response:
        return web.Response(text="OK") if ready.is_set() else web.Response(status=503, text="not ready")

    return [await _serve(bind_address, port, path, handler)
            for port, path, handler in ((health_port, "/health", health), (ready_port, "/ready", readiness)) if port]


async def _serve(bind_address: str, port: int, path: str, handler: Handler) -> web.AppRunner:
    app = web.Application()
    app.router.add_get(path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, bind_address, port).start()
    return runner
