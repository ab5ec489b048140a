"""What the VXLAN and host-gw backends share: the external interface, and the bookkeeping that
turns lease events into per-remote-node kernel state (upstream's backend.Network run loop).

Every kernel operation targets "the node": `netns=None` is the caller's own namespace (flanneld
running inside its node), a name targets that namespace from outside (tests, tools).
"""

from __future__ import annotations

import ipaddress
import logging
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass

from pyroute2 import IPRoute

from kinn import netlink
from kinn.flannel.kube import EventType, LeaseEvent
from kinn.flannel.subnet import Lease, LeaseAttrs

Netns = str | os.PathLike[str] | None
log = logging.getLogger("kinn.flannel")


@dataclass(frozen=True)
class ExternalInterface:
    """The underlay interface (`--iface`): its name, index, address and MTU, and the public IP
    other nodes reach this one at (the address unless `--public-ip` says otherwise)."""
    name: str
    index: int
    address: str
    mtu: int
    public_ip: str


def _default_route_link(ipr: IPRoute) -> int:
    for route in netlink.list_routes(ipr):
        if route.dst == "0.0.0.0/0" and route.oif:
            return route.oif
    raise LookupError("no --iface given and no default route to pick the external interface from")


def _link_with_address(ipr: IPRoute, address: str) -> int:
    for link in netlink.list_links(ipr):
        if any(cidr.split("/")[0] == address for cidr in netlink.ipv4_addresses(ipr, link.index)):
            return link.index
    raise LookupError(f"no interface has the address {address}")


def find_external_interface(iface: str | None = None, public_ip: str | None = None,
                            netns: Netns = None) -> ExternalInterface:
    """LookupExtIface: `iface` is a name or an IP address; without it, the default route's interface."""
    with netlink.iproute(netns) as ipr:
        if iface is None:
            index = _default_route_link(ipr)
        elif _is_ip(iface):
            index = _link_with_address(ipr, iface)
        else:
            index = netlink.get_link(ipr, iface).index
        link = netlink.get_link(ipr, index)
        addresses = netlink.ipv4_addresses(ipr, index)
    if not addresses:
        raise LookupError(f"interface {link.name} has no IPv4 address")
    address = iface if iface and _is_ip(iface) else addresses[0].split("/")[0]
    return ExternalInterface(link.name, link.index, address, link.mtu, public_ip or address)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


class Network(ABC):
    """One backend on one node: sets up its device, then keeps one entry set per remote lease."""

    backend_type: str

    def __init__(self, ext: ExternalInterface, netns: Netns = None) -> None:
        self.ext = ext
        self.netns = netns
        self.own: Lease | None = None
        self.remotes: dict[ipaddress.IPv4Network, Lease] = {}

    @property
    @abstractmethod
    def mtu(self) -> int:
        """The MTU pods get (FLANNEL_MTU)."""

    @abstractmethod
    def register(self, stored_mac: str | None) -> LeaseAttrs:
        """Prepare the node's device (if any) and return the attributes to publish."""

    def configure(self, lease: Lease) -> None:
        """Configure the node's own side once its lease is known."""
        self.own = lease

    @abstractmethod
    def add_remote(self, lease: Lease) -> None:
        """Program what reaching `lease` takes; idempotent (re-run on every restart)."""

    @abstractmethod
    def remove_remote(self, lease: Lease) -> None:
        """Undo add_remote; entries already gone are not an error."""

    @abstractmethod
    def prune(self, keep: set[ipaddress.IPv4Network]) -> None:
        """Remove entries for subnets not in `keep`: nodes deleted while flanneld was down."""

    def handle(self, event: LeaseEvent) -> None:
        """Apply one lease event. Our own lease and other backends' leases are skipped; a changed
        lease (new VtepMAC or public IP) first has its old entries removed."""
        lease = event.lease
        if self.own is not None and lease.subnet == self.own.subnet:
            return
        if lease.attrs.backend_type != self.backend_type:
            log.info("ignoring lease %s of backend type %r", lease.subnet, lease.attrs.backend_type)
            return
        previous = self.remotes.pop(lease.subnet, None)
        if event.type is EventType.REMOVED:
            log.info("lease %s removed", lease.subnet)
            self.remove_remote(previous or lease)
            return
        if previous is not None and previous != lease:
            self.remove_remote(previous)
        log.info("lease %s added (public ip %s)", lease.subnet, lease.attrs.public_ip)
        self.add_remote(lease)
        self.remotes[lease.subnet] = lease
