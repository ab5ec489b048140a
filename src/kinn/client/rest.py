"""An asyncio REST client for the Kubernetes API (the part of client-go every component uses).

Objects are plain dicts; resources are `kinn.api.resources.Resource` entries; failures are the
same `StatusError` the server raised, rebuilt from the Status body, so callers test
`e.code == 409` or `e.reason == "AlreadyExists"` exactly as Go code tests `apierrors.IsConflict`.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, AsyncIterator, Callable
from urllib.parse import quote, urlencode, urlsplit

import orjson

from kinn.api.errors import StatusError
from kinn.api.resources import TABLE, Resource
from kinn.client.kubeconfig import ClusterConfig, load_kubeconfig
from kinn.client.transport import Endpoint, SocketFactory, Transport

Obj = dict[str, Any]

PATCH_TYPES = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


# Connections kept for requests (watches have their own); enough to keep a single-threaded API
# server busy, few enough that a burst of writes does not open dozens of TLS sessions.
REQUEST_CONNECTIONS = 16
# What a request fails with when it never got an answer (the API server's answers are StatusError):
# socket errors, timeouts (TimeoutError is an OSError) and the transport's ConnectionClosed, such as
# a kept-alive connection the server closed. Loops that retry must survive all of them.
REQUEST_ERRORS: tuple[type[BaseException], ...] = (OSError, asyncio.TimeoutError)


def resource(api_version: str, plural: str) -> Resource:
    """`resource("apps/v1", "deployments")` → the served Resource (KeyError if kinn serves no such thing)."""
    group, _, version = api_version.rpartition("/")
    found = TABLE.lookup(group, version, plural)
    if found is None:
        raise KeyError(f"{plural}.{api_version} is not served")
    return found


def _error(status: int, body: bytes) -> StatusError:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        return StatusError(doc.get("code", status), doc.get("reason", ""), doc.get("message", ""), doc.get("details"))
    return StatusError(status, "", body.decode(errors="replace")[:500])


class Client:
    def __init__(self, config: ClusterConfig, user_agent: str = "kinn",
                 socket_factory: SocketFactory | None = None) -> None:
        """`socket_factory(addr_info)` makes the TCP sockets: a kubelet living in its node's network
        namespace uses it to reach the API server from the host namespace."""
        self.config = config
        self._socket_factory = socket_factory
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._headers = headers
        self._requests: Transport | None = None
        self._watches: Transport | None = None
        self._endpoint: Endpoint | None = None

    @classmethod
    def from_kubeconfig(cls, path: str, user_agent: str = "kinn") -> "Client":
        return cls(load_kubeconfig(path), user_agent)

    @property
    def requests(self) -> Transport:
        """Requests share a small pool of kept-alive connections: HTTP/1.1 needs one per request in
        flight, and more than REQUEST_CONNECTIONS in flight only queue inside the API server while
        each extra connection costs a TLS handshake on both ends (client-go multiplexes all of them
        over one HTTP/2 connection)."""
        if self._requests is None:
            self._requests = self._transport(REQUEST_CONNECTIONS)
        return self._requests

    @property
    def watches(self) -> Transport:
        """Watches hold their connection for minutes, one each: a pool of their own, unbounded, so
        a component with many informers never starves its requests (or the reverse)."""
        if self._watches is None:
            self._watches = self._transport(None)
        return self._watches

    def _transport(self, limit: int | None) -> Transport:
        url = urlsplit(self.config.server)
        if self._endpoint is None:
            context = self.config.ssl_context() or None  # loads the CA bundle: once per client
            self._endpoint = Endpoint(url.hostname or "localhost", url.port or (443 if url.scheme == "https" else 80),
                                      context, self.config.unix_socket, self._socket_factory)
        return Transport(self._endpoint, url.netloc or "localhost", self._headers, limit)

    async def close(self) -> None:
        for transport in (self._requests, self._watches):
            if transport is not None:
                await transport.close()
        self._requests = self._watches = None

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- paths -----------------------------------------------------------------------------

    @staticmethod
    def path(r: Resource, namespace: str = "", name: str = "", subresource: str = "") -> str:
        base = f"/apis/{r.group}/{r.version}" if r.group else f"/api/{r.version}"
        if r.namespaced and namespace:
            base += f"/namespaces/{quote(namespace)}"
        base += f"/{r.plural}"
        if name:
            base += f"/{quote(name)}"
        if subresource:
            base += f"/{subresource}"
        return base

    # -- verbs -----------------------------------------------------------------------------

    async def request(
        self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None,
        content_type: str = "application/json",
    ) -> Obj:
        data = None
        headers = {}
        if body is not None:
            data = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else orjson.dumps(body)
            headers["Content-Type"] = content_type
        status, payload = await self.requests.fetch(method, _target(path, params), headers, data)
        if status >= 400:
            raise _error(status, payload)
        return orjson.loads(payload) if payload else {}

    async def get(self, r: Resource, name: str, namespace: str = "", subresource: str = "") -> Obj:
        return await self.request("GET", self.path(r, namespace, name, subresource))

    async def list(
        self, r: Resource, namespace: str = "", label_selector: str = "", field_selector: str = "",
        limit: int = 0, continue_token: str = "", resource_version: str = "",
    ) -> Obj:
        params = {k: v for k, v in (
            ("labelSelector", label_selector), ("fieldSelector", field_selector),
            ("limit", str(limit) if limit else ""), ("continue", continue_token),
            ("resourceVersion", resource_version),
        ) if v}
        return await self.request("GET", self.path(r, namespace), params)

    async def list_all(self, r: Resource, namespace: str = "", label_selector: str = "", field_selector: str = "",
                       page: int = 500) -> Obj:
        """A complete list, fetched in pages (as client-go's pager does); ListMeta from the first page."""
        first = await self.list(r, namespace, label_selector, field_selector, limit=page)
        items = list(first.get("items") or [])
        token = first.get("metadata", {}).get("continue", "")
        while token:
            more = await self.list(r, namespace, label_selector, field_selector, limit=page, continue_token=token)
            items.extend(more.get("items") or [])
            token = more.get("metadata", {}).get("continue", "")
        first["items"] = items
        first.get("metadata", {}).pop("continue", None)
        return first

    async def create(self, r: Resource, obj: Obj, namespace: str = "", subresource: str = "",
                     name: str = "") -> Obj:
        namespace = namespace or obj.get("metadata", {}).get("namespace", "")
        return await self.request("POST", self.path(r, namespace, name, subresource), body=obj)

    async def update(self, r: Resource, obj: Obj, subresource: str = "") -> Obj:
        meta = obj["metadata"]
        return await self.request("PUT", self.path(r, meta.get("namespace", ""), meta["name"], subresource), body=obj)

    async def patch(
        self, r: Resource, name: str, patch: Any, namespace: str = "", patch_type: str = "merge",
        subresource: str = "", field_manager: str = "", force: bool = False,
    ) -> Obj:
        params = {}
        if field_manager:
            params["fieldManager"] = field_manager
        if force:
            params["force"] = "true"
        return await self.request("PATCH", self.path(r, namespace, name, subresource), params, patch,
                                  PATCH_TYPES[patch_type])

    async def delete(
        self, r: Resource, name: str, namespace: str = "", grace_period_seconds: int | None = None,
        propagation_policy: str | None = None, preconditions: Obj | None = None,
    ) -> Obj:
        options: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if preconditions:
            options["preconditions"] = preconditions
        return await self.request("DELETE", self.path(r, namespace, name), body=options)

    async def watch(
        self, r: Resource, namespace: str = "", resource_version: str = "", label_selector: str = "",
        field_selector: str = "", timeout_seconds: int = 0, allow_bookmarks: bool = True,
    ) -> AsyncIterator[tuple[str, Obj]]:
        """Yield (type, object) events; an ERROR event raises its Status (410 → re-list)."""
        params = {"watch": "true"}
        for key, value in (("resourceVersion", resource_version), ("labelSelector", label_selector),
                           ("fieldSelector", field_selector),
                           ("timeoutSeconds", str(timeout_seconds) if timeout_seconds else ""),
                           ("allowWatchBookmarks", "true" if allow_bookmarks else "")):
            if value:
                params[key] = value
        read_timeout = timeout_seconds + 30 if timeout_seconds else None
        async with self.watches.stream(_target(self.path(r, namespace), params), {}, read_timeout) as (status, body):
            if status >= 400:
                raise _error(status, await body.read())
            async for line in body:
                if not line.strip():
                    continue
                event = orjson.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object", {})
                    raise StatusError(status.get("code", 500), status.get("reason", ""), status.get("message", ""),
                                      status.get("details"))
                yield event["type"], event["object"]


def _target(path: str, params: dict[str, str] | None) -> str:
    return f"{path}?{urlencode(params)}" if params else path


async def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Poll a predicate (plain or async) until it returns something truthy (for tools and tests)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
