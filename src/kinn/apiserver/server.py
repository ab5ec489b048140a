"""The API server: TLS listener, authentication, routing, bootstrap objects and store maintenance.

Usable as `kinn apiserver` or in-process (`APIServer(options).start()`), which is how `kinn server`
will host it beside the scheduler and controller manager.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from kinn import netlink
from kinn.api import errors
from kinn.api.openapi import schemas
from kinn.api.openapi.v2 import openapi_v2_etag, openapi_v2_json, openapi_v2_protobuf
from kinn.api.openapi.v3 import openapi_v3_document, openapi_v3_index
from kinn.apiserver import discovery, encoding, negotiation
from kinn.apiserver.healthz import health_check
from kinn.apiserver.admission.plugins import default_chain
from kinn.apiserver.allocators.ipallocator import IPAllocator
from kinn.apiserver.allocators.portallocator import PortAllocator
from kinn.apiserver.authn import Authenticator, ImpersonationError, impersonate
from kinn.apiserver.bootstrap import CLUSTER_PORT, bootstrap
from kinn.apiserver.certs import PKI, ensure_pki
from kinn.apiserver.handlers import ResourceHandler
from kinn.apiserver.proxy import KubeletDialer
from kinn.apiserver.registry import Registries
from kinn.apiserver.registry.services import ServiceStrategy
from kinn.apiserver.requestinfo import resolve
from kinn.apiserver.serviceaccount.jwt import TokenGenerator
from kinn.client.kubeconfig import ClusterConfig, build_kubeconfig, write_kubeconfig
from kinn.storage.sqlite import DEFAULT_HISTORY, SQLiteStore

log = logging.getLogger("kinn.apiserver")


@dataclass
class APIServerOptions:
    data_dir: Path
    bind_address: str = "127.0.0.1"
    secure_port: int = 6443
    kubeconfig_out: Path | None = None
    advertise_address: str = ""  # the address the `kubernetes` Endpoints point at
    service_cluster_ip_range: str = "10.96.0.0/12"
    service_node_port_range: str = "30000-32767"
    watch_history: int = DEFAULT_HISTORY
    compaction_interval: float = 300.0  # seconds: kube-apiserver's --etcd-compaction-interval (5m)
    extra_sans: list[str] = field(default_factory=list)
    # The control-plane node's named netns (kinn up): the API server also listens there on
    # advertise_address, where the nodes reach it, and dials kubelets from there.
    cluster_netns: str = ""


class APIServer:
    def __init__(self, options: APIServerOptions) -> None:
        self.options = options
        options.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = SQLiteStore(options.data_dir / "state.db", history=options.watch_history)
        self.ips = IPAllocator(options.service_cluster_ip_range)
        self.ports = PortAllocator(options.service_node_port_range)
        self.registries = Registries(self.store, default_chain(self.store), self.ips, self.ports)
        self.pki: PKI = ensure_pki(options.data_dir / "pki", self._hosts())
        self.resources = ResourceHandler(self.registries, TokenGenerator(self.pki.load_service_account_key()),
                                         KubeletDialer(options.cluster_netns))
        self.authenticator = Authenticator(self.pki, self.store)
        self._runner: web.ServerRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.port = options.secure_port
        self._loopback: tuple[Path, str] | None = None  # the socket's path, and its address here

    def _hosts(self) -> list[str]:
        hosts = ["127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local", self.ips.first()]
        for extra in [self.options.bind_address, self.options.advertise_address, *self.options.extra_sans]:
            if extra and extra not in hosts and extra != "0.0.0.0":
                hosts.append(extra)
        return hosts

    @property
    def url(self) -> str:
        host = self.options.bind_address if self.options.bind_address != "0.0.0.0" else "127.0.0.1"
        return f"https://{host}:{self.port}"

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        schemas.definitions()  # parse the schemas now rather than in the first write's latency
        await self._restore_allocations()
        await bootstrap(self)
        # aiohttp's low-level server: kinn routes by its own request info (requestinfo.resolve), so
        # an Application's router, match info and middleware chain would only cost time (~10% of
        # a GET). Bodies are read, and limited to 3 MiB, by encoding.read_body.
        server = web.Server(self._handle, access_log=None)
        self._runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.bind_address, self.options.secure_port,
                           ssl_context=self._ssl_context(), backlog=2048, reuse_address=True)
        await site.start()
        if self.options.secure_port == 0:
            server = site._server  # noqa: SLF001 - aiohttp exposes the bound port only here
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        if self.options.cluster_netns:
            await self._listen_in_cluster()
        self._tasks.append(asyncio.create_task(self._compact_periodically()))
        if self.options.kubeconfig_out:
            self.write_kubeconfig(self.options.kubeconfig_out)
        log.info("serving on %s", self.url)

    async def serve_loopback(self) -> None:
        """Also serve plain HTTP on `<data-dir>/apiserver.sock` (mode 0600), for the scheduler and the
        controller manager that `kinn server` runs in this process.

        Upstream's components multiplex every request and watch over one HTTP/2 connection; kinn's
        HTTP/1.1 client needs a connection per watch, and the two components hold ~70. Over TLS
        each costs ~130 KB (both ends' OpenSSL state and buffers, both in this process) and every
        byte is encrypted and decrypted again; over a Unix socket, ~28 KB and no crypto. Requests
        there authenticate with the tokens `loopback_config` issues, so the components remain
        `system:kube-scheduler` and `system:kube-controller-manager` to the API server."""
        path = self.options.data_dir / LOOPBACK_SOCKET
        path.unlink(missing_ok=True)  # left by a killed server
        address = unix_address(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(address)
        path.chmod(0o600)
        assert self._runner is not None
        await web.SockSite(self._runner, sock, backlog=2048).start()
        self._loopback = (path, address)

    def loopback_config(self, user: str, groups: tuple[str, ...] = ()) -> ClusterConfig:
        """How a component in this process reaches the API server as `user` (see serve_loopback).
        It carries the cluster's CA, unused on the socket, as a kubeconfig would: the controller
        manager publishes it to every namespace (`kube-root-ca.crt`), where pods verify us with it."""
        assert self._loopback is not None, "serve_loopback() first"
        return ClusterConfig("http://localhost", ca_data=self.pki.ca_cert.read_bytes(),
                             token=self.authenticator.issue_token(user, groups), unix_socket=self._loopback[1])

    async def _listen_in_cluster(self) -> None:
        """Serve the nodes on the control-plane node's IP inside the cluster, as a real API server
        on its node does, while the user keeps 127.0.0.1 on the host."""
        sock = netlink.socket_in(self.options.cluster_netns)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.options.advertise_address or "0.0.0.0", CLUSTER_PORT))
        assert self._runner is not None
        await web.SockSite(self._runner, sock, ssl_context=self._ssl_context(), backlog=2048).start()
        log.info("serving the cluster on https://%s:%d in netns %s", self.options.advertise_address, CLUSTER_PORT,
                 self.options.cluster_netns)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self.store.close()  # ends every watch, so the runner's shutdown does not wait on them
        if self._runner:
            await self._runner.cleanup()
        if self._loopback is not None:
            self._loopback[0].unlink(missing_ok=True)

    def write_kubeconfig(self, path: Path, name: str = "kinn") -> None:
        write_kubeconfig(path, build_kubeconfig(self.url, self.pki.ca_cert, self.pki.admin_cert,
                                                self.pki.admin_key, name))

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.pki.serving_cert, self.pki.serving_key)
        context.load_verify_locations(self.pki.ca_cert)
        context.verify_mode = ssl.CERT_OPTIONAL  # client certificates authenticate; tokens also do
        return context

    async def _restore_allocations(self) -> None:
        """Rebuild the IP and port allocators from the stored Services (upstream's repair loops)."""
        services = self.registries.core("services")
        assert isinstance(services.strategy, ServiceStrategy)
        for stored in await self.store.list(services.prefix("")):
            services.strategy.mark_allocated(stored.obj)

    async def _compact_periodically(self) -> None:
        """As kube-apiserver's etcd compactor: every interval, compact to the revision the previous
        interval ended at. The history then holds one to two intervals of changes (and never more
        than the retention window), where an idle cluster's lease renewals would otherwise fill the
        whole window: 10,000 revisions in about two hours, ~10 MB."""
        previous = self.store.revision
        while True:
            await asyncio.sleep(self.options.compaction_interval)
            self.store.compact(previous)
            previous = self.store.revision

    # -- request handling --------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Every request: authenticate, route, and answer any failure with a Status."""
        started = time.monotonic()
        try:
            response = await self._dispatch(request)
        except errors.StatusError as e:
            response = encoding.status_response(e)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as e:  # noqa: BLE001 - every failure reaches the client as a Status
            log.exception("%s %s failed", request.method, request.path_qs)
            response = encoding.status_response(errors.internal_error(str(e)))
        log.debug("%s %s %s %.1fms", request.method, request.path_qs, response.status,
                  (time.monotonic() - started) * 1000)
        return response

    async def _authenticate(self, request: web.BaseRequest) -> None:
        user = await self.authenticator.authenticate(request)
        if user is None:
            if request.path not in _PUBLIC_PATHS:
                raise errors.StatusError(401, "Unauthorized", "Unauthorized")
            user = ("system:anonymous", ("system:unauthenticated",))
        try:
            request["user"], request["groups"] = impersonate(request.headers, user)
        except ImpersonationError as error:
            raise errors.StatusError(400, "BadRequest", str(error)) from None

    # -- routing ---------------------------------------------------------------------------

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        await self._authenticate(request)
        info = resolve(request.method, request.path, dict(request.query))
        if info.is_resource_request:
            return await self.resources.handle(request, info)
        return self._non_resource(request)

    def _non_resource(self, request: web.BaseRequest) -> web.Response:
        path = request.path.rstrip("/") or "/"
        if request.method not in ("GET", "HEAD"):
            raise errors.method_not_supported("", "", request.method)
        health = health_check(path, request.query, request.query.getall("exclude", []))
        if health is not None:
            status, text = health
            return web.Response(status=status, text=text, content_type="text/plain",
                                headers={"X-Content-Type-Options": "nosniff"})
        accept = request.headers.get("Accept")
        if path == "/version":
            return _json(discovery.version_info())
        if path in ("/api", "/apis"):
            if negotiation.wants_aggregated_discovery(accept):
                body = orjson.dumps(discovery.aggregated(path.strip("/")))
                return web.Response(body=body, headers={"Content-Type": negotiation.AGGREGATED_DISCOVERY})
            if path == "/api":
                return _json(discovery.api_versions(f"{self.options.advertise_address or '127.0.0.1'}:{self.port}"))
            return _json(discovery.api_group_list())
        if path == "/openapi/v2":
            return _openapi_v2(request)
        if path == "/openapi/v3":
            return _json(openapi_v3_index())
        if path.startswith("/openapi/v3/"):
            document = openapi_v3_document(path[len("/openapi/v3/"):])
            if document is not None:
                return web.Response(body=document, content_type="application/json")
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            listing = discovery.api_resource_list("", parts[1])
            if listing:
                return _json(listing)
        if parts[0] == "apis" and len(parts) == 2 and parts[1] in discovery._groups():
            return _json(discovery.api_group(parts[1]))
        if parts[0] == "apis" and len(parts) == 3:
            listing = discovery.api_resource_list(parts[1], parts[2])
            if listing:
                return _json(listing)
        raise errors.no_such_route()


_PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})
LOOPBACK_SOCKET = "apiserver.sock"
_SUN_PATH_MAX = 107  # bytes of a Unix socket's path (sockaddr_un.sun_path, less the final NUL)


def unix_address(path: Path) -> str:
    """`path` as a Unix socket address. One too long for sun_path is reached through this process's
    descriptor of its directory, /proc/self/fd/N/NAME (the kernel resolves it like any path): valid
    only inside this process, which is where the loopback socket's clients live."""
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        return str(path)
    directory = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)  # held for the process's life
    return f"/proc/self/fd/{directory}/{path.name}"


def _openapi_v2(request: web.BaseRequest) -> web.Response:
    """JSON or gnostic protobuf by Accept, 406 (no body) for neither; If-None-Match as http.ServeContent does."""
    media_type = negotiation.negotiate_openapi_v2(request.headers.get("Accept"))
    if media_type is None:
        return web.Response(status=406, headers={"Vary": "Accept"})
    headers = {"Vary": "Accept", "ETag": openapi_v2_etag()}
    if _etag_matches(request.headers.get("If-None-Match", ""), headers["ETag"]):
        return web.Response(status=304, headers=headers)
    body = openapi_v2_json() if media_type == negotiation.JSON else openapi_v2_protobuf()
    return web.Response(body=body, headers={**headers, "Content-Type": media_type})


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match compares weakly and may list several tags or `*` (RFC 9110 §13.1.2)."""
    return any(tag.strip().removeprefix("W/") in (etag, "*") for tag in if_none_match.split(",") if tag.strip())


def _json(body: Any) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")
