"""Routes: `<dst> [via <gw>] [dev <link>] [onlink]`, default routes included."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from kinn.netlink.links import index_of

RTNH_F_ONLINK = 4
RTPROT_BOOT = 3  # what `ip route add` uses; shown without a "proto" like the Go plugins' routes
EEXIST = 17
ESRCH = 3


@dataclass(frozen=True)
class Route:
    dst: str  # CIDR; "0.0.0.0/0" for default
    gateway: str | None
    oif: int | None
    onlink: bool


def _normalise_dst(dst: str) -> str:
    return str(ipaddress.ip_network("0.0.0.0/0" if dst == "default" else dst, strict=False))


def _route_spec(dst: str, via: str | None, dev: str | int | None, onlink: bool,
                ipr: IPRoute) -> dict[str, object]:
    spec: dict[str, object] = {"dst": _normalise_dst(dst), "proto": RTPROT_BOOT}
    if via:
        spec["gateway"] = via
    if dev is not None:
        spec["oif"] = index_of(ipr, dev)
    if onlink:
        spec["flags"] = RTNH_F_ONLINK
    return spec


def add_route(ipr: IPRoute, dst: str, via: str | None = None, dev: str | int | None = None,
              onlink: bool = False, exist_ok: bool = False) -> None:
    """Add a route. `onlink` lets the gateway be off-subnet, as flannel's `via 10.244.2.0 dev flannel.1 onlink`."""
    try:
        ipr.route("add", **_route_spec(dst, via, dev, onlink, ipr))
    except NetlinkError as exc:
        if not (exist_ok and exc.code == EEXIST):
            raise


def replace_route(ipr: IPRoute, dst: str, via: str | None = None, dev: str | int | None = None,
                  onlink: bool = False) -> None:
    ipr.route("replace", **_route_spec(dst, via, dev, onlink, ipr))


def delete_route(ipr: IPRoute, dst: str, via: str | None = None, dev: str | int | None = None) -> bool:
    """Delete a route; False if no such route existed."""
    try:
        ipr.route("del", **_route_spec(dst, via, dev, False, ipr))
    except NetlinkError as exc:
        if exc.code == ESRCH:
            return False
        raise
    return True


def list_routes(ipr: IPRoute, family: int = 2) -> list[Route]:
    """Routes of the main table."""
    routes = []
    for msg in ipr.get_routes(family=family, table=254):
        dst = msg.get("RTA_DST")
        routes.append(Route(
            dst=f"{dst}/{msg['dst_len']}" if dst else ("0.0.0.0/0" if family == 2 else "::/0"),
            gateway=msg.get("RTA_GATEWAY"), oif=msg.get("RTA_OIF"),
            onlink=bool(msg["flags"] & RTNH_F_ONLINK)))
    return routes


def get_route(ipr: IPRoute, dst: str) -> Route:
    """`ip route get <dst>`: the route the kernel picks for one address (dst is that address as a /32)."""
    msg = ipr.route("get", dst=dst)[0]
    return Route(dst=f"{dst}/32", gateway=msg.get("RTA_GATEWAY"), oif=msg.get("RTA_OIF"),
                 onlink=bool(msg["flags"] & RTNH_F_ONLINK))
