"""Running the kubelet "inside" a node netns while it reaches the API server from the host's.

In this first cut the API server listens on 127.0.0.1 of the host netns, while a node's bridge,
veths, iptables rules and pod sandboxes belong in the node's netns. The kubelet's thread moves
into the node netns before its event loop starts, so every child it forks (pause, CNI plugins,
containers) and every netlink socket it opens act there; only the sockets to the API server are
opened back in the host netns (setns is per thread and a socket keeps the netns it was made in).
"""

from __future__ import annotations

import os
import socket
from typing import Any

from kinn import netlink
from kinn.kubelet import nsutil


class NodeNetns:
    """The calling thread's netns becomes `name`; `socket_factory` opens sockets in the original one."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._host = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        node = os.open(netlink.netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
        try:
            nsutil.setns(node, nsutil.CLONE_NEWNET)
        finally:
            os.close(node)

    def socket_factory(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """The API client's socket_factory: a socket created in the host netns (the one this process started in)."""
        return netlink.socket_in(f"/proc/self/fd/{self._host}", addr_info[0], addr_info[1], addr_info[2])
