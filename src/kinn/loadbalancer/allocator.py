"""Which Service holds which pool address: MetalLB's allocator for one pool, without IP sharing.

Keys are Services' `namespace/name`. State is only in memory: the controller rebuilds it from
the Services' `status.loadBalancer.ingress` when it starts (`assign` each recorded address), so
a Service keeps its address across restarts and no address is handed out twice.
"""

from __future__ import annotations

from kinn.loadbalancer.pool import IPv4, AddressPool


class AllocationError(Exception):
    """No address can be given: the pool is exhausted, or the requested one is not allowed or taken."""


class Allocator:
    def __init__(self, pool: AddressPool) -> None:
        self.pool = pool
        self._ip_of: dict[str, IPv4] = {}
        self._holder: dict[IPv4, str] = {}

    def ip_of(self, service: str) -> str | None:
        ip = self._ip_of.get(service)
        return str(ip) if ip else None

    def holder(self, ip: str) -> str | None:
        return self._holder.get(IPv4(ip))

    def assign(self, service: str, ip: str) -> None:
        """Give `ip` to `service` (releasing what it held before), if the pool allows it and it is free."""
        if ip not in self.pool:
            raise AllocationError(f"{ip} is not in the load-balancer pool {self.pool}")
        address = IPv4(ip)
        holder = self._holder.get(address)
        if holder not in (None, service):
            raise AllocationError(f"{ip} is already in use by {holder}")
        self.release(service)
        self._ip_of[service], self._holder[address] = address, service

    def allocate(self, service: str, requested: str | None = None, preferred: str | None = None) -> str:
        """The address `service` should have: `requested` (spec.loadBalancerIP) or an error; else what
        it holds; else `preferred` (its address in status) if still free; else the pool's first free one."""
        if requested:
            self.assign(service, requested)
            return requested
        if (held := self.ip_of(service)) is not None:
            return held
        if preferred and preferred in self.pool and self.holder(preferred) is None:
            self.assign(service, preferred)
            return preferred
        for address in self.pool:
            if address not in self._holder:
                self.assign(service, str(address))
                return str(address)
        raise AllocationError(f"no available IPs in pool {self.pool} ({len(self.pool)} addresses, all in use)")

    def release(self, service: str) -> str | None:
        """Free the address `service` holds; returns it (None if it held none)."""
        address = self._ip_of.pop(service, None)
        if address is None:
            return None
        del self._holder[address]
        return str(address)
