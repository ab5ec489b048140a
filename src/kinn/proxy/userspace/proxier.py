"""The userspace proxier: one listening socket per service port, portal rules pointing at it.

The sockets and the byte copying live on the proxier's own event loop, in a thread started by
setup() (upstream runs a goroutine per socket): sync() is called in a worker thread, and the data
plane should not wait behind the agent's other components anyway. A sync first opens listeners for
new service ports and hands every listener its ready endpoints (all of this on the proxy loop, so
the round-robin state has one owner), then rewrites the portal chains with one iptables-restore,
and only then closes the listeners of removed service ports — rules never point at a closed port.
Every sync rewrites the whole rule set and re-ensures the jump rules (upstream's iptablesInit and
ensurePortals), so a flushed table is rebuilt by the next periodic sync without canaries.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import threading
from dataclasses import dataclass
from typing import Any, Coroutine, TypeVar

import uvloop

from kinn.proxy import conntrack
from kinn.proxy.changes import Change, ServiceKey, Snapshot
from kinn.proxy.iptables.proxier import iptables_restore, iptables_save
from kinn.proxy.node import NodeContext
from kinn.proxy.serviceport import ServicePort, ServicePortName
from kinn.proxy.userspace import rules, tcp, udp
from kinn.proxy.userspace.roundrobin import RoundRobin

log = logging.getLogger("kinn.proxy")

OPEN_FILES = 64 * 1000  # setRLimit(64 * 1000): every proxied TCP connection holds two descriptors
PROTOCOLS = ("TCP", "UDP")  # SCTP was never proxied in userspace
PortKey = tuple[ServicePortName, str]  # (service port, protocol)
T = TypeVar("T")


@dataclass
class ServiceProxy:
    """A service port's listener and what it balances over (owned by the proxy loop)."""

    service: ServicePort
    balancer: RoundRobin
    proxy_port: int
    server: asyncio.AbstractServer | asyncio.DatagramTransport  # owns the listening socket
    node_port: int = 0
    node_port_socket: socket.socket | None = None  # the claim: nothing else may bind the NodePort

    def close(self) -> None:
        self.server.close()
        self.release_node_port()

    def release_node_port(self) -> None:
        if self.node_port_socket is not None:
            self.node_port_socket.close()
        self.node_port, self.node_port_socket = 0, None


def _raise_open_files_limit() -> None:
    """Up to the hard limit: a node's agent may not raise that (no CAP_SYS_RESOURCE over it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _claim_node_port(port: int, protocol: str) -> socket.socket:
    """Hold the NodePort open (upstream's claimNodePort), though iptables redirects its traffic:
    then nothing else on the node can take it, and `ss -ltn` shows who owns it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if protocol == "TCP" else socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        if protocol == "TCP":
            sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


class UserspaceProxier:
    mode = "userspace"
    # Kubernetes 1.0/1.1 had no externalTrafficPolicy: the userspace proxier never served health checks.
    serves_health_check_node_ports = False

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies: dict[PortKey, ServiceProxy] = {}  # touched on the proxy loop only
        self._open_portals: set[rules.Portal] = set()
        self.last_restore = ""  # the last transaction, for tests

    def setup(self) -> None:
        _raise_open_files_limit()
        self._loop = uvloop.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="userspace-proxy", daemon=True).start()

    def canaries_present(self) -> bool:
        """Nothing to check: every sync rewrites the chains and re-ensures the jumps."""
        return True

    def force_full_sync(self) -> None:
        """Every sync is a full one."""

    def sync(self, snapshot: Snapshot, changes: dict[ServiceKey, Change]) -> None:
        portals = self._on_loop(self._open(snapshot))
        text = rules.render_restore(portals, self.ctx.node_ip, rules.missing_jumps(iptables_save("nat")))
        iptables_restore(text)
        self.last_restore = text
        self._log_opened(portals)
        closed = self._on_loop(self._close_stale({(p.service.name, p.service.protocol) for p in portals}))
        conntrack.delete([conntrack.Deletion(("--orig-dst", ip)) for svc in closed if svc.protocol == "UDP"
                          for ip in (svc.cluster_ip, *svc.external_ips, *svc.load_balancer_ips)])
        log.info("userspace sync: %d service ports proxied, %d closed", len(portals), len(closed))

    def _on_loop(self, work: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None, "setup() starts the proxy loop"
        return asyncio.run_coroutine_threadsafe(work, self._loop).result()

    async def _open(self, snapshot: Snapshot) -> list[rules.Portal]:
        """Listeners for new service ports; endpoints, affinity and NodePort claims for all."""
        portals = []
        for port in snapshot.ports():
            if port.protocol not in PROTOCOLS:
                continue
            key = (port.name, port.protocol)
            proxy = self._proxies.get(key)
            if proxy is None:
                try:
                    proxy = self._proxies[key] = await _start(port)
                except OSError as error:
                    log.error("Failed to start proxy for \"%s\": %s", rules.portal_name(port.name), error)
                    continue
            proxy.service = port
            proxy.balancer.set_sticky_seconds(port.sticky_seconds)
            proxy.balancer.update([ep for ep in snapshot.endpoints_of(port) if ep.ready])
            proxy.balancer.cleanup_stale_sessions()
            _ensure_node_port(proxy)
            portals.append(rules.Portal(port, proxy.proxy_port, proxy.node_port))
        return portals

    async def _close_stale(self, keep: set[PortKey]) -> list[ServicePort]:
        closed = []
        for key in [key for key in self._proxies if key not in keep]:
            proxy = self._proxies.pop(key)
            log.info("Stopping service \"%s\"", rules.portal_name(key[0]))
            proxy.close()
            closed.append(proxy.service)
        return closed

    def _log_opened(self, portals: list[rules.Portal]) -> None:
        """Seed 000's log lines, once per portal."""
        for portal in portals:
            if portal in self._open_portals:
                continue
            svc = portal.service
            for source in ("containers", "host"):
                log.info("Opened iptables from-%s portal for service \"%s\" on %s %s:%d", source,
                         rules.portal_name(svc.name), svc.protocol, svc.cluster_ip, svc.port)
            if portal.node_port:
                for source in ("containers", "host"):
                    log.info("Opened iptables from-%s public port for service \"%s\" on %s port %d", source,
                             rules.portal_name(svc.name), svc.protocol, portal.node_port)
        self._open_portals = set(portals)


async def _start(port: ServicePort) -> ServiceProxy:
    name = rules.portal_name(port.name)
    balancer = RoundRobin(name, port.sticky_seconds)
    log.info("Adding new service \"%s\" at %s:%d/%s", name, port.cluster_ip, port.port, port.protocol)
    if port.protocol == "TCP":
        listener = tcp.listen()
        server: asyncio.AbstractServer | asyncio.DatagramTransport = await tcp.serve(listener, balancer)
    else:
        listener = udp.bind()
        server = await udp.serve(listener, balancer)
    proxy = ServiceProxy(port, balancer, listener.getsockname()[1], server)
    log.info("Proxying for service \"%s\" on %s port %d", name, port.protocol, proxy.proxy_port)
    return proxy


def _ensure_node_port(proxy: ServiceProxy) -> None:
    """Claim the Service's NodePort, releasing a previous one; a port already taken on this node
    gets no NodePort rules (logged) and is tried again at the next sync."""
    wanted = proxy.service.node_port
    if proxy.node_port == wanted:
        return
    proxy.release_node_port()
    if not wanted:
        return
    try:
        proxy.node_port_socket = _claim_node_port(wanted, proxy.service.protocol)
    except OSError as error:
        log.error("can't open node port for %d/%s: %s", wanted, proxy.service.protocol, error)
        return
    proxy.node_port = wanted
    log.info("Claimed local port %d/%s", wanted, proxy.service.protocol)
