"""Per-key exponential back-off (client-go flowcontrol.Backoff), as the kubelet uses it for
CrashLoopBackOff and ImagePullBackOff: the first failure retries at once and arms `initial`; each
failure while armed doubles it up to `maximum`; an entry idle for 2×maximum starts over."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial: float = 10.0
    maximum: float = 300.0
    _entries: dict[str, tuple[float, float]] = field(default_factory=dict)  # key → (delay, last update)

    def _entry(self, key: str, moment: float) -> tuple[float, float] | None:
        entry = self._entries.get(key)
        if entry is not None and moment - entry[1] > 2 * self.maximum:
            del self._entries[key]
            return None
        return entry

    def next(self, key: str, moment: float | None = None) -> float:
        """Record a retry at `moment` (wall-clock seconds): arm or double the delay; returns it."""
        moment = time.time() if moment is None else moment
        entry = self._entry(key, moment)
        delay = self.initial if entry is None else min(entry[0] * 2, self.maximum)
        self._entries[key] = (delay, moment)
        return delay

    def remaining(self, key: str, since: float) -> float:
        """Seconds still to wait before retrying a failure that happened at `since` (0: go ahead)."""
        now = time.time()
        entry = self._entry(key, now)
        return 0.0 if entry is None else max(0.0, since + entry[0] - now)

    def delay(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry[0] if entry else self.initial

    def forget(self, prefix: str) -> None:
        for key in [key for key in self._entries if key.startswith(prefix)]:
            del self._entries[key]
