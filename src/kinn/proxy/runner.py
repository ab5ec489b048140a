"""BoundedFrequencyRunner (pkg/util/async): kube-proxy's sync pacing.

A change asks for a sync; the sync runs at once if the last one is at least `min_interval` old,
otherwise when it becomes so, so a burst of changes costs one sync (`--iptables-min-sync-period`).
With no changes it still runs every `max_interval` (`--iptables-sync-period`), and a failed sync is
retried after `retry_interval`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable

log = logging.getLogger("kinn.proxy")


class BoundedFrequencyRunner:
    def __init__(self, name: str, sync: Callable[[], Awaitable[bool]], min_interval: float, max_interval: float,
                 retry_interval: float = 1.0) -> None:
        self.name = name
        self.sync = sync  # returns False when it failed and should be retried
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.retry_interval = retry_interval
        self._wanted = asyncio.Event()

    def run(self) -> None:
        """Ask for a sync (cheap; any number of calls before it happens count once)."""
        self._wanted.set()

    async def loop(self) -> None:
        last = float("-inf")
        next_due = time.monotonic() + self.max_interval
        while True:
            try:
                await asyncio.wait_for(self._wanted.wait(), timeout=max(0.0, next_due - time.monotonic()))
            except asyncio.TimeoutError:
                pass
            wait = last + self.min_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._wanted.clear()
            last = time.monotonic()
            try:
                ok = await self.sync()
            except Exception:  # a sync must never end the loop that keeps the rules alive
                log.exception("%s: sync failed", self.name)
                ok = False
            next_due = last + (self.max_interval if ok else self.retry_interval)
