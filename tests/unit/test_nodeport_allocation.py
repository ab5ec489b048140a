"""NodePort allocation leaves the static band at the bottom of the range to ports users ask for (KEP-3668)."""

from __future__ import annotations

import pytest

from kinn.apiserver.allocators.ipallocator import AllocationError
from kinn.apiserver.allocators.portallocator import PortAllocator


def test_random_ports_come_from_above_the_static_band_until_it_is_all_that_is_left():
    ports = PortAllocator("30000-32767")  # 2768 ports: a band of 2768/32 = 86
    ports.allocate(30001)  # what a user asks for stays available to ask for
    dynamic = {ports.allocate_next() for _ in range(2768 - 86)}
    assert min(dynamic) == 30086 and max(dynamic) == 32767 and len(dynamic) == 2682
    static = {ports.allocate_next() for _ in range(85)}
    assert static == set(range(30000, 30086)) - {30001}
    with pytest.raises(AllocationError, match="range is full"):
        ports.allocate_next()


@pytest.mark.parametrize(("port_range", "band"), [("30000-30015", 0), ("30000-30099", 16), ("1-100000", 128)])
def test_the_band_is_between_16_and_128_ports(port_range: str, band: int):
    ports = PortAllocator(port_range)
    low, high = ports.low, ports.high
    first = ports.allocate_next()
    assert (low + band <= first <= high) if band else (low <= first <= high)
