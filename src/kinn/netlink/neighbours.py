"""Permanent neighbour (ARP) entries and bridge/VXLAN forwarding-database entries, as flannel's
VXLAN backend programs them for each remote node instead of learning them."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from kinn.netlink.links import index_of

NUD_PERMANENT = 0x80
NTF_SELF = 0x02
ENOENT = 2


def add_neighbour(ipr: IPRoute, dev: str | int, ip: str, mac: str) -> None:
    """`ip neigh replace <ip> dev <dev> lladdr <mac> nud permanent`."""
    ipr.neigh("replace", ifindex=index_of(ipr, dev), dst=ip, lladdr=mac, state=NUD_PERMANENT)


def delete_neighbour(ipr: IPRoute, dev: str | int, ip: str) -> bool:
    try:
        ipr.neigh("del", ifindex=index_of(ipr, dev), dst=ip)
    except NetlinkError as exc:
        if exc.code == ENOENT:
            return False
        raise
    return True


def add_fdb(ipr: IPRoute, dev: str | int, mac: str, dst: str) -> None:
    """`bridge fdb append <mac> dev <dev> dst <dst> self permanent`."""
    ipr.fdb("append", ifindex=index_of(ipr, dev), lladdr=mac, dst=dst, state=NUD_PERMANENT, flags=NTF_SELF)


def delete_fdb(ipr: IPRoute, dev: str | int, mac: str, dst: str) -> bool:
    try:
        ipr.fdb("del", ifindex=index_of(ipr, dev), lladdr=mac, dst=dst, flags=NTF_SELF)
    except NetlinkError as exc:
        if exc.code == ENOENT:
            return False
        raise
    return True


@dataclass(frozen=True)
class Neighbour:
    """An ARP entry (`ip neigh`): flannel's `10.244.2.0 lladdr <VtepMAC> PERMANENT`."""

    ip: str
    mac: str
    permanent: bool


@dataclass(frozen=True)
class FdbEntry:
    """A forwarding-database entry (`bridge fdb`): flannel's `<VtepMAC> dst <node IP> self permanent`."""

    mac: str
    dst: str | None


def list_neighbours(ipr: IPRoute, dev: str | int) -> list[Neighbour]:
    """`ip neigh show dev <dev>` (IPv4 entries with a link-layer address)."""
    return [Neighbour(msg.get("NDA_DST"), msg.get("NDA_LLADDR"), bool(msg["state"] & NUD_PERMANENT))
            for msg in ipr.get_neighbours(family=socket.AF_INET, ifindex=index_of(ipr, dev))
            if msg.get("NDA_LLADDR")]


def list_fdb(ipr: IPRoute, dev: str | int) -> list[FdbEntry]:
    """`bridge fdb show dev <dev>`; `dst` is the remote VTEP of a VXLAN entry (None on a bridge port)."""
    return [FdbEntry(msg.get("NDA_LLADDR"), msg.get("NDA_DST"))
            for msg in ipr.get_neighbours(family=socket.AF_BRIDGE, ifindex=index_of(ipr, dev))]
