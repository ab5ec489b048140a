"""NodePort allocation from `--service-node-port-range` (default 30000-32767)."""

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
        size = self.high - self.low + 1
        start = random.randrange(size)
        for offset in range(size):
            port = self.low + (start + offset) % size
            if port not in self._used:
                self._used.add(port)
                return port
        raise AllocationError("range is full")

    def release(self, port: int) -> None:
        self._used.discard(port)
