"""`kinn dns`'s serving loop: UDP and TCP on one port, answers from a cache of packed responses.

A response depends only on the query's bytes after its 2-byte ID (flags, question, EDNS) and on
the records, so the hot path is one dict lookup keyed by those bytes, with the query's ID put in
front of the cached bytes. Any change to the records empties the cache (watch.py calls
`invalidate` on every informer event), so answers never lag the cluster; a miss costs one parse,
one answer and one pack (~0.1 ms).
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
from dataclasses import dataclass

from kinn import netlink
from kinn.client.informer import SharedInformerFactory, strip_managed_fields
from kinn.client.rest import Client
from kinn.dns.answer import Zone, respond
from kinn.dns.health import start_probes
from kinn.dns.records import ClusterRecords
from kinn.dns.watch import watch_cluster

log = logging.getLogger("kinn.dns")

CACHE_ENTRIES = 10_000
TCP_IDLE_SECONDS = 10.0
SYNC_LOG_SECONDS = 5.0


@dataclass(frozen=True)
class DNSOptions:
    zone: Zone
    bind_address: str = "0.0.0.0"
    port: int = 53
    health_port: int = 8080
    ready_port: int = 8181


class AnswerCache:
    """Packed responses without their ID, by query bytes without theirs; the oldest entry makes
    room for a new one when full (insertion order is a dict's)."""

    def __init__(self, capacity: int = CACHE_ENTRIES) -> None:
        self.capacity = capacity
        self._entries: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self._entries.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        if len(self._entries) >= self.capacity:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = value

    def clear(self) -> None:
        self._entries.clear()


class Resolver:
    """Query bytes → response bytes, cached per transport (UDP answers may be truncated, TCP ones not)."""

    def __init__(self, records: ClusterRecords, zone: Zone) -> None:
        self.records, self.zone = records, zone
        self._caches = {False: AnswerCache(), True: AnswerCache()}

    def resolve(self, query: bytes, tcp: bool) -> bytes | None:
        cache = self._caches[tcp]
        key = query[2:]
        cached = cache.get(key)
        if cached is not None:
            return query[:2] + cached
        response = respond(query, self.records, self.zone, tcp)
        if response is not None:
            cache.put(key, response[2:])
        return response

    def invalidate(self) -> None:
        for cache in self._caches.values():
            cache.clear()


class UDPServer(asyncio.DatagramProtocol):
    def __init__(self, resolver: Resolver) -> None:
        self._resolve = resolver.resolve
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        response = self._resolve(data, False)
        if response is not None and self._transport is not None:
            self._transport.sendto(response, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp: %s", exc)


class TCPConnection(asyncio.Protocol):
    """RFC 7766 framing: each message behind a 2-byte length, many per connection, pipelined;
    an idle connection is closed after TCP_IDLE_SECONDS."""

    def __init__(self, resolver: Resolver) -> None:
        self._resolve = resolver.resolve
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._arm_idle_timer()

    def _arm_idle_timer(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        assert self._transport is not None
        self._idle = asyncio.get_running_loop().call_later(TCP_IDLE_SECONDS, self._transport.close)

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        self._arm_idle_timer()
        self._buffer += data
        while len(self._buffer) >= 2:
            length = int.from_bytes(self._buffer[:2], "big")
            if len(self._buffer) < 2 + length:
                return
            query = bytes(self._buffer[2:2 + length])
            del self._buffer[:2 + length]
            response = self._resolve(query, True)
            if response is None:
                self._transport.close()
                return
            self._transport.write(len(response).to_bytes(2, "big") + response)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()


def local_addresses(bind_address: str) -> tuple[str, ...]:
    """The server's own addresses, as CoreDNS finds them for its NS records: the bound address,
    or every interface's, without loopback and link-local ones."""
    if bind_address in ("0.0.0.0", "::"):
        candidates = netlink.interface_addresses()
    else:
        candidates = [bind_address]
    return tuple(ip for ip in candidates
                 if not (address := ipaddress.ip_address(ip)).is_loopback and not address.is_link_local)


async def run_dns(client: Client, options: DNSOptions) -> None:
    """Serve until cancelled: the probes at once, DNS once the informer caches have synced."""
    records = ClusterRecords()
    resolver = Resolver(records, options.zone)
    factory = SharedInformerFactory(client, transform=strip_managed_fields)
    watch_cluster(factory, records, resolver.invalidate)
    ready = asyncio.Event()
    probes = await start_probes(options.bind_address, options.health_port, options.ready_port, ready)
    factory.start()
    transports: list[asyncio.BaseTransport] = []
    loop = asyncio.get_running_loop()
    try:
        await _wait_for_sync(factory)
        # The synced caches live as long as the process: frozen as run_daemon froze the modules,
        # they stay out of the collector's full passes (tens of milliseconds each), which would
        # otherwise stall queries.
        gc.freeze()
        udp, _ = await loop.create_datagram_endpoint(lambda: UDPServer(resolver),
                                                     local_addr=(options.bind_address, options.port))
        tcp = await loop.create_server(lambda: TCPConnection(resolver), options.bind_address, options.port,
                                       reuse_address=True)
        transports.append(udp)
        ready.set()
        log.info("serving %s. on %s:%d (UDP and TCP)", options.zone.domain, options.bind_address, options.port)
        async with tcp:
            await tcp.serve_forever()
    finally:
        for transport in transports:
            transport.close()
        await factory.stop()
        for probe in probes:
            probe.close()
            await probe.wait_closed()


async def _wait_for_sync(factory: SharedInformerFactory) -> None:
    while True:
        try:
            await factory.wait_for_cache_sync(timeout=SYNC_LOG_SECONDS)
            return
        except TimeoutError:
            log.info("waiting for the Kubernetes API before serving")
