"""The kubelet's HTTPS server on port 10250: container logs, exec, attach and port-forward, as upstream's server.go.

The API server reaches it at the node's InternalIP to serve `pods/log`, `pods/exec` and
`pods/attach`. It listens in the netns the kubelet runs its pods in (with --node-netns the
kubelet's thread is already there), with a self-signed certificate made under the kubelet's root
dir (`pki/kubelet.crt`), as a kubelet without --tls-cert-file does. Like a kubelet with its
default --anonymous-auth and AlwaysAllow authorization, it does not authenticate its clients.
Replies and error texts are the kubelet's: plain text bodies, 404 for an unknown pod.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path
from typing import Callable

from aiohttp import web

from kinn.apiserver import hijack
from kinn.kubelet import logs, portforward, remotecommand
from kinn.kubelet.certificate import ensure_serving_certificate
from kinn.kubelet.pod_workers import PodWorker
from kinn.kubelet.remotecommand import StreamOptions, StreamOptionsError
from kinn.kubelet.runtime import ContainerProcess, container_log_path, exec_in_container
from kinn.kubelet.status import ContainerRecord

log = logging.getLogger("kinn.kubelet.server")

PodLookup = Callable[[str, str], "PodWorker | None"]  # (namespace, name) → the pod's worker, if bound here


def serving_context(root_dir: Path, node_name: str, node_ip: str) -> ssl.SSLContext:
    """TLS with the kubelet's self-signed certificate, created on first start."""
    cert, key = ensure_serving_certificate(root_dir, node_name, node_ip)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def _record(worker: PodWorker, name: str) -> ContainerRecord | None:
    return next((record for record in worker.records() if record.name == name), None)


class KubeletServer:
    """Routes of the kubelet's debugging handlers that kinn serves (logs, exec, attach, healthz)."""

    def __init__(self, pods: PodLookup, log_root: Path) -> None:
        self.pods = pods
        self.log_root = log_root
        self.app = web.Application()
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._container_logs)
        for verb, handler in (("exec", self._exec), ("attach", self._attach)):
            for method in ("GET", "POST"):
                self.app.router.add_route(method, f"/{verb}/{{namespace}}/{{pod}}/{{container}}", handler)
        for method in ("GET", "POST"):
            self.app.router.add_route(method, "/portForward/{namespace}/{pod}", self._port_forward)
        self._runner: web.AppRunner | None = None

    async def start(self, address: str, port: int, context: ssl.SSLContext) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, address, port, ssl_context=context, reuse_address=True).start()
        log.info("kubelet server listening on %s:%d", address, port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    def _worker(self, request: web.Request, missing: str) -> PodWorker:
        worker = self.pods(request.match_info["namespace"], request.match_info["pod"])
        if worker is None:
            raise web.HTTPNotFound(text=missing)
        return worker

    # -- logs --------------------------------------------------------------------------------

    async def _container_logs(self, request: web.Request) -> web.StreamResponse:
        """getContainerLogs: 400/422 for a bad query, 404 for an unknown pod or container, 400 when
        the container has no log to show yet; otherwise the log as chunked text/plain."""
        try:
            options = logs.parse_log_options(request.query)
        except logs.LogOptionsError as error:
            status = web.HTTPBadRequest if error.status == 400 else web.HTTPUnprocessableEntity
            raise status(text=str(error)) from None
        pod_name, name = request.match_info["pod"], request.match_info["container"]
        worker = self._worker(request, f'pod "{pod_name}" does not exist')
        record = _record(worker, name)
        if record is None:
            raise web.HTTPNotFound(text=f'container "{name}" not found in pod "{pod_name}"')
        try:
            run, is_current = logs.log_run(record, pod_name, options.previous)
        except logs.LogsUnavailable as error:
            raise web.HTTPBadRequest(text=str(error)) from None
        meta = worker.pod["metadata"]
        path = container_log_path(self.log_root, meta["namespace"], meta["name"], worker.uid, name, run)
        process = record.process if is_current else None
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)

        async def write(_stream: str, data: bytes) -> None:
            await response.write(data)

        try:
            await logs.stream_log(path, options, lambda: process is not None and process.exit is None, write)
        except FileNotFoundError:
            log.warning("log file %s of %s/%s is gone", path, meta["name"], name)
        await response.write_eof()
        return response

    # -- exec and attach ---------------------------------------------------------------------

    def _running_container(self, request: web.Request) -> tuple[PodWorker, ContainerProcess]:
        """The pod (404 "pod does not exist") and its running container (500, the CRI's NotFound text)."""
        worker = self._worker(request, "pod does not exist")
        name = request.match_info["container"]
        record = _record(worker, name)
        if record is None or not record.running or record.process is None:
            raise web.HTTPInternalServerError(text=f'container not found ("{name}")')
        return worker, record.process

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        options = _stream_options(request)
        _, container = self._running_container(request)
        argv = request.query.getall("command", [])
        return await remotecommand.serve_exec(request, options, argv, lambda size: exec_in_container(
            container, argv, tty=options.tty, stdin=options.stdin, stdout=options.stdout, stderr=options.stderr,
            size=size))

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        """Attach to the container: its output until it ends, and with `stdin`, input into a `stdin: true`
        container (its pipe, or its terminal, which the client also sizes). A terminal's output comes
        as the container writes it; otherwise from the log, which the runtime copies both streams into."""
        options = _stream_options(request)
        _, container = self._running_container(request)
        session = await remotecommand.StreamSession.accept(request, options)
        with container.terminal_output() as shown:
            output = asyncio.ensure_future(_forward_terminal(shown, session) if container.terminal is not None
                                           else _forward_log(container, session))
            resize = container.terminal.resize if container.terminal is not None else None
            if resize is not None and options.tty and (size := await session.first_size()):
                resize(*size)  # before any input: the command typed first must see the client's size
            stdin = container.stdin if options.stdin else None
            client_gone = asyncio.ensure_future(session.pump_input(stdin, resize, close_stdin=container.stdin_once))
            await asyncio.wait([output, client_gone], return_when=asyncio.FIRST_COMPLETED)
        client_gone.cancel()
        if output.done() and output.exception() is None:
            await session.finish(remotecommand.success_status())
        output.cancel()
        return session.ws

    # -- port-forward ------------------------------------------------------------------------

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        """A SPDY/3.1 upgrade speaking portforward.k8s.io (httpstream.Handshake and the SPDY
        upgrader's refusals), or a WebSocket with the channel protocol; then the session until the
        client leaves."""
        worker = self._worker(request, "pod does not exist")
        if worker.sandbox is None:
            meta = worker.pod["metadata"]
            raise web.HTTPInternalServerError(
                text=f"failed to find sandboxID for pod {meta['name']}_{meta['namespace']}")
        sandbox, meta = worker.sandbox, worker.pod["metadata"]
        target = portforward.Target(f"{meta['namespace']}/{meta['name']}", sandbox.id, sandbox.netns_path)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await portforward.serve_websocket(request, target, _forwarded_ports(request))
        if request.headers.get("Upgrade", "").lower() != "spdy/3.1" or "upgrade" not in request.headers.get(
                "Connection", "").lower():
            raise web.HTTPBadRequest(text="unable to upgrade: missing upgrade headers in request")
        offered = [p.strip() for p in ",".join(request.headers.getall("X-Stream-Protocol-Version", [])).split(",")]
        if portforward.PROTOCOL not in offered:
            raise web.HTTPForbidden(text="unable to upgrade: unable to negotiate protocol: client supports "
                                         f"[{' '.join(p for p in offered if p)}], "
                                         f"server supports [{portforward.PROTOCOL}]")
        connection = await hijack.switch_protocols(request, {"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                                             "X-Stream-Protocol-Version": portforward.PROTOCOL})
        await portforward.PortForwardSession(connection.reader, connection.write, target).run()
        return connection.response


async def _forward_terminal(shown: asyncio.Queue[bytes], session: remotecommand.StreamSession) -> None:
    """A terminal's output to the client as stdout (a terminal has one stream) until it ends."""
    while data := await shown.get():
        if session.options.stdout:
            await session.send(remotecommand.STDOUT, data)


async def _forward_log(container: ContainerProcess, session: remotecommand.StreamSession) -> None:
    """A container's output from its log: from now on, except for the first attach to a stdinOnce
    container, which sees everything the container wrote. That attach is its creator's (`kubectl run
    -i`), who waited for the pod to run before attaching: what a quick command wrote meanwhile, or all
    of it if it ended meanwhile, is what that user came for, and following from now on showed nothing."""
    channels = {"stdout": remotecommand.STDOUT if session.options.stdout else None,
                "stderr": remotecommand.STDERR if session.options.stderr else None}

    async def write(stream: str, data: bytes) -> None:
        channel = channels[stream]
        if channel is not None:
            await session.send(channel, data)

    first_of_once = container.stdin_once and not container.attached
    container.attached = True
    follow = logs.LogOptions(follow=True, tail_lines=None if first_of_once else 0)
    await logs.stream_log(container.log_path, follow, lambda: container.exit is None, write)


def _forwarded_ports(request: web.Request) -> list[int]:
    """The ports a WebSocket port-forward names, as the kubelet's NewV4Options reads them: `port`
    parameters, each one port or several separated by commas (the Python client's `8080,9999`)."""
    given = request.query.getall("port", [])
    if not given:
        raise web.HTTPBadRequest(text='query parameter "port" is required')
    ports = []
    for value in given:
        for port in value.split(","):
            if not port.isdigit() or not 0 < int(port) < 65536:
                raise web.HTTPBadRequest(text=f'unable to parse "{value}" as a port')
            ports.append(int(port))
    return ports


def _stream_options(request: web.Request) -> StreamOptions:
    try:
        return StreamOptions.from_query(request.query)
    except StreamOptionsError as error:
        raise web.HTTPBadRequest(text=str(error)) from None
