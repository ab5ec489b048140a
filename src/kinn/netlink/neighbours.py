"""Permanent neighbour (ARP) entries and bridge/VXLAN forwarding-database entries, as flannel's
VXLAN backend programs them for each remote node instead of learning them."""

from __future__ import annotations

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
