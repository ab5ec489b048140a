"""Links: veth pairs, bridges, VXLAN devices, and their attributes, over an IPRoute handle.

Each function takes the IPRoute of the namespace it acts in (see netns.iproute), so callers
choose the namespace once and pass the handle around, as the CNI plugins do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from kinn.netlink.netns import open_fd

ENODEV = 19
EEXIST = 17
IFF_PROMISC = 0x100


class LinkNotFound(LookupError):
    """No link with that name or index in the namespace."""


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    kind: str | None
    mac: str
    mtu: int
    up: bool
    master: int | None
    peer_index: int | None  # IFLA_LINK: for a veth, the peer's ifindex (in the peer's namespace)


def _to_link(msg: object) -> Link:
    info = msg.get("IFLA_LINKINFO")  # type: ignore[attr-defined]
    return Link(
        index=msg["index"],  # type: ignore[index]
        name=msg.get("IFLA_IFNAME"),  # type: ignore[attr-defined]
        kind=info.get("IFLA_INFO_KIND") if info else None,
        mac=msg.get("IFLA_ADDRESS") or "",  # type: ignore[attr-defined]
        mtu=msg.get("IFLA_MTU"),  # type: ignore[attr-defined]
        up=bool(msg["flags"] & 1),  # type: ignore[index]
        master=msg.get("IFLA_MASTER"),  # type: ignore[attr-defined]
        peer_index=msg.get("IFLA_LINK"),  # type: ignore[attr-defined]
    )


def get_link(ipr: IPRoute, link: str | int) -> Link:
    """Look a link up by name or ifindex."""
    try:
        msgs = ipr.get_links(link) if isinstance(link, int) else ipr.get_links(ifname=link)
    except NetlinkError as exc:
        if exc.code == ENODEV:
            raise LinkNotFound(link) from exc
        raise
    if not msgs:
        raise LinkNotFound(link)
    return _to_link(msgs[0])


def find_link(ipr: IPRoute, link: str | int) -> Link | None:
    try:
        return get_link(ipr, link)
    except LinkNotFound:
        return None


def list_links(ipr: IPRoute) -> list[Link]:
    return [_to_link(msg) for msg in ipr.get_links()]


def index_of(ipr: IPRoute, link: str | int) -> int:
    return link if isinstance(link, int) else get_link(ipr, link).index


def add_veth(ipr: IPRoute, name: str, peer: str, peer_netns: str | os.PathLike[str] | None = None,
             mtu: int | None = None, mac: str | None = None, txqlen: int | None = None) -> Link:
    """Create veth `name` here with its peer `peer` created directly in `peer_netns` (if given),
    so the peer never appears in this namespace under a temporary name. `txqlen=0` gives the
    queue-less veths the Go plugins create (`ip link` then shows no qlen)."""
    peer_spec: dict[str, object] = {"ifname": peer}
    fd = open_fd(peer_netns) if peer_netns is not None else None
    if fd is not None:
        peer_spec["net_ns_fd"] = fd
    extra: dict[str, object] = {"mtu": mtu} if mtu else {}
    if txqlen is not None:
        extra["txqlen"] = txqlen
    peer_spec.update(extra)
    if mac:
        extra["address"] = mac
    try:
        ipr.link("add", ifname=name, kind="veth", peer=peer_spec, **extra)
    finally:
        if fd is not None:
            os.close(fd)
    return get_link(ipr, name)


def add_bridge(ipr: IPRoute, name: str, mtu: int | None = None) -> Link:
    """Create a Linux bridge (down; callers set it up after configuring it)."""
    ipr.link("add", ifname=name, kind="bridge", **({"mtu": mtu} if mtu else {}))
    return get_link(ipr, name)


def ensure_bridge(ipr: IPRoute, name: str, mtu: int | None = None) -> Link:
    """The bridge `name`, created if missing and set up; an existing non-bridge link is an error."""
    link = find_link(ipr, name)
    if link is None:
        try:
            link = add_bridge(ipr, name, mtu)
        except NetlinkError as exc:  # a concurrent caller (another pod's ADD) created it first
            if exc.code != EEXIST:
                raise
            link = get_link(ipr, name)
    if link.kind != "bridge":
        raise ValueError(f"{name!r} already exists but is not a bridge (kind {link.kind})")
    set_up(ipr, link.index)
    return get_link(ipr, link.index)


def add_vxlan(ipr: IPRoute, name: str, vni: int, port: int = 8472, local: str | None = None,
              dev: str | int | None = None, learning: bool = False, mtu: int | None = None,
              mac: str | None = None) -> Link:
    """A VXLAN device like flannel's: `nolearning` by default (entries are programmed, not learnt)."""
    attrs: dict[str, object] = {"vxlan_id": vni, "vxlan_port": port, "vxlan_learning": int(learning)}
    if local:
        attrs["vxlan_local"] = local
    if dev is not None:
        attrs["vxlan_link"] = index_of(ipr, dev)
    if mtu:
        attrs["mtu"] = mtu
    if mac:
        attrs["address"] = mac
    ipr.link("add", ifname=name, kind="vxlan", **attrs)
    return get_link(ipr, name)


def set_up(ipr: IPRoute, link: str | int) -> None:
    ipr.link("set", index=index_of(ipr, link), state="up")


def set_down(ipr: IPRoute, link: str | int) -> None:
    ipr.link("set", index=index_of(ipr, link), state="down")


def set_master(ipr: IPRoute, link: str | int, master: str | int | None) -> None:
    """Enslave `link` to bridge `master` (None: release it)."""
    ipr.link("set", index=index_of(ipr, link), master=index_of(ipr, master) if master is not None else 0)


def set_mtu(ipr: IPRoute, link: str | int, mtu: int) -> None:
    ipr.link("set", index=index_of(ipr, link), mtu=mtu)


def set_mac(ipr: IPRoute, link: str | int, mac: str) -> None:
    ipr.link("set", index=index_of(ipr, link), address=mac)


def set_promisc(ipr: IPRoute, link: str | int, on: bool = True) -> None:
    """IFF_PROMISC, as `ip link set <dev> promisc on` (the bridge plugin's promiscMode)."""
    ipr.link("set", index=index_of(ipr, link), flags=IFF_PROMISC if on else 0, change=IFF_PROMISC)


def rename(ipr: IPRoute, link: str | int, name: str) -> None:
    ipr.link("set", index=index_of(ipr, link), ifname=name)


def move_to_netns(ipr: IPRoute, link: str | int, netns: str | os.PathLike[str]) -> None:
    """Move a link into another namespace (it disappears from this one)."""
    fd = open_fd(netns)
    try:
        ipr.link("set", index=index_of(ipr, link), net_ns_fd=fd)
    finally:
        os.close(fd)


def delete_link(ipr: IPRoute, link: str | int) -> bool:
    """Delete a link; False if it was already gone (so teardown is repeatable)."""
    found = find_link(ipr, link)
    if found is None:
        return False
    ipr.link("del", index=found.index)
    return True


def set_bridge_port_hairpin(ipr: IPRoute, link: str | int, on: bool = True) -> None:
    """Hairpin (reflective relay) on a bridge port: lets a pod reach itself through a Service IP."""
    ipr.brport("set", index=index_of(ipr, link), mode=int(on))  # IFLA_BRPORT_MODE
