"""UDP through the userspace proxy (pkg/proxy/userspace's udpProxySocket).

Every client address gets its own connected socket to an endpoint the round-robin picks, so
replies can be told apart; they are sent back to the client from the service socket, whose
address the client's conntrack entry expects (the REDIRECT is undone on the way out). A client
socket idle in both directions for the timeout (kube-proxy's --udp-timeout, 250 ms by default) is
closed; its next datagram picks an endpoint afresh.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import cast

from kinn.proxy.userspace.roundrobin import MissingEndpoints, RoundRobin

log = logging.getLogger("kinn.proxy")

UDP_IDLE_TIMEOUT = 0.25
MAX_DATAGRAM = 65535
Address = tuple[str, int]


class _ClientSocket:
    """One client's socket towards its endpoint; the replies it reads go back through the service."""

    def __init__(self, service: UDPProxy, client: Address, sock: socket.socket) -> None:
        self.service = service
        self.client = client
        self.sock = sock
        self.last_active = time.monotonic()
        loop = asyncio.get_running_loop()
        loop.add_reader(sock.fileno(), self._readable)
        self._timer = loop.call_later(service.idle_timeout, self._check_idle)

    def send(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        try:
            self.sock.send(data)
        except BlockingIOError:
            pass  # a full socket buffer drops the datagram, as the network would
        except OSError as error:  # e.g. the endpoint's earlier ICMP port unreachable
            log.info("Write failed for %s: %s", self.service.balancer.name, error)
            self.close()

    def _readable(self) -> None:
        try:
            data = self.sock.recv(MAX_DATAGRAM)
        except BlockingIOError:
            return
        except OSError as error:
            log.info("Read failed for %s: %s", self.service.balancer.name, error)
            self.close()
            return
        self.last_active = time.monotonic()
        self.service.reply(data, self.client)

    def _check_idle(self) -> None:
        """One timer per client, re-armed for the remaining time rather than reset on every datagram."""
        remaining = self.last_active + self.service.idle_timeout - time.monotonic()
        if remaining > 0:
            self._timer = asyncio.get_running_loop().call_later(remaining, self._check_idle)
        else:
            self.close()

    def close(self) -> None:
        if self.service.clients.get(self.client) is self:
            del self.service.clients[self.client]
        self._timer.cancel()
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()


class UDPProxy(asyncio.DatagramProtocol):
    """The service port's socket: datagrams in from clients, replies out to them."""

    def __init__(self, balancer: RoundRobin, idle_timeout: float = UDP_IDLE_TIMEOUT) -> None:
        self.balancer = balancer
        self.idle_timeout = idle_timeout
        self.clients: dict[Address, _ClientSocket] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        client = self.clients.get(addr) or self._new_client(addr)
        if client is not None:
            client.send(data)

    def _new_client(self, addr: Address) -> _ClientSocket | None:
        try:
            endpoint = self.balancer.next_endpoint(addr[0])
        except MissingEndpoints as error:
            log.info("Failed to connect to balancer %s: %s", self.balancer.name, error)
            return None
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            sock.connect((endpoint.ip, endpoint.port))
        except OSError as error:  # no route to the endpoint
            log.info("Dial failed: dial udp %s: %s", endpoint, error)
            sock.close()
            return None
        client = self.clients[addr] = _ClientSocket(self, addr, sock)
        return client

    def reply(self, data: bytes, client: Address) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, client)

    def connection_lost(self, exc: Exception | None) -> None:
        for client in list(self.clients.values()):
            client.close()


def bind() -> socket.socket:
    """The service port's socket: any address, a port the kernel picks."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", 0))
    sock.setblocking(False)
    return sock


async def serve(sock: socket.socket, balancer: RoundRobin) -> asyncio.DatagramTransport:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(lambda: UDPProxy(balancer), sock=sock)
    return transport
