"""The userspace proxier's load balancer (pkg/proxy/userspace's LoadBalancerRR), one per service port.

Connections take the endpoints in turn. When the set of endpoints changes, the new set is shuffled
and the turn restarts at its head, so every node's proxy does not hammer the same first backend.
With ClientIP affinity, a client keeps its endpoint while it comes back within the timeout (each
use refreshes it), unless a dial to it failed: then the next endpoint in turn replaces it.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Callable

from kinn.proxy.serviceport import Endpoint

log = logging.getLogger("kinn.proxy")


class MissingEndpoints(LookupError):
    """The service port has no ready endpoint (upstream's ErrMissingEndpoints)."""

    def __init__(self) -> None:
        super().__init__("missing endpoints")


@dataclass
class _Affinity:
    endpoint: Endpoint
    last_used: float


class RoundRobin:
    def __init__(self, name: str, sticky_seconds: int = 0, clock: Callable[[], float] = time.monotonic,
                 shuffle: Callable[[list[Endpoint]], None] = random.shuffle) -> None:
        self.name = name
        self.sticky_seconds = sticky_seconds  # 0: no session affinity
        self.endpoints: list[Endpoint] = []
        self.index = 0
        self._affinity: dict[str, _Affinity] = {}
        self._clock = clock
        self._shuffle = shuffle

    def set_sticky_seconds(self, seconds: int) -> None:
        """A changed affinity is a new policy (upstream recreates the service entry): sessions forgotten."""
        if seconds != self.sticky_seconds:
            self.sticky_seconds = seconds
            self._affinity.clear()

    def update(self, endpoints: list[Endpoint]) -> None:
        """Take a new endpoint set; an unchanged set keeps the turn and the sessions."""
        if sorted(endpoints) == sorted(self.endpoints):
            return
        log.info("LoadBalancerRR: Setting endpoints for %s to %s", self.name, [str(ep) for ep in endpoints])
        kept = set(endpoints)
        self._affinity = {ip: a for ip, a in self._affinity.items() if a.endpoint in kept}
        self.endpoints = list(endpoints)
        self._shuffle(self.endpoints)
        self.index = 0

    def next_endpoint(self, client_ip: str, reset_affinity: bool = False) -> Endpoint:
        if not self.endpoints:
            raise MissingEndpoints()
        now = self._clock()
        if self.sticky_seconds and not reset_affinity:
            session = self._affinity.get(client_ip)
            if session and now - session.last_used < self.sticky_seconds:
                session.last_used = now
                return session.endpoint
        endpoint = self.endpoints[self.index]
        self.index = (self.index + 1) % len(self.endpoints)
        if self.sticky_seconds:
            self._affinity[client_ip] = _Affinity(endpoint, now)
        return endpoint

    def cleanup_stale_sessions(self) -> None:
        """Forget sessions idle past the timeout (each sync, as upstream's CleanupStaleStickySessions)."""
        now = self._clock()
        self._affinity = {ip: a for ip, a in self._affinity.items() if now - a.last_used < self.sticky_seconds}
