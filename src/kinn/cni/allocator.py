"""host-local's address allocation (containernetworking/plugins ipam/host-local/backend/allocator),
as pure logic over ranges so it can be unit-tested without a disk store.

A range defaults to `rangeStart` = network+1, `rangeEnd` = broadcast−1 and `gateway` = network+1.
Allocation continues after the last reserved address of the range set, skips each range's gateway
and taken addresses, wraps around across the ranges, and fails once it is back where it started.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Callable, Iterator

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RangeExhausted(Exception):
    """Every address of the range set is taken."""


@dataclass(frozen=True)
class Range:
    subnet: ipaddress.IPv4Network | ipaddress.IPv6Network
    range_start: IPAddress
    range_end: IPAddress
    gateway: IPAddress | None

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> "Range":
        """Canonicalise one `{subnet, rangeStart, rangeEnd, gateway}` entry, checking it is consistent."""
        subnet = ipaddress.ip_network(data["subnet"], strict=False)
        if str(subnet.network_address) != data["subnet"].split("/")[0]:
            raise ValueError(f"Network has host bits set. For a subnet mask of length {subnet.prefixlen} "
                             f"the network address is {subnet.network_address}")
        if subnet.num_addresses < 4 and subnet.version == 4:
            raise ValueError(f"network {subnet} too small to allocate from")
        first, last = subnet.network_address + 1, subnet.broadcast_address - (1 if subnet.version == 4 else 0)
        start = ipaddress.ip_address(data["rangeStart"]) if data.get("rangeStart") else first
        end = ipaddress.ip_address(data["rangeEnd"]) if data.get("rangeEnd") else last
        gateway = ipaddress.ip_address(data["gateway"]) if data.get("gateway") else first
        for label, ip in (("rangeStart", start), ("rangeEnd", end)):
            if ip not in subnet or not first <= ip <= last:
                raise ValueError(f"{label} {ip} not in network {subnet}")
        if start > end:
            raise ValueError(f"rangeStart {start} is after rangeEnd {end}")
        return cls(subnet, start, end, gateway)

    def contains(self, ip: IPAddress) -> bool:
        return ip.version == self.range_start.version and self.range_start <= ip <= self.range_end

    def describe(self) -> str:
        return f"{self.range_start}-{self.range_end}"


class RangeSet(tuple[Range, ...]):
    """One entry of `ranges`: ranges of one family that together allocate one address."""

    @classmethod
    def from_config(cls, entries: list[dict[str, Any]]) -> "RangeSet":
        ranges = cls(Range.from_config(entry) for entry in entries)
        if not ranges:
            raise ValueError("empty range set")
        if len({r.subnet.version for r in ranges}) > 1:
            raise ValueError("mixed address families in one range set")
        return ranges

    def range_for(self, ip: IPAddress) -> Range | None:
        return next((r for r in self if r.contains(ip)), None)

    def describe(self) -> str:
        return ",".join(r.describe() for r in self)


def _span(r: Range, low: IPAddress, high: IPAddress) -> Iterator[tuple[Range, IPAddress]]:
    ip = low
    while ip <= high:
        yield r, ip
        ip += 1


def _candidates(ranges: RangeSet, last_reserved: IPAddress | None) -> Iterator[tuple[Range, IPAddress]]:
    """Every address of the set once: the rest of the range after `last_reserved`, the other ranges
    in order (wrapping), then the start of the first range up to `last_reserved`."""
    start_index, start_ip = 0, ranges[0].range_start
    if last_reserved is not None and (current := ranges.range_for(last_reserved)) is not None:
        start_index, start_ip = ranges.index(current), last_reserved + 1
    first = ranges[start_index]
    yield from _span(first, start_ip, first.range_end)
    for step in range(1, len(ranges)):
        r = ranges[(start_index + step) % len(ranges)]
        yield from _span(r, r.range_start, r.range_end)
    yield from _span(first, first.range_start, start_ip - 1)


def next_free(ranges: RangeSet, last_reserved: IPAddress | None,
              taken: Callable[[IPAddress], bool]) -> tuple[Range, IPAddress]:
    """The address host-local would hand out next, skipping gateways and `taken` ones."""
    for r, ip in _candidates(ranges, last_reserved):
        if ip != r.gateway and not taken(ip):
            return r, ip
    raise RangeExhausted(f"no IP addresses available in range set: {ranges.describe()}")
