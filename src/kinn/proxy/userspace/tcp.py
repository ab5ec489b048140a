"""TCP through the userspace proxy (pkg/proxy/userspace's tcpProxySocket).

Each accepted connection gets a second one, dialled by the proxy to an endpoint the round-robin
picks — so the backend sees the proxy's node as its client, which is what seed 000's tcpdump
shows. A failed dial moves on to the next endpoint with a longer timeout (250 ms, 500 ms, 1 s,
2 s); a service port without endpoints has its connections closed at once. Bytes are copied by
two asyncio protocols wired to each other's transports (no per-chunk coroutine), with flow control
(a slow reader pauses the other side's reads) and half-closes passed on.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import cast

from kinn.proxy.userspace.roundrobin import MissingEndpoints, RoundRobin

log = logging.getLogger("kinn.proxy")

DIAL_TIMEOUTS = (0.25, 0.5, 1.0, 2.0)  # EndpointDialTimeouts


class _Side(asyncio.Protocol):
    """One socket of a proxied pair: what it reads, its peer's transport writes."""

    def __init__(self, peer: _Side | None = None) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer = peer
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def _peer_transport(self) -> asyncio.Transport | None:
        """The peer's transport while it can still be written to (uvloop raises on a closed one)."""
        if self.peer and self.peer.transport and not self.peer.transport.is_closing():
            return self.peer.transport
        return None

    def data_received(self, data: bytes) -> None:
        if peer := self._peer_transport():
            peer.write(data)

    def eof_received(self) -> bool:
        """Pass the half-close on; the pair is closed once both directions have ended."""
        self.eof = True
        if peer := self._peer_transport():
            if self.peer and self.peer.eof:
                peer.close()
                return False
            peer.write_eof()
        return True

    def pause_writing(self) -> None:
        if peer := self._peer_transport():
            peer.pause_reading()

    def resume_writing(self) -> None:
        if peer := self._peer_transport():
            peer.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if peer := self._peer_transport():
            peer.close()


class _Client(_Side):
    """The accepted side. Until the backend connection exists its reads are paused; what was read
    already (uvloop may have read before connection_made) waits in `_pending`, as does an EOF."""

    def __init__(self, balancer: RoundRobin) -> None:
        super().__init__()
        self.balancer = balancer
        self._pending: list[bytes] = []
        self._dial: asyncio.Task[None] | None = None  # referenced so that it is not collected mid-dial

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport
        self.transport.pause_reading()
        self._dial = asyncio.get_running_loop().create_task(self._connect())

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self._pending.append(data)
            return
        super().data_received(data)

    def eof_received(self) -> bool:
        if self.peer is None:
            self.eof = True
            return True
        return super().eof_received()

    async def _connect(self) -> None:
        assert self.transport
        backend = await connect_endpoint(self.balancer, self)
        if backend is None or self.transport.is_closing():  # no endpoint, or the client left meanwhile
            self.transport.close()
            if backend and backend.transport:
                backend.transport.close()
            return
        assert backend.transport
        self.peer = backend
        backend.transport.writelines(self._pending)
        self._pending.clear()
        if self.eof:
            backend.transport.write_eof()
        else:
            self.transport.resume_reading()


async def connect_endpoint(balancer: RoundRobin, client: _Side) -> _Side | None:
    """TryConnectEndpoints: the backend side of `client`'s connection, or None (logged) if none answers.
    The backend side knows its client from the start: a server may speak first."""
    assert client.transport
    client_ip = client.transport.get_extra_info("peername")[0]
    loop = asyncio.get_running_loop()
    reset_affinity = False
    for timeout in DIAL_TIMEOUTS:
        try:
            endpoint = balancer.next_endpoint(client_ip, reset_affinity)
        except MissingEndpoints as error:
            log.info("Couldn't find an endpoint for %s: %s", balancer.name, error)
            return None
        try:
            async with asyncio.timeout(timeout):
                _, backend = await loop.create_connection(lambda: _Side(peer=client), endpoint.ip, endpoint.port)
        except (OSError, TimeoutError) as error:
            log.info("Dial failed: dial tcp %s: %s", endpoint, error or "i/o timeout")
            reset_affinity = True  # a sticky client whose endpoint is gone takes the next one
            continue
        return backend
    log.warning("Failed to connect to balancer %s: failed to connect to an endpoint.", balancer.name)
    return None


def listen() -> socket.socket:
    """The service port's listening socket: any address, a port the kernel picks (the portal
    rules REDIRECT to it, whatever address the packet came in on)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", 0))
    sock.listen(socket.SOMAXCONN)
    sock.setblocking(False)
    return sock


async def serve(sock: socket.socket, balancer: RoundRobin) -> asyncio.AbstractServer:
    return await asyncio.get_running_loop().create_server(lambda: _Client(balancer), sock=sock,
                                                          backlog=socket.SOMAXCONN)
