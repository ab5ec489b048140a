"""host-local allocation order and its on-disk store, and upstream's iptables chain naming."""

import ipaddress
from pathlib import Path

import pytest

from kinn.cni.allocator import Range, RangeExhausted, RangeSet, next_free
from kinn.cni.diskstore import Store
from kinn.cni.utils import format_chain_name, format_comment
from kinn.cni.plugins.portmap import dnat_chain

ip = ipaddress.ip_address


def allocate(ranges: RangeSet, last: str | None, taken: set[str]) -> str:
    return str(next_free(ranges, ip(last) if last else None, lambda c: str(c) in taken)[1])


def test_range_defaults() -> None:
    r = Range.from_config({"subnet": "10.244.1.0/24"})
    assert (str(r.range_start), str(r.range_end), str(r.gateway)) == ("10.244.1.1", "10.244.1.254", "10.244.1.1")


def test_range_validation() -> None:
    with pytest.raises(ValueError, match="not in network"):
        Range.from_config({"subnet": "10.244.1.0/24", "rangeStart": "10.244.2.5"})
    with pytest.raises(ValueError, match="after rangeEnd"):
        Range.from_config({"subnet": "10.244.1.0/24", "rangeStart": "10.244.1.50", "rangeEnd": "10.244.1.20"})
    # The reference plugin's canonicalisation: a range's subnet must be a network address.
    with pytest.raises(ValueError, match="Network has host bits set. For a subnet mask of length 24 the network "
                                         "address is 10.244.1.0"):
        Range.from_config({"subnet": "10.244.1.1/24"})


def test_first_allocation_skips_the_gateway() -> None:
    ranges = RangeSet.from_config([{"subnet": "10.244.1.0/24"}])
    assert allocate(ranges, None, set()) == "10.244.1.2"


def test_allocation_continues_after_last_reserved_and_skips_taken() -> None:
    ranges = RangeSet.from_config([{"subnet": "10.244.1.0/24"}])
    assert allocate(ranges, "10.244.1.7", {"10.244.1.8"}) == "10.244.1.9"


def test_allocation_wraps_around() -> None:
    ranges = RangeSet.from_config([{"subnet": "10.244.1.0/24"}])
    assert allocate(ranges, "10.244.1.254", {"10.244.1.2"}) == "10.244.1.3"


def test_allocation_moves_across_ranges_of_a_set() -> None:
    ranges = RangeSet.from_config([{"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.10", "rangeEnd": "10.1.0.11"},
                                   {"subnet": "10.2.0.0/24", "rangeStart": "10.2.0.20", "rangeEnd": "10.2.0.21"}])
    assert allocate(ranges, "10.1.0.11", set()) == "10.2.0.20"
    assert allocate(ranges, "10.2.0.21", set()) == "10.1.0.10"


def test_exhausted_range_set() -> None:
    ranges = RangeSet.from_config([{"subnet": "10.244.9.0/30"}])
    assert allocate(ranges, None, set()) == "10.244.9.2"
    with pytest.raises(RangeExhausted, match="no IP addresses available in range set: 10.244.9.1-10.244.9.2"):
        allocate(ranges, "10.244.9.2", {"10.244.9.2"})


def test_disk_store_files_as_upstream(tmp_path: Path) -> None:
    with Store("cbr0", tmp_path) as store:
        assert store.reserve("abc123", "eth0", "10.244.1.2", 0)
        assert not store.reserve("other", "eth0", "10.244.1.2", 0)
        assert store.reserve("def456", "eth0", "10.244.1.3", 0)
    directory = tmp_path / "cbr0"
    assert (directory / "10.244.1.2").read_bytes() == b"abc123\r\neth0"
    assert (directory / "10.244.1.2").stat().st_mode & 0o777 == 0o600
    assert (directory / "last_reserved_ip.0").read_text() == "10.244.1.3"
    assert (directory / "lock").exists()
    with Store("cbr0", tmp_path) as store:
        assert store.owned_by("abc123", "eth0") == ["10.244.1.2"]
        assert store.release_by_id("abc123", "eth1") == []
        assert store.release_by_id("abc123", "eth0") == ["10.244.1.2"]
    assert not (directory / "10.244.1.2").exists() and (directory / "10.244.1.3").exists()


def test_chain_names_match_the_reference_plugins() -> None:
    # Produced by Debian's containernetworking-plugins 1.1.1 bridge (ipMasq) and portmap.
    assert format_chain_name("kt-net", "cid123") == "CNI-31a9b3700221db220a681a24"
    assert dnat_chain("kt-net", "cid123") == "CNI-DN-31a9b3700221db220a681"
    assert format_comment("kt-net", "cid123") == 'name: "kt-net" id: "cid123"'
