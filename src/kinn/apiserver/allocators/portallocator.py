"""NodePort allocation from `--service-node-port-range` (default 30000-32767).

As upstream since 1.29 (KEP-3668, ServiceNodePortStaticSubrange), the bottom of the range is a
static band — min(max(16, size/32), 128) ports, 30000-30085 by default — that random allocation uses
only once the rest is full, so a port a user asks for there (a seed's `nodePort: 30001`) is not
already taken by a Service that asked for none (such as kinn up's ingress controller).
"""

from __future__ import annotations

import random

from kinn.apiserver.allocators.ipallocator import AllocationError


def parse_port_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return int(low), int(high or low)


class PortAllocator:
    def __init__(self, port_range: str = "30000-32767") -> None:
        self.low, self.high = parse_port_range(port_range)
        self._used: set[int] = set()

    def allocate(self, port: int) -> None:
        if not self.low <= port <= self.high:
            raise AllocationError(
                f"provided port is not in the valid range. The range of valid ports is {self.low}-{self.high}"
            )
        if port in self._used:
            raise AllocationError("provided port is already allocated")
        self._used.add(port)

    def allocate_next(self) -> int:
        """A random free port above the static band, else a random free one within it."""
        band = _static_band(self.high - self.low + 1)
        for low, high in ((self.low + band, self.high), (self.low, self.low + band - 1)):
            port = self._random_free(low, high)
            if port is not None:
                self._used.add(port)
                return port
        raise AllocationError("range is full")

    def _random_free(self, low: int, high: int) -> int | None:
        size = high - low + 1
        if size <= 0:
            return None
        start = random.randrange(size)
        return next((port for offset in range(size) if (port := low + (start + offset) % size) not in self._used),
                    None)

    def release(self, port: int) -> None:
        self._used.discard(port)


def _static_band(size: int) -> int:
    """calculateRangeOffset: none for ranges of 16 ports or fewer."""
    return 0 if size <= 16 else min(max(16, size // 32), 128)
