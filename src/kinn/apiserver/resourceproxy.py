"""pods/proxy and services/proxy: the API server forwards an HTTP request to a pod, or to one of a
Service's ready endpoints, and streams the answer back (`kubectl proxy` then
`/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH`, and the URLs `kubectl cluster-info` prints).

As upstream's ResourceLocation: the name is `name`, `name:port` or `scheme:name:port`; a pod's port
defaults to its first container port, a Service's port is its port name, or its number; one of
the Endpoints' ready addresses serving that port is picked at random; no address is a 503. The
connection starts in the cluster's netns, where pod IPs are routed. Upstream's rewriting of links
in HTML answers is not done, and upgrades (WebSocket) are not forwarded.
"""

from __future__ import annotations

import random
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from kinn import netlink
from kinn.api import errors
from kinn.apiserver.proxy import KubeletDialer
from kinn.apiserver.registry import Registries
from kinn.apiserver.registry.generic import Registry, RequestContext

Obj = dict[str, Any]
# Headers that belong to one connection (RFC 9110 §7.6.1), and the caller's credentials for the API.
NOT_FORWARDED = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                           "trailer", "transfer-encoding", "upgrade", "host", "authorization", "content-length"})


def split_scheme_name_port(target: str) -> tuple[str, str, str]:
    """net.SplitSchemeNamePort: `name`, `name:port` or `scheme:name:port` (scheme http or https)."""
    parts = target.split(":")
    if len(parts) == 3 and parts[0] in ("http", "https", ""):
        scheme, name, port = parts
    elif len(parts) <= 2:
        scheme, name, port = "", parts[0], parts[1] if len(parts) == 2 else ""
    else:
        raise errors.bad_request(f"invalid request {target!r}")
    if not name:
        raise errors.bad_request(f"invalid request {target!r}")
    return scheme or "http", name, port


async def pod_location(pods: Registry, ctx: RequestContext, target: str) -> URL:
    scheme, name, port = split_scheme_name_port(target)
    pod = (await pods.get(ctx, name)).obj
    ip = pod.get("status", {}).get("podIP")
    if not ip:
        raise errors.StatusError(503, "ServiceUnavailable", f"address not allowed: pod {name} has no IP")
    if not port:
        port = next((str(p["containerPort"]) for c in pod["spec"]["containers"] for p in c.get("ports") or []), "")
    return URL.build(scheme=scheme, host=ip, port=int(port) if port else None)


async def service_location(registries: Registries, services: Registry, ctx: RequestContext, target: str) -> URL:
    scheme, name, port_name = split_scheme_name_port(target)
    service = (await services.get(ctx, name)).obj
    if port_name.isdigit():
        declared = next((p for p in service["spec"].get("ports") or [] if p["port"] == int(port_name)), None)
        if declared is None:
            raise errors.StatusError(503, "ServiceUnavailable",
                                     f'no service port {port_name} found for service "{name}"')
        port_name = declared.get("name", "")
    endpoints = registries.get("", "v1", "endpoints")
    assert endpoints is not None
    stored = await endpoints.store.get(endpoints.key(ctx.namespace, name))
    candidates = [(address["ip"], port["port"]) for subset in (stored.obj.get("subsets") or [] if stored else [])
                  for port in subset.get("ports") or [] if port.get("name", "") == port_name
                  for address in subset.get("addresses") or []]
    if not candidates:
        raise errors.StatusError(503, "ServiceUnavailable", f'no endpoints available for service "{target}"')
    ip, port = random.choice(candidates)
    return URL.build(scheme=scheme, host=ip, port=port)


async def forward(request: web.BaseRequest, dialer: KubeletDialer, location: URL, path: str) -> web.StreamResponse:
    """The request, to `location` + `path` with its query, and the answer streamed back as it comes."""
    url = location.with_path("/" + path).with_query(request.query_string)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in NOT_FORWARDED}
    body = await request.read()
    async with dialer.session(auto_decompress=False) as session:
        try:
            upstream = await session.request(request.method, url, headers=headers, data=body or None,
                                             allow_redirects=False)
        except (aiohttp.ClientError, OSError) as error:
            dialed = f"{location.host}:{location.port}: connect: {netlink.errno_words(error)}"
            raise errors.StatusError(503, "ServiceUnavailable",
                                     f"error trying to reach service: dial tcp {dialed}") from None
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers={
                k: v for k, v in upstream.headers.items() if k.lower() not in NOT_FORWARDED})
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
