"""Load-balancer addresses: pool syntax, the allocator's choices, and recovery from Services' status."""

from __future__ import annotations

import ipaddress

import pytest

from kinn.loadbalancer.allocator import AllocationError, Allocator
from kinn.loadbalancer.pool import AddressPool, PoolError
from kinn.loadbalancer.provider import PoolProvider


def test_a_pool_is_a_range_or_a_cidr() -> None:
    pool = AddressPool.parse("10.240.0.200-10.240.0.250")
    assert (str(pool.first), str(pool.last), len(pool), str(pool)) == \
        ("10.240.0.200", "10.240.0.250", 51, "10.240.0.200-10.240.0.250")
    assert "10.240.0.200" in pool and "10.240.0.250" in pool and "10.240.0.251" not in pool and "x" not in pool
    cidr = AddressPool.parse("10.240.0.192/28")
    assert (str(cidr), len(cidr)) == ("10.240.0.192-10.240.0.207", 16)
    assert AddressPool.parse(" 10.0.0.1 - 10.0.0.1 ") == AddressPool.parse("10.0.0.1/32")
    assert pool.within(ipaddress.IPv4Network("10.240.0.0/24"))
    assert not pool.within(ipaddress.IPv4Network("10.240.0.0/25"))


@pytest.mark.parametrize("text, message", [
    ("10.240.0.200", "is not an IPv4 range (10.240.0.200-10.240.0.250) or CIDR"),
    ("10.240.0.250-10.240.0.200", "first address is after its last"),
    ("10.240.0.1-banana", "is not an IPv4 range or CIDR"),
    ("10.240.0.1/33", "is not an IPv4 range or CIDR"),
    ("fd00::1-fd00::9", "is not an IPv4 range or CIDR"),
])
def test_bad_pools_say_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(PoolError, match=message.replace("(", r"\(").replace(")", r"\)")):
        AddressPool.parse(text)


def small_allocator() -> Allocator:
    return Allocator(AddressPool.parse("10.240.0.200-10.240.0.202"))


def test_addresses_are_handed_out_in_order_and_kept() -> None:
    allocator = small_allocator()
    assert [allocator.allocate(s) for s in ("ns/a", "ns/b", "ns/a")] == ["10.240.0.200", "10.240.0.201", "10.240.0.200"]
    assert allocator.holder("10.240.0.201") == "ns/b" and allocator.ip_of("ns/c") is None


def test_a_requested_address_is_given_if_in_the_pool_and_free() -> None:
    allocator = small_allocator()
    assert allocator.allocate("ns/a", requested="10.240.0.202") == "10.240.0.202"
    assert allocator.allocate("ns/b") == "10.240.0.200"
    with pytest.raises(AllocationError, match=r"^10.240.0.202 is already in use by ns/a$"):
        allocator.allocate("ns/b", requested="10.240.0.202")
    assert allocator.ip_of("ns/b") == "10.240.0.200"  # a refused request keeps what the Service had
    with pytest.raises(AllocationError, match=r"^10.240.0.99 is not in the load-balancer pool 10.240.0.200-10.240.0.202$"):
        allocator.allocate("ns/c", requested="10.240.0.99")
    assert allocator.allocate("ns/b", requested="10.240.0.201") == "10.240.0.201"  # moving frees the old one
    assert allocator.holder("10.240.0.200") is None


def test_the_address_in_status_is_preferred_while_free() -> None:
    allocator = small_allocator()
    assert allocator.allocate("ns/a", preferred="10.240.0.201") == "10.240.0.201"
    assert allocator.allocate("ns/b", preferred="10.240.0.201") == "10.240.0.200"  # taken: the first free
    assert allocator.allocate("ns/c", preferred="192.168.0.1") == "10.240.0.202"  # outside the pool: ignored


def test_exhaustion_is_an_error_until_an_address_is_released() -> None:
    allocator = small_allocator()
    for service in ("ns/a", "ns/b", "ns/c"):
        allocator.allocate(service)
    with pytest.raises(AllocationError, match=r"^no available IPs in pool 10.240.0.200-10.240.0.202 \(3 addresses, all in use\)$"):
        allocator.allocate("ns/d")
    assert allocator.release("ns/b") == "10.240.0.201" and allocator.release("ns/b") is None
    assert allocator.allocate("ns/d") == "10.240.0.201"


def service(name: str, created: str, ip: str | None = None, requested: str | None = None) -> dict:
    spec: dict = {"type": "LoadBalancer"}
    if requested:
        spec["loadBalancerIP"] = requested
    status = {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}} if ip else {}
    return {"metadata": {"name": name, "namespace": "ns", "creationTimestamp": created}, "spec": spec, "status": status}


async def test_a_restarted_provider_recovers_allocations_before_handing_out_any() -> None:
    existing = [service("young", "2024-01-02T00:00:00Z", "10.240.0.200"),
                service("old", "2024-01-01T00:00:00Z", "10.240.0.200"),  # a duplicate: the older Service keeps it
                service("kept", "2024-01-03T00:00:00Z", "10.240.0.202"),
                service("elsewhere", "2024-01-04T00:00:00Z", "192.168.9.9")]  # from another pool
    provider = PoolProvider(AddressPool.parse("10.240.0.200-10.240.0.203"), lambda: existing)
    fresh = service("fresh", "2024-01-05T00:00:00Z")
    assert await provider.ensure(fresh) == [{"ip": "10.240.0.201", "ipMode": "VIP"}]  # .200 and .202 are held
    assert await provider.ensure(existing[2]) == [{"ip": "10.240.0.202", "ipMode": "VIP"}]
    assert await provider.ensure(existing[1]) == [{"ip": "10.240.0.200", "ipMode": "VIP"}]
    assert await provider.ensure(existing[0]) == [{"ip": "10.240.0.203", "ipMode": "VIP"}]
    with pytest.raises(AllocationError, match="no available IPs"):
        await provider.ensure(existing[3])
    await provider.delete(existing[2])
    assert await provider.ensure(existing[3]) == [{"ip": "10.240.0.202", "ipMode": "VIP"}]


async def test_spec_load_balancer_ip_wins_over_the_recorded_address() -> None:
    moved = service("moved", "2024-01-01T00:00:00Z", "10.240.0.200", requested="10.240.0.201")
    provider = PoolProvider(AddressPool.parse("10.240.0.200-10.240.0.201"), lambda: [moved])
    assert await provider.ensure(moved) == [{"ip": "10.240.0.201", "ipMode": "VIP"}]
    assert provider.allocator.holder("10.240.0.200") is None
