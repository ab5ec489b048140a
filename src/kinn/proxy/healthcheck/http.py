"""The HTTP plumbing both health servers share: kube-proxy's JSON replies and a listener per address.

Both servers answer with the headers upstream sets by hand (`Content-Type: application/json`, not
aiohttp's `; charset=utf-8` variant) and run on aiohttp's low-level server, so every method and
path reaches the handler, as with Go's http.Handler.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
Reply = tuple[int, str]  # (HTTP status, body)

JSON_HEADERS = {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff"}


def not_found() -> web.Response:
    """Go's http.NotFound, what a ServeMux answers for a path it has no handler for."""
    return web.Response(status=404, text="404 page not found\n",
                        headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"})


def json_response(reply: Reply) -> web.Response:
    status, body = reply
    # Bytes, not text: aiohttp would append "; charset=utf-8" to a text reply's Content-Type.
    return web.Response(status=status, body=body.encode(), headers=JSON_HEADERS)


async def listen(handler: Handler, host: str, port: int) -> web.ServerRunner:
    """Serve `handler` on host:port until the returned runner is cleaned up; raises OSError if the
    address cannot be bound (in use, not local)."""
    runner = web.ServerRunner(web.Server(handler, access_log=None), handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_address=True).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner
