"""kinn.netlink against the kernel: namespaces, veth, bridge, vxlan, addresses, routes, neighbours,
FDB and sysctls, checked with iproute2 (`ip -n …`, `bridge -n …`). Everything lives in kt… namespaces."""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Iterator

import pytest

from kinn import netlink

pytestmark = pytest.mark.e2e


def sh(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def two_netns() -> Iterator[tuple[str, str]]:
    names = [f"kt-nl-{uuid.uuid4().hex[:6]}-{side}" for side in ("a", "b")]
    try:
        for name in names:
            netlink.create(name)
        yield names[0], names[1]
    finally:
        for name in names:
            netlink.delete(name)


def test_netns_are_visible_to_ip_netns_and_deleted(two_netns: tuple[str, str]) -> None:
    a, b = two_netns
    listed = sh("ip", "netns", "list")
    assert a in listed and b in listed
    assert a in netlink.list_names()
    with pytest.raises(netlink.NetnsError):
        netlink.create(a)
    netlink.delete(b)
    netlink.delete(b)  # repeatable
    assert b not in sh("ip", "netns", "list") and not netlink.exists(b)


def test_veth_across_namespaces_and_ping(two_netns: tuple[str, str]) -> None:
    a, b = two_netns
    with netlink.iproute(a) as ipr:
        host = netlink.add_veth(ipr, "kt-veth0", "eth0", peer_netns=b, mtu=1450)
        netlink.add_address(ipr, host.index, "10.99.0.1/24")
        netlink.set_up(ipr, host.index)
    with netlink.iproute(b) as ipr:
        pod = netlink.get_link(ipr, "eth0")
        netlink.add_address(ipr, "eth0", "10.99.0.2/24")
        netlink.set_up(ipr, "eth0")
        netlink.add_route(ipr, "default", via="10.99.0.1", dev="eth0")
        assert netlink.ipv4_addresses(ipr, "eth0") == ["10.99.0.2/24"]
        assert netlink.get_link(ipr, pod.index).name == "eth0"
    # The peers name each other's ifindex, as `eth0@ifN` shows.
    assert pod.peer_index == host.index and host.peer_index == pod.index
    assert pod.mtu == 1450 and pod.kind == "veth"
    assert "inet 10.99.0.1/24 brd 10.99.0.255" in sh("ip", "-n", a, "addr", "show", "kt-veth0")
    assert "default via 10.99.0.1 dev eth0" in sh("ip", "-n", b, "route")
    assert netlink.ping(b, "10.99.0.1") and netlink.ping(a, "10.99.0.2")
    assert not netlink.ping(b, "10.99.0.77", timeout=0.5)
    with netlink.iproute(b) as ipr:
        netlink.move_to_netns(ipr, "eth0", a)
        assert netlink.find_link(ipr, "eth0") is None
    with netlink.iproute(a) as ipr:
        assert netlink.get_link(ipr, "eth0").peer_index == host.index
        assert netlink.delete_link(ipr, "kt-veth0") and not netlink.delete_link(ipr, "kt-veth0")
    with netlink.iproute(a) as ipr:
        assert netlink.find_link(ipr, "eth0") is None  # deleting one end removed its peer


def test_bridge_ports_mtu_mac_hairpin(two_netns: tuple[str, str]) -> None:
    a, _ = two_netns
    with netlink.iproute(a) as ipr:
        bridge = netlink.ensure_bridge(ipr, "kt-br0")
        assert netlink.ensure_bridge(ipr, "kt-br0").index == bridge.index
        port = netlink.add_veth(ipr, "kt-p0", "kt-p0-peer")
        netlink.set_master(ipr, port.index, "kt-br0")
        netlink.set_mtu(ipr, port.index, 1400)
        netlink.set_mac(ipr, port.index, "02:00:00:00:00:42")
        netlink.set_bridge_port_hairpin(ipr, port.index)
        netlink.set_promisc(ipr, bridge.index)
        netlink.set_up(ipr, port.index)
        netlink.rename(ipr, "kt-p0-peer", "kt-p1")
        seen = netlink.get_link(ipr, "kt-p0")
        assert (seen.master, seen.mtu, seen.mac, seen.up) == (bridge.index, 1400, "02:00:00:00:00:42", True)
        assert netlink.find_link(ipr, "kt-p1") is not None
        assert "hairpin on" in sh("ip", "-n", a, "-d", "link", "show", "kt-p0")
        assert "PROMISC" in sh("ip", "-n", a, "link", "show", "kt-br0")
        with pytest.raises(ValueError, match="not a bridge"):
            netlink.ensure_bridge(ipr, "kt-p1")
        netlink.set_master(ipr, port.index, None)
        assert netlink.get_link(ipr, "kt-p0").master is None


def test_vxlan_route_onlink_neighbour_fdb(two_netns: tuple[str, str]) -> None:
    a, _ = two_netns
    with netlink.iproute(a) as ipr:
        underlay = netlink.add_veth(ipr, "kt-eth0", "kt-eth0-peer")
        netlink.add_address(ipr, underlay.index, "10.240.0.21/24")
        netlink.set_up(ipr, underlay.index)
        vx = netlink.add_vxlan(ipr, "flannel.1", vni=1, port=8472, local="10.240.0.21", dev="kt-eth0", mtu=1450)
        netlink.add_address(ipr, vx.index, "10.244.1.0/32")
        netlink.set_up(ipr, vx.index)
        netlink.add_neighbour(ipr, "flannel.1", "10.244.2.0", "aa:bb:cc:dd:ee:02")
        netlink.add_fdb(ipr, "flannel.1", "aa:bb:cc:dd:ee:02", "10.240.0.22")
        netlink.add_route(ipr, "10.244.2.0/24", via="10.244.2.0", dev="flannel.1", onlink=True)
        routes = {r.dst: r for r in netlink.list_routes(ipr)}
        assert routes["10.244.2.0/24"].onlink and routes["10.244.2.0/24"].gateway == "10.244.2.0"
    link = sh("ip", "-n", a, "-d", "link", "show", "flannel.1")
    assert "vxlan id 1 local 10.240.0.21 dev kt-eth0" in link and "dstport 8472 nolearning" in link
    assert "mtu 1450" in link
    assert "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink" in sh("ip", "-n", a, "route")
    assert "10.244.2.0 dev flannel.1 lladdr aa:bb:cc:dd:ee:02 PERMANENT" in sh("ip", "-n", a, "neigh")
    assert "aa:bb:cc:dd:ee:02 dst 10.240.0.22 self permanent" in sh("bridge", "-n", a, "fdb", "show", "dev", "flannel.1")
    with netlink.iproute(a) as ipr:
        assert netlink.delete_route(ipr, "10.244.2.0/24", via="10.244.2.0", dev="flannel.1")
        assert not netlink.delete_route(ipr, "10.244.2.0/24", via="10.244.2.0", dev="flannel.1")
        assert netlink.delete_neighbour(ipr, "flannel.1", "10.244.2.0")
        assert netlink.delete_fdb(ipr, "flannel.1", "aa:bb:cc:dd:ee:02", "10.240.0.22")
    assert "10.244.2.0" not in sh("ip", "-n", a, "neigh")
    assert "10.240.0.22" not in sh("bridge", "-n", a, "fdb", "show", "dev", "flannel.1")


def test_sysctls_stay_inside_the_namespace(two_netns: tuple[str, str]) -> None:
    a, b = two_netns
    host_value = netlink.get_sysctl("net.ipv4.ip_forward")
    netlink.enable_ip_forward(a)
    assert netlink.get_sysctl("net.ipv4.ip_forward", a) == "1"
    assert netlink.get_sysctl("net.ipv4.ip_forward", b) == "0"
    assert netlink.get_sysctl("net.ipv4.ip_forward") == host_value
    netlink.set_sysctl("net/ipv4/conf/lo/route_localnet", 1, a)
    assert netlink.get_sysctl("net/ipv4/conf/lo/route_localnet", a) == "1"
    assert netlink.set_bridge_nf_call_iptables(True, a) in (True, False)


def test_interface_addresses_match_ip_addr_without_pyroute2(two_netns: tuple[str, str]) -> None:
    """The DNS pod's address listing (a plain RTM_GETADDR dump) sees what `ip addr` sees: secondary
    IPv4 addresses, IPv6, and the local side of a point-to-point address, never its peer."""
    a, _ = two_netns
    sh("ip", "-n", a, "link", "add", "d0", "type", "veth", "peer", "name", "d1")
    sh("ip", "-n", a, "link", "set", "d0", "up")
    sh("ip", "-n", a, "link", "set", "lo", "up")
    for address in ("10.9.0.1/24", "10.9.0.2/24", "10.9.1.1 peer 10.9.1.2/32"):
        sh("ip", "-n", a, "addr", "add", *address.split(), "dev", "d0")
    sh("ip", "-n", a, "-6", "addr", "add", "fd00:9::1/64", "dev", "d0", "nodad")
    listed = netlink.run_in(a, netlink.interface_addresses)
    expected = [entry["local"] for link in json.loads(sh("ip", "-n", a, "-j", "addr")) for entry in link["addr_info"]]
    assert sorted(listed) == sorted(expected)
    assert {"10.9.0.2", "10.9.1.1", "fd00:9::1", "127.0.0.1"} <= set(listed) and "10.9.1.2" not in listed
