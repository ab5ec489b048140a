"""The proxier health server (ProxyHealthServer): `/healthz` and `/livez` on `--healthz-bind-address`.

Healthy means "no change has waited longer than the health timeout for a sync": a change the
proxy must program queues an update (its oldest time is kept), a successful sync clears it. A
proxy that keeps failing to apply its rules therefore turns unhealthy, while an idle one, with
nothing queued, stays healthy however long ago it last synced. `/healthz` also fails while this
node is being deleted or drained by the cluster autoscaler (`nodeEligible`), which load balancers
read to take the node out before it goes; `/livez` ignores that, a liveness probe must not kill a
proxy whose node is merely leaving.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from aiohttp import web

from kinn.proxy.healthcheck.http import Reply, json_response, listen, not_found

log = logging.getLogger("kinn.proxy")

Obj = dict[str, Any]
TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"
RETRY_PERIOD = 5.0  # serveHealthz's wait.Until period: a port in use is retried, not fatal (no hard-fail)
GO_ZERO_TIME = "0001-01-01 00:00:00 +0000 UTC"
_PROCESS_START_NS = time.monotonic_ns()


@dataclass(frozen=True)
class Stamp:
    """One reading of Go's clock: the wall time printed, the monotonic time (since the process
    started, Go's `m=+…`) compared, so a wall-clock step never makes the proxy look late."""

    wall_ns: int
    mono_ns: int

    @classmethod
    def now(cls) -> Stamp:
        return cls(time.time_ns(), time.monotonic_ns() - _PROCESS_START_NS)


def go_time(stamp: Stamp | None) -> str:
    """time.Time.String() as kube-proxy's `%q` prints it, in UTC: `2006-01-02 15:04:05.999999999 +0000
    UTC m=+12.345678901` (trailing zeros of the fraction dropped); None is Go's zero time."""
    if stamp is None:
        return GO_ZERO_TIME
    seconds, nanos = divmod(stamp.wall_ns, 10**9)
    wall = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    mono_s, mono_frac = divmod(stamp.mono_ns, 10**9)
    return f"{wall}{fraction} +0000 UTC m=+{mono_s}.{mono_frac:09d}"


@dataclass
class ProxierHealth:
    """The timestamps behind /healthz (ProxyHealthServer's state, one IP family)."""

    health_timeout: float  # seconds; cmd/kube-proxy passes 2 × --iptables-sync-period
    clock: Callable[[], Stamp] = field(default=Stamp.now)
    last_updated: Stamp | None = None
    oldest_pending_queued: Stamp | None = None
    node_eligible: bool = True  # eligible while starting up, until a Node event says otherwise

    def queued_update(self) -> None:
        """A change the rules must reflect arrived; only the oldest unsynced one counts."""
        if self.oldest_pending_queued is None:
            self.oldest_pending_queued = self.clock()

    def updated(self) -> None:
        """The rules reflect every change so far."""
        self.oldest_pending_queued = None
        self.last_updated = self.clock()

    def sync_node(self, node: Obj) -> None:
        """Eligible unless the Node is being deleted or carries the autoscaler's to-be-deleted taint."""
        taints = (node.get("spec") or {}).get("taints") or ()
        self.node_eligible = not node["metadata"].get("deletionTimestamp") and \
            not any(t.get("key") == TO_BE_DELETED_TAINT for t in taints)

    def is_healthy(self) -> bool:
        """The proxier's own health, ignoring the Node (what service health checks report)."""
        return self._check(self.clock())

    def _check(self, now: Stamp) -> bool:
        pending = self.oldest_pending_queued
        return pending is None or (now.mono_ns - pending.mono_ns) / 1e9 < self.health_timeout

    def healthz(self) -> Reply:
        now = self.clock()
        healthy = self._check(now) and self.node_eligible
        # Healthy answers report "now" as lastUpdated, the older releases' meaning (the sync loop ran).
        last = now if healthy else self.last_updated
        return (200 if healthy else 503,
                f'{{"lastUpdated": "{go_time(last)}","currentTime": "{go_time(now)}", '
                f'"nodeEligible": {str(self.node_eligible).lower()}}}')

    def livez(self) -> Reply:
        now = self.clock()
        healthy = self._check(now)
        last = now if healthy else self.last_updated
        return 200 if healthy else 503, f'{{"lastUpdated": "{go_time(last)}","currentTime": "{go_time(now)}"}}'


def parse_bind_address(address: str) -> tuple[str, int] | None:
    """`--healthz-bind-address` as host:port; None (disabled) for "" or "0", as upstream's empty value
    (and the old `--healthz-port 0`)."""
    if address in ("", "0"):
        return None
    host, sep, port = address.rpartition(":")
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if not sep or ip is None or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{address!r} is not IP:port (e.g. 0.0.0.0:10256)")
    return str(ip), int(port)


async def serve_healthz(health: ProxierHealth, host: str, port: int) -> None:
    """Serve /healthz and /livez until cancelled; a bind failure is logged and retried, as upstream
    does without --bind-address-hard-fail."""
    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/healthz":
            return json_response(health.healthz())
        if request.path == "/livez":
            return json_response(health.livez())
        return not_found()

    while True:
        try:
            runner = await listen(handle, host, port)
            break
        except OSError as exc:
            log.error("Healthz server failed: failed to start proxier healthz on %s:%d: %s", host, port, exc)
            await asyncio.sleep(RETRY_PERIOD)
    log.info("Starting healthz HTTP server on %s:%d", host, port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
