"""One ICMP echo from inside a namespace: a reachability probe without the `ping` binary (not
installed on every node image), for tests and diagnostics."""

from __future__ import annotations

import os
import select
import socket
import struct
import time

from kinn.netlink.netns import run_in

ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY = 8, 0


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo(dst: str, timeout: float) -> bool:
    ident, seq = os.getpid() & 0xFFFF, 1
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident, seq)
    payload = b"kinn-ping"
    packet = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, _checksum(header + payload), ident, seq) + payload
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        sock.sendto(packet, (dst, 0))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([sock], [], [], left)[0]:
                return False
            data, (source, _) = sock.recvfrom(2048)
            icmp = data[(data[0] & 0x0F) * 4:]
            kind, _, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
            if kind == ICMP_ECHO_REPLY and rid == ident and rseq == seq and source == dst:
                return True
    return False


def ping(netns: str | os.PathLike[str], dst: str, timeout: float = 2.0) -> bool:
    """True if `dst` answers an ICMP echo sent from inside `netns` within `timeout` seconds."""
    return run_in(netns, _echo, dst, timeout)
