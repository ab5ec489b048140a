"""pods/log, exec, attach and portforward: the API server passes them on to the kubelet of the pod's node.

As upstream's LogLocation/ExecLocation/AttachLocation: the container defaults to the pod's only
one (else 400 with the names to choose from), the node's address is its InternalIP (kubeadm's
--kubelet-preferred-address-types order) and its port `status.daemonEndpoints.kubeletEndpoint.Port`,
the kubelet's certificate is not verified (no --kubelet-certificate-authority). Logs stream back
as text/plain, a kubelet error becomes a Status as the GenericHttpResponseChecker makes it. Exec
and attach are upgrade requests: the kubelet's leg is opened first with the client's subprotocols;
if it refuses, its reply goes back as it is (kubectl shows the kubelet's text), else the client's
leg is upgraded to the protocol the kubelet chose and messages are relayed both ways until one
side closes. The nodes' network may only be reachable from the cluster's netns (--cluster-netns),
so sockets to kubelets are created there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from kinn import netlink
from kinn.api import errors
from kinn.api.containers import all_containers
from kinn.api.field import Path, forbidden, invalid
from kinn.apiserver import hijack, websocket
from kinn.apiserver.registry import Registries
from kinn.apiserver.registry.generic import Registry, RequestContext

log = logging.getLogger("kinn.apiserver.proxy")
Obj = dict[str, Any]
ADDRESS_TYPES = ("InternalIP", "ExternalIP", "Hostname")  # kubeadm's --kubelet-preferred-address-types
MAX_ERROR_BODY = 4 * 1024  # upstream's maxReadLength for a kubelet's error reply
READ_SIZE = 32 * 1024
SPDY_UPGRADE, PORT_FORWARD_PROTOCOL = "SPDY/3.1", "portforward.k8s.io"
PORT_FORWARD_TUNNEL = f"{SPDY_UPGRADE}+{PORT_FORWARD_PROTOCOL}"  # SPDY tunneled in WebSocket (PortForwardWebsockets)
UPGRADE_HEADERS = ("Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol",
                   "X-Stream-Protocol-Version")


class KubeletDialer:
    """Opens connections to kubelets (TLS, not verified) and, for pods/proxy and services/proxy, to
    pods, from the cluster's netns when one is configured."""

    def __init__(self, cluster_netns: str = "") -> None:
        self.cluster_netns = cluster_netns
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # not create_default_context: no roots to load
        self.tls.check_hostname = False
        self.tls.verify_mode = ssl.CERT_NONE  # as upstream without --kubelet-certificate-authority

    def socket(self, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM, proto: int = 0) -> socket.socket:
        if self.cluster_netns:
            return netlink.socket_in(self.cluster_netns, family, kind, proto)
        return socket.socket(family, kind, proto)

    def session(self, auto_decompress: bool = True) -> aiohttp.ClientSession:
        """A one-request HTTP client whose connections start in the right netns (a proxy passes
        bodies on as they came: `auto_decompress=False`)."""
        connector = aiohttp.TCPConnector(ssl=self.tls, force_close=True,
                                         socket_factory=lambda info: self.socket(info[0], info[1], info[2]))
        return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None, connect=10),
                                     auto_decompress=auto_decompress)

    async def open(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A raw TLS stream to the kubelet (for upgrades, whose refusals must be read as they are)."""
        sock = self.socket()
        sock.setblocking(False)
        try:
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (host, port)), 10)
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock, ssl=self.tls, server_hostname=host)


# -- locating the kubelet -----------------------------------------------------------------

def query_bool(query: Mapping[str, str], name: str) -> bool:
    """The parameter codec's string-to-bool: absent, "0" or "false" (any case) is false, else true."""
    if name not in query:
        return False
    return query[name] != "0" and query[name].lower() != "false"


def query_int(query: Mapping[str, str], name: str) -> int | None:
    if name not in query:
        return None
    try:
        return int(query[name])
    except ValueError:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{query[name]}": invalid syntax') from None


def container_names(pod: Obj) -> list[str]:
    """Every container, init ones first, as podutil.VisitContainers walks them."""
    return [c["name"] for c in all_containers(pod["spec"])]


def validate_container(pod: Obj, container: str) -> str:
    """validateContainer: the named container must exist; none named means the only one."""
    name = pod["metadata"]["name"]
    if container:
        if container not in container_names(pod):
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        return container
    containers = pod["spec"].get("containers") or []
    if len(containers) == 1:
        return containers[0]["name"]
    if not containers:
        raise errors.bad_request(f"a container name must be specified for pod {name}")
    choices = "[" + " ".join(container_names(pod)) + "]"  # Go's %s of a []string
    raise errors.bad_request(f"a container name must be specified for pod {name}, choose one of: {choices}")


def validate_log_options(name: str, query: Mapping[str, str]) -> None:
    """ValidatePodLogOptions: 422 PodLogOptions "<pod>" is invalid."""
    problems = []
    tail_lines, limit_bytes = query_int(query, "tailLines"), query_int(query, "limitBytes")
    since_seconds = query_int(query, "sinceSeconds")
    if tail_lines is not None and tail_lines < 0:
        problems.append(invalid(Path("tailLines"), tail_lines, "must be greater than or equal to 0"))
    if limit_bytes is not None and limit_bytes < 1:
        problems.append(invalid(Path("limitBytes"), limit_bytes, "must be greater than 0"))
    if since_seconds is not None and "sinceTime" in query:
        problems.append(forbidden(Path(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
    elif since_seconds is not None and since_seconds < 1:
        problems.append(invalid(Path("sinceSeconds"), since_seconds, "must be greater than 0"))
    if problems:
        raise errors.invalid("PodLogOptions", "", name, problems)


async def kubelet_address(registries: Registries, node_name: str) -> tuple[str, int]:
    """The node's preferred address and its kubelet's port (NodeConnectionInfoGetter)."""
    nodes = registries.get("", "v1", "nodes")
    assert nodes is not None
    stored = await nodes.store.get(nodes.key("", node_name))
    if stored is None:
        raise nodes.not_found(node_name)
    status = stored.obj.get("status") or {}
    addresses = status.get("addresses") or []
    for kind in ADDRESS_TYPES:
        for address in addresses:
            if address.get("type") == kind and address.get("address"):
                port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 10250
                return address["address"], int(port)
    raise errors.internal_error(f"no preferred addresses found; known addresses: {addresses}")


def kubelet_error(status: int, body: str, pod_name: str) -> errors.StatusError:
    """GenericHttpResponseChecker: a kubelet's non-2xx reply as the Status the client sees."""
    if status == 500:
        return errors.internal_error(body)
    if status == 400:
        return errors.bad_request(body)
    generic = {404: ("NotFound", "the server could not find the requested resource"),
               422: ("Invalid", "the server rejected our request due to an error in our request"),
               403: ("Forbidden", body)}
    reason, message = generic.get(status, ("", f"the server responded with the status code {status} but did not "
                                               "return more information"))
    if not reason and status >= 500:
        reason = "InternalError"
        message = f'an error on the server ("{body}") has prevented the request from succeeding'
    return errors.StatusError(status, reason or "Unknown", message, {"name": pod_name})


# -- pods/log -----------------------------------------------------------------------------

async def pod_log(request: web.BaseRequest, kubelets: KubeletDialer, pods: Registry, registries: Registries,
                  ctx: RequestContext, name: str) -> web.StreamResponse:
    """GET pods/{name}/log: an unscheduled pod has no log yet (an empty reply, as upstream)."""
    query = request.query
    validate_log_options(name, query)
    pod = (await pods.get(ctx, name)).obj
    container = validate_container(pod, query.get("container", ""))
    node_name = pod["spec"].get("nodeName")
    if not node_name:
        return web.Response(body=b"", content_type="text/plain")
    host, port = await kubelet_address(registries, node_name)
    params: list[tuple[str, str]] = [(flag, "true") for flag in ("follow", "previous", "timestamps")
                                     if query_bool(query, flag)]
    params += [(option, query[option]) for option in ("sinceSeconds", "sinceTime", "tailLines", "limitBytes")
               if option in query]
    url = f"https://{host}:{port}/containerLogs/{ctx.namespace}/{name}/{container}"
    async with kubelets.session() as session:
        try:
            async with session.get(url, params=params) as upstream:
                if not 200 <= upstream.status <= 206:
                    body = (await upstream.content.read(MAX_ERROR_BODY)).decode(errors="replace")
                    raise kubelet_error(upstream.status, body, name)
                response = web.StreamResponse(headers={"Content-Type": "text/plain"})
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as error:
            raise errors.internal_error(f"Get \"{url}\": {error or type(error).__name__}") from error


# -- pods/exec and pods/attach ------------------------------------------------------------

def stream_params(verb: str, query: Mapping[str, str], commands: list[str]) -> list[tuple[str, str]]:
    """streamParams: the stream flags as "1", and for exec each `command` argument."""
    params = [(flag, "1") for flag in ("stdin", "stdout", "stderr", "tty") if query_bool(query, flag)]
    if verb == "exec":
        params += [("command", command) for command in commands]
    return params


def is_upgrade(request: web.BaseRequest) -> bool:
    return "upgrade" in request.headers.get("Connection", "").lower() and "Upgrade" in request.headers


async def pod_stream(request: web.BaseRequest, kubelets: KubeletDialer, pods: Registry, registries: Registries,
                     ctx: RequestContext, name: str, verb: str) -> web.StreamResponse:
    """pods/{name}/exec or /attach, GET or POST: an upgrade relayed to the kubelet."""
    pod = (await pods.get(ctx, name)).obj
    container = validate_container(pod, request.query.get("container", ""))
    node_name = pod["spec"].get("nodeName")
    if not node_name:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    if not is_upgrade(request):
        raise errors.bad_request("Upgrade request required")
    host, port = await kubelet_address(registries, node_name)
    path = f"/{verb}/{ctx.namespace}/{name}/{container}?" + urlencode(
        stream_params(verb, request.query, request.query.getall("command", [])))
    return await _websocket_to_kubelet(request, kubelets, host, port, path)


async def _websocket_to_kubelet(request: web.BaseRequest, kubelets: KubeletDialer, host: str, port: int,
                                path: str) -> web.StreamResponse:
    """The client's WebSocket upgrade, on to the kubelet with the client's subprotocols; a refusal
    goes back as it is, else messages are relayed both ways."""
    reader, writer = await _dial_kubelet(kubelets, host, port)
    try:
        status, headers, body = await _handshake(reader, writer, host, port, request.method, path, request.headers)
        if status != 101:
            return web.Response(status=status, body=body, content_type=headers.get("content-type", "text/plain")
                                .split(";")[0])
        client = web.WebSocketResponse(protocols=(headers.get("sec-websocket-protocol", ""),))
        await client.prepare(request)
        await _relay(client, reader, writer)
        return client
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _dial_kubelet(kubelets: KubeletDialer, host: str, port: int) -> tuple[asyncio.StreamReader,
                                                                                asyncio.StreamWriter]:
    try:
        return await kubelets.open(host, port)
    except (OSError, asyncio.TimeoutError) as error:
        raise errors.internal_error(f"error dialing backend: {error or type(error).__name__}") from error


async def _handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int,
                     method: str, path: str, client_headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
    """Send the client's upgrade request on to the kubelet (with a key of ours) and read its reply."""
    key = websocket.new_key()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Length: 0"]
    for header in UPGRADE_HEADERS:
        if header in client_headers:
            value = key if header == "Sec-WebSocket-Key" else client_headers[header]
            lines.append(f"{header}: {value}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    status, headers, body = await _read_reply(reader)
    if status == 101 and headers.get("sec-websocket-accept") != websocket.accept_value(key):
        raise errors.internal_error("the kubelet's WebSocket handshake reply does not match the request")
    return status, headers, body


async def _read_reply(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """The kubelet's reply to an upgrade: its status, lowercased headers and (unless 101) body."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {line.split(":", 1)[0].strip().lower(): line.split(":", 1)[1].strip() for line in head[1:] if ":" in line}
    if status == 101:
        return status, headers, b""
    length = min(int(headers.get("content-length", "0")), MAX_ERROR_BODY)
    return status, headers, await reader.readexactly(length)


async def _relay(client: web.WebSocketResponse, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Messages both ways until one side closes; the close (and its code) is passed on."""
    async def from_client() -> None:
        async for message in client:
            opcode = websocket.BINARY if message.type == aiohttp.WSMsgType.BINARY else websocket.TEXT
            data = message.data if isinstance(message.data, bytes) else str(message.data).encode()
            writer.write(websocket.encode_frame(opcode, data))
            await writer.drain()
        writer.write(websocket.encode_frame(websocket.CLOSE, websocket.close_payload(client.close_code or 1000)))

    async def from_kubelet() -> None:
        while True:
            message = await websocket.read_message(reader)
            if message.opcode == websocket.CLOSE:
                await client.close(code=message.close_code)
                return
            if message.opcode == websocket.PING:
                writer.write(websocket.encode_frame(websocket.PONG, message.data))
            elif message.opcode == websocket.BINARY:
                await client.send_bytes(message.data)
            elif message.opcode == websocket.TEXT:
                await client.send_str(message.data.decode())

    await _first_of(from_client, from_kubelet, on_broken=lambda: client.close(code=1011))


# -- pods/portforward ----------------------------------------------------------------------

async def pod_port_forward(request: web.BaseRequest, kubelets: KubeletDialer, pods: Registry,
                           registries: Registries, ctx: RequestContext, name: str) -> web.StreamResponse:
    """pods/{name}/portforward: the kubelet's leg is a SPDY/3.1 upgrade; the client's is the same
    (its bytes relayed as they are) or, as kubectl 1.31+ tries first, a WebSocket with subprotocol
    SPDY/3.1+portforward.k8s.io whose binary messages carry the SPDY byte stream (the API server's
    tunneling handler, KEP-4006). A WebSocket offering the channel protocol instead (the Python
    client's v4.channel.k8s.io) goes on to the kubelet as it is, as exec's does: the kubelet speaks
    it. A refusal by the kubelet goes back as it is."""
    pod = (await pods.get(ctx, name)).obj
    node_name = pod["spec"].get("nodeName")
    if not node_name:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    if not is_upgrade(request):
        raise errors.bad_request("Upgrade request required")
    tunneled = request.headers["Upgrade"].lower() == "websocket"
    host, port = await kubelet_address(registries, node_name)
    path = f"/portForward/{ctx.namespace}/{name}?" + urlencode([("port", p) for p in request.query.getall("ports", [])])
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    if tunneled and PORT_FORWARD_TUNNEL not in offered:
        return await _websocket_to_kubelet(request, kubelets, host, port, path)
    reader, writer = await _dial_kubelet(kubelets, host, port)
    try:
        writer.write((f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 0\r\n"
                      f"Connection: Upgrade\r\nUpgrade: {SPDY_UPGRADE}\r\n"
                      f"X-Stream-Protocol-Version: {PORT_FORWARD_PROTOCOL}\r\n\r\n").encode())
        status, headers, body = await _read_reply(reader)
        if status != 101:
            return web.Response(status=status, body=body, content_type=headers.get("content-type", "text/plain")
                                .split(";")[0])
        if tunneled:
            client = web.WebSocketResponse(protocols=(PORT_FORWARD_TUNNEL,))
            await client.prepare(request)
            await _relay_tunnel(client, reader, writer)
            return client
        upgraded = await hijack.switch_protocols(request, {
            "Connection": "Upgrade", "Upgrade": SPDY_UPGRADE,
            "X-Stream-Protocol-Version": headers.get("x-stream-protocol-version", PORT_FORWARD_PROTOCOL)})
        await _relay_bytes(upgraded, reader, writer)
        return upgraded.response
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _pump(read: Callable[[], Awaitable[bytes]], write: Callable[[bytes], Awaitable[Any]]) -> None:
    while data := await read():
        await write(data)


async def _to_kubelet(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


async def _relay_tunnel(client: web.WebSocketResponse, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
    """WebSocket messages' payloads to the kubelet, the kubelet's bytes back as binary messages."""
    async def from_client() -> None:
        async for message in client:
            if message.type == aiohttp.WSMsgType.BINARY:
                await _to_kubelet(writer, message.data)

    await _first_of(from_client, lambda: _pump(lambda: reader.read(READ_SIZE), client.send_bytes),
                    on_broken=lambda: client.close(code=1011))
    await client.close()


async def _relay_bytes(client: hijack.Hijacked, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _first_of(lambda: _pump(lambda: client.reader.read(READ_SIZE), lambda data: _to_kubelet(writer, data)),
                    lambda: _pump(lambda: reader.read(READ_SIZE), client.write),
                    on_broken=lambda: asyncio.sleep(0))


async def _first_of(*tasks: Callable[[], Awaitable[None]], on_broken: Callable[[], Awaitable[Any]]) -> None:
    """Run the pumps until one ends; a pump that failed (a dropped connection) closes the client abnormally."""
    running = [asyncio.ensure_future(task()) for task in tasks]
    done, pending = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if failures := [task.exception() for task in done if task.exception()]:
        log.warning("a relayed stream broke off: %r", failures[0])
        with contextlib.suppress(Exception):
            await on_broken()
