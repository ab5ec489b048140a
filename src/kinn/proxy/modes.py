"""The proxy modes `--proxy-mode` selects, each a Proxier over the same change tracking."""

from __future__ import annotations

from kinn.proxy.iptables.proxier import IptablesProxier
from kinn.proxy.nftables.proxier import NftablesProxier
from kinn.proxy.node import NodeContext
from kinn.proxy.server import Proxier
from kinn.proxy.userspace.proxier import UserspaceProxier

MODES = ("iptables", "nftables", "userspace")


def new_proxier(mode: str, ctx: NodeContext) -> Proxier:
    if mode == "iptables":
        return IptablesProxier(ctx)
    if mode == "nftables":
        return NftablesProxier(ctx)
    if mode == "userspace":
        return UserspaceProxier(ctx)
    raise ValueError(f"unknown proxy mode {mode!r}; kinn implements: {', '.join(MODES)}")
