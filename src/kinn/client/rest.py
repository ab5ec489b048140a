"""An asyncio REST client for the Kubernetes API (the part of client-go every component uses).

Objects are plain dicts; resources are `kinn.api.resources.Resource` entries; failures are the
same `StatusError` the server raised, rebuilt from the Status body, so callers test
`e.code == 409` or `e.reason == "AlreadyExists"` exactly as Go code tests `apierrors.IsConflict`.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import ssl
from typing import Any, AsyncIterator, Callable
from urllib.parse import quote

import aiohttp
import orjson

from kinn.api.errors import StatusError
from kinn.api.resources import TABLE, Resource
from kinn.client.kubeconfig import ClusterConfig, load_kubeconfig

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
# Idle connections are kept a minute (aiohttp's default is 15 s), less than the API server's 75 s,
# so the pool survives the gaps between bursts instead of handshaking again.
KEEPALIVE_SECONDS = 60.0
# What a request fails with when it never got an answer (the API server's answers are StatusError):
# socket errors, timeouts, and aiohttp's own, such as ServerDisconnectedError on a kept-alive
# connection the server closed, which is not an OSError. Loops that retry must survive all of them.
REQUEST_ERRORS: tuple[type[BaseException], ...] = (OSError, asyncio.TimeoutError, aiohttp.ClientError)


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
                 socket_factory: Callable[..., socket.socket] | None = None) -> None:
        """`socket_factory` opens the connections (aiohttp's hook): a kubelet living in its node's
        network namespace uses it to reach the API server from the host namespace."""
        self.config = config
        self._socket_factory = socket_factory
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._headers = headers
        self._session: aiohttp.ClientSession | None = None
        self._watch_session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | bool | None = None

    @classmethod
    def from_kubeconfig(cls, path: str, user_agent: str = "kinn") -> "Client":
        return cls(load_kubeconfig(path), user_agent)

    @property
    def session(self) -> aiohttp.ClientSession:
        """Requests share a small pool of kept-alive connections: HTTP/1.1 needs one per request in
        flight, and more than REQUEST_CONNECTIONS in flight only queue inside the API server while
        each extra connection costs a TLS handshake on both ends (client-go multiplexes all of them
        over one HTTP/2 connection)."""
        if self._session is None or self._session.closed:
            self._session = self._new_session(REQUEST_CONNECTIONS)
        return self._session

    @property
    def watch_session(self) -> aiohttp.ClientSession:
        """Watches hold their connection for minutes, one each: a pool of their own, unbounded, so
        a component with many informers never starves its requests (or the reverse)."""
        if self._watch_session is None or self._watch_session.closed:
            self._watch_session = self._new_session(0)
        return self._watch_session

    def _new_session(self, limit: int) -> aiohttp.ClientSession:
        if self._ssl is None:
            self._ssl = self.config.ssl_context()  # loads the CA bundle: once per client, not per pool
        connector: aiohttp.BaseConnector
        if self.config.unix_socket:
            connector = aiohttp.UnixConnector(self.config.unix_socket, limit=limit, keepalive_timeout=KEEPALIVE_SECONDS)
        else:
            connector = aiohttp.TCPConnector(ssl=self._ssl, limit=limit, keepalive_timeout=KEEPALIVE_SECONDS,
                                             socket_factory=self._socket_factory)
        return aiohttp.ClientSession(self.config.server, connector=connector, headers=self._headers)

    async def close(self) -> None:
        for session in (self._session, self._watch_session):
            if session is not None:
                await session.close()

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
            data = body if isinstance(body, (bytes, str)) else orjson.dumps(body)
            headers["Content-Type"] = content_type
        async with self.session.request(method, path, params=params, data=data, headers=headers) as response:
            payload = await response.read()
            if response.status >= 400:
                raise _error(response.status, payload)
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
        timeout = aiohttp.ClientTimeout(total=None, sock_read=(timeout_seconds or 0) + 30 if timeout_seconds else None)
        async with self.watch_session.get(self.path(r, namespace), params=params, timeout=timeout) as response:
            if response.status >= 400:
                raise _error(response.status, await response.read())
            async for line in response.content:
                if not line.strip():
                    continue
                event = orjson.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object", {})
                    raise StatusError(status.get("code", 500), status.get("reason", ""), status.get("message", ""),
                                      status.get("details"))
                yield event["type"], event["object"]


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
