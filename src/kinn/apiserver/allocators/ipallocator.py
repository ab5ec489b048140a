"""Cluster IP allocation from `--service-cluster-ip-range`.

The state is an in-memory set rebuilt from the stored Services at start (upstream's repair loop
does the same against its bitmap), so it can never leak across a crash. The first address of
the range belongs to the `kubernetes` Service; network and broadcast addresses are never handed out.
"""

from __future__ import annotations

import ipaddress
import random


class AllocationError(Exception):
    pass


class IPAllocator:
    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self._first = int(self.network.network_address) + 1
        self._last = int(self.network.broadcast_address) - 1
        self._used: set[int] = set()

    @property
    def cidr(self) -> str:
        return str(self.network)

    def first(self) -> str:
        return str(ipaddress.ip_address(self._first))

    def allocate(self, ip: str) -> None:
        """Claim a specific address, with the messages upstream's allocator gives."""
        try:
            value = int(ipaddress.ip_address(ip))
        except ValueError:
            raise AllocationError(f"failed to allocate IP {ip}: not a valid IP address") from None
        if not self._first <= value <= self._last:
            raise AllocationError(
                f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. "
                f"The range of valid IPs is {self.network}"
            )
        if value in self._used:
            raise AllocationError(f"failed to allocate IP {ip}: provided IP is already allocated")
        self._used.add(value)

    def allocate_next(self) -> str:
        """A random free address, leaving the first to the `kubernetes` Service."""
        size = self._last - self._first + 1
        if len(self._used) >= size:
            raise AllocationError("failed to allocate a serviceIP: range is full")
        start = random.randrange(size)
        for offset in range(size):
            value = self._first + (start + offset) % size
            if value not in self._used and value != self._first:
                self._used.add(value)
                return str(ipaddress.ip_address(value))
        raise AllocationError("failed to allocate a serviceIP: range is full")

    def release(self, ip: str) -> None:
        try:
            self._used.discard(int(ipaddress.ip_address(ip)))
        except ValueError:
            pass
