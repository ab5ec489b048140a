"""A load-balancer address pool: the underlay addresses kinn hands to LoadBalancer Services.

Written as MetalLB's IPAddressPool `addresses` entries are: a range `10.240.0.200-10.240.0.250`
or a CIDR `10.240.0.192/28` (every address of it, as MetalLB takes a CIDR).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterator

IPv4 = ipaddress.IPv4Address


class PoolError(ValueError):
    """The pool's text is not a range or a CIDR of IPv4 addresses."""


@dataclass(frozen=True)
class AddressPool:
    first: IPv4
    last: IPv4

    @classmethod
    def parse(cls, text: str) -> AddressPool:
        """`first-last` or `network/prefix`; the message says which form was expected."""
        text = text.strip()
        try:
            if "/" in text:
                network = ipaddress.IPv4Network(text)
                return cls(network.network_address, network.broadcast_address)
            first, sep, last = text.partition("-")
            pool = cls(IPv4(first.strip()), IPv4(last.strip())) if sep else None
        except ValueError as error:
            raise PoolError(f"{text!r} is not an IPv4 range or CIDR ({error})") from error
        if pool is None:
            raise PoolError(f"{text!r} is not an IPv4 range (10.240.0.200-10.240.0.250) or CIDR (10.240.0.192/28)")
        if pool.first > pool.last:
            raise PoolError(f"{text!r}: the range's first address is after its last")
        return pool

    def __contains__(self, ip: object) -> bool:
        try:
            return self.first <= IPv4(str(ip)) <= self.last
        except ValueError:
            return False

    def __iter__(self) -> Iterator[IPv4]:
        return (IPv4(n) for n in range(int(self.first), int(self.last) + 1))

    def __len__(self) -> int:
        return int(self.last) - int(self.first) + 1

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"

    def within(self, network: ipaddress.IPv4Network) -> bool:
        return self.first in network and self.last in network
