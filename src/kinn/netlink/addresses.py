"""Interface addresses (IPv4 and IPv6) in CIDR notation."""

from __future__ import annotations

import ipaddress
import socket

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from kinn.netlink.links import index_of

EEXIST = 17
EADDRNOTAVAIL = 99


def add_address(ipr: IPRoute, link: str | int, cidr: str, exist_ok: bool = False, label: str | None = None) -> None:
    """Add `cidr` (e.g. 10.244.1.1/24) to `link`. IPv4 gets the broadcast address computed, as
    `ip addr add ... brd +` and the Go netlink library used by the reference plugins do; `label`
    (`<link>:<tag>`, as `ip addr add ... label lo:x`) marks addresses one owner manages."""
    iface = ipaddress.ip_interface(cidr)
    attrs: dict[str, object] = {"label": label} if label else {}
    if iface.version == 4 and iface.network.prefixlen < 31:
        attrs["broadcast"] = str(iface.network.broadcast_address)
    try:
        ipr.addr("add", index=index_of(ipr, link), address=str(iface.ip),
                 prefixlen=iface.network.prefixlen, **attrs)
    except NetlinkError as exc:
        if not (exist_ok and exc.code == EEXIST):
            raise


def delete_address(ipr: IPRoute, link: str | int, cidr: str) -> bool:
    """Remove `cidr` from `link`; False if it was not there."""
    iface = ipaddress.ip_interface(cidr)
    try:
        ipr.addr("del", index=index_of(ipr, link), address=str(iface.ip), prefixlen=iface.network.prefixlen)
    except NetlinkError as exc:
        if exc.code == EADDRNOTAVAIL:
            return False
        raise
    return True


def list_addresses(ipr: IPRoute, link: str | int, family: int | None = None, label: str | None = None) -> list[str]:
    """The addresses on `link` as CIDR strings (family: socket.AF_INET / AF_INET6 to filter; label: only
    IPv4 addresses with that label)."""
    kwargs: dict[str, object] = {"index": index_of(ipr, link)}
    if family is not None:
        kwargs["family"] = family
    if label is not None:
        kwargs["label"] = label
    return [f"{m.get('IFA_ADDRESS')}/{m['prefixlen']}" for m in ipr.get_addr(**kwargs)]


def ipv4_addresses(ipr: IPRoute, link: str | int) -> list[str]:
    return list_addresses(ipr, link, socket.AF_INET)
