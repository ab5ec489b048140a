"""The VXLAN backend as flannel ≥0.9 runs it: no L2/L3-miss handling, every remote node's entries
programmed up front — per remote lease one route, one permanent neighbour and one FDB entry:

    10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink
    10.244.2.0 dev flannel.1 lladdr <remote VtepMAC> PERMANENT
    <remote VtepMAC> dev flannel.1 dst <remote public IP> self permanent

The kernel then encapsulates pod traffic for 10.244.2.0/24 in UDP 8472 to the remote node.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from pyroute2 import IPRoute

from kinn import netlink
from kinn.flannel.backends.base import ExternalInterface, Netns, Network, log
from kinn.flannel.subnet import Lease, LeaseAttrs, NetConfig

ENCAP_OVERHEAD = 50  # outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14


class VXLANNetwork(Network):
    backend_type = "vxlan"

    def __init__(self, ext: ExternalInterface, config: NetConfig, netns: Netns = None) -> None:
        super().__init__(ext, netns)
        self.vni = config.vni
        self.port = config.port
        self.device = f"flannel.{self.vni}"

    @property
    def mtu(self) -> int:
        return self.ext.mtu - ENCAP_OVERHEAD

    def register(self, stored_mac: str | None) -> LeaseAttrs:
        """Create flannel.<VNI> (or keep a compatible one, so its MAC survives a restart) and
        publish `{"VNI": .., "VtepMAC": ..}`. A new device reuses the MAC the node advertised before."""
        with netlink.iproute(self.netns) as ipr:
            link = netlink.find_link(ipr, self.device)
            if link is not None and not self._compatible(ipr, link.index):
                log.warning("%s exists with incompatible attributes; recreating it", self.device)
                netlink.delete_link(ipr, link.index)
                link = None
            if link is None:
                link = netlink.add_vxlan(ipr, self.device, vni=self.vni, port=self.port, local=self.ext.address,
                                         dev=self.ext.index, learning=False, mtu=self.mtu, mac=stored_mac)
                # Go's netlink sends the zero TxQLen flannel leaves unset: `ip link` shows no qlen.
                ipr.link("set", index=link.index, txqlen=0)
        return LeaseAttrs(self.ext.public_ip, self.backend_type, {"VNI": self.vni, "VtepMAC": link.mac})

    def _compatible(self, ipr: IPRoute, index: int) -> bool:
        """ensureLink's check: same kind, VNI, local address, underlay link and port."""
        data = _vxlan_data(ipr, index)
        return data is not None and (data.get("IFLA_VXLAN_ID"), data.get("IFLA_VXLAN_LOCAL"),
                                     data.get("IFLA_VXLAN_LINK"), data.get("IFLA_VXLAN_PORT")) == (
            self.vni, self.ext.address, self.ext.index, self.port)

    def configure(self, lease: Lease) -> None:
        """The lease's network address as a /32 (no broadcast routes; the source for host→pod
        traffic), any other address removed, and the device up."""
        super().configure(lease)
        wanted = f"{lease.subnet.network_address}/32"
        with netlink.iproute(self.netns) as ipr:
            for cidr in netlink.ipv4_addresses(ipr, self.device):
                if cidr != wanted:
                    netlink.delete_address(ipr, self.device, cidr)
            netlink.add_address(ipr, self.device, wanted, exist_ok=True)
            netlink.set_up(ipr, self.device)

    def add_remote(self, lease: Lease) -> None:
        mac = _vtep_mac(lease)
        if mac is None:
            log.warning("lease %s has no VtepMAC in its backend data; skipping it", lease.subnet)
            return
        gateway = str(lease.subnet.network_address)
        with netlink.iproute(self.netns) as ipr:
            netlink.add_neighbour(ipr, self.device, gateway, mac)
            netlink.add_fdb(ipr, self.device, mac, lease.attrs.public_ip)
            netlink.replace_route(ipr, str(lease.subnet), via=gateway, dev=self.device, onlink=True)

    def remove_remote(self, lease: Lease) -> None:
        gateway = str(lease.subnet.network_address)
        with netlink.iproute(self.netns) as ipr:
            if netlink.find_link(ipr, self.device) is None:
                return
            netlink.delete_neighbour(ipr, self.device, gateway)
            mac = _vtep_mac(lease)
            if mac is not None:
                netlink.delete_fdb(ipr, self.device, mac, lease.attrs.public_ip)
            netlink.delete_route(ipr, str(lease.subnet), via=gateway, dev=self.device)

    def prune(self, keep: set[ipaddress.IPv4Network]) -> None:
        """Routes through flannel.<VNI> to subnets no node holds any more go, with their
        neighbour and FDB entries (looked up from the neighbour's MAC)."""
        with netlink.iproute(self.netns) as ipr:
            index = netlink.index_of(ipr, self.device)
            for route in netlink.list_routes(ipr):
                subnet = ipaddress.IPv4Network(route.dst)
                if route.oif != index or not route.gateway or subnet in keep:
                    continue
                log.info("removing stale entries for %s", subnet)
                for mac, dst in _fdb_entries_for(ipr, index, route.gateway):
                    netlink.delete_fdb(ipr, index, mac, dst)
                netlink.delete_neighbour(ipr, index, route.gateway)
                netlink.delete_route(ipr, route.dst, via=route.gateway, dev=index)


def _vtep_mac(lease: Lease) -> str | None:
    data = lease.attrs.backend_data or {}
    mac = data.get("VtepMAC")
    return mac if isinstance(mac, str) and mac else None


def _vxlan_data(ipr: IPRoute, index: int) -> Any:
    info = ipr.get_links(index)[0].get("IFLA_LINKINFO")
    if info is None or info.get("IFLA_INFO_KIND") != "vxlan":
        return None
    return info.get("IFLA_INFO_DATA")


def _fdb_entries_for(ipr: IPRoute, index: int, gateway: str) -> list[tuple[str, str]]:
    """The (MAC, dst) FDB entries behind the permanent neighbour `gateway` on the VXLAN device."""
    macs = {msg.get("NDA_LLADDR") for msg in ipr.neigh("dump", ifindex=index, family=socket.AF_INET)
            if msg.get("NDA_DST") == gateway}
    return [(msg.get("NDA_LLADDR"), msg.get("NDA_DST"))
            for msg in ipr.neigh("dump", ifindex=index, family=socket.AF_BRIDGE)
            if msg.get("NDA_LLADDR") in macs and msg.get("NDA_DST")]
