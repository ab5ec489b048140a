"""Every interface address of the current network namespace, from one RTM_GETADDR dump on a plain
netlink socket: for a process that needs only this, once, and must stay small (the cluster DNS pod,
for its NS records). Importing and opening pyroute2 for the same answer costs it ~9 MB."""

from __future__ import annotations

import ipaddress
import os
import socket
import struct

RTM_GETADDR = 22
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
IFA_ADDRESS, IFA_LOCAL = 1, 2
NLMSG_HEADER = struct.Struct("=IHHII")  # length, type, flags, sequence, port
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefix length, flags, scope, interface index
RTATTR = struct.Struct("=HH")  # length, type


def _align(length: int) -> int:
    return (length + 3) & ~3


def interface_addresses() -> list[str]:
    """The addresses of every interface (IPv4 and IPv6, loopback included), as `ip addr` lists them."""
    request = NLMSG_HEADER.pack(NLMSG_HEADER.size + IFADDRMSG.size, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) \
        + IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    addresses: list[str] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.sendall(request)
        while True:
            data = sock.recv(65536)
            offset = 0
            while offset < len(data):
                length, kind, _, _, _ = NLMSG_HEADER.unpack_from(data, offset)
                if kind == NLMSG_DONE:
                    return addresses
                if kind == NLMSG_ERROR:
                    error = -struct.unpack_from("=i", data, offset + NLMSG_HEADER.size)[0]
                    raise OSError(error, f"RTM_GETADDR: {os.strerror(error)}")
                addresses.extend(_address(data[offset + NLMSG_HEADER.size:offset + length]))
                offset += _align(length)


def _address(message: bytes) -> list[str]:
    """The address an RTM_NEWADDR message carries: IFA_LOCAL for IPv4 (IFA_ADDRESS is the peer's
    on point-to-point links), IFA_ADDRESS for IPv6."""
    family = message[0]
    attributes: dict[int, bytes] = {}
    offset = IFADDRMSG.size
    while offset + RTATTR.size <= len(message):
        length, kind = RTATTR.unpack_from(message, offset)
        attributes[kind] = message[offset + RTATTR.size:offset + length]
        offset += _align(length)
    raw = attributes.get(IFA_LOCAL) or attributes.get(IFA_ADDRESS)
    return [str(ipaddress.ip_address(raw))] if raw and family in (socket.AF_INET, socket.AF_INET6) else []
