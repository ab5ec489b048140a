"""The one real packet exchange a trace follows: a TCP connect, a UDP datagram or an ICMP echo, sent
from a socket that lives in the source's netns and carries the trace's DSCP (see kinn.trace.arming)."""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

from dnslib import DNSRecord

from kinn import netlink
from kinn.trace.arming import PROBE_DSCP

TIMEOUT = 2.0
PAYLOAD = b"kinn trace\n"
DNS_PORT = 53
# A DNS server drops a datagram that is not a query, so a UDP probe to port 53 is one: an A query for the
# API server's Service, which cluster DNS answers (another server's REFUSED is an answer too).
DNS_QUERY = DNSRecord.question("kubernetes.default.svc.cluster.local", "A").pack()


@dataclass(frozen=True)
class ProbeResult:
    """What the sender saw: its own address and port, and the outcome in words."""

    source_ip: str
    source_port: int | None
    outcome: str  # "connected", "answered", "connection refused", "timed out", …
    ok: bool


def send(netns: str, protocol: str, ip: str, port: int | None) -> ProbeResult:
    kind, proto = {"tcp": (socket.SOCK_STREAM, 0), "udp": (socket.SOCK_DGRAM, 0),
                   "icmp": (socket.SOCK_RAW, socket.IPPROTO_ICMP)}[protocol]
    sock = netlink.socket_in(netns, socket.AF_INET, kind, proto)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, PROBE_DSCP << 2)
        sock.settimeout(TIMEOUT)
        if protocol == "icmp":
            return _ping(sock, ip)
        sock.connect((ip, port or 0))
        source_ip, source_port = sock.getsockname()
        return ProbeResult(source_ip, source_port, *_exchange(sock, protocol, port))
    except (ConnectionRefusedError, TimeoutError, OSError) as error:
        source_ip, source_port = _local(sock)
        # A raw socket's name holds its protocol number (1 for ICMP) where a port would be: an echo has none.
        return ProbeResult(source_ip, None if protocol == "icmp" else source_port, _describe(error), False)
    finally:
        sock.close()


def _exchange(sock: socket.socket, protocol: str, port: int | None) -> tuple[str, bool]:
    """TCP: connected is the answer. UDP: a datagram back, or an ICMP error reported on the socket."""
    if protocol == "tcp":
        return "connected", True
    sock.send(DNS_QUERY if port == DNS_PORT else PAYLOAD)
    try:
        sock.recv(512)
        return "answered", True
    except TimeoutError:
        return "no answer (UDP: nothing came back)", False


def _ping(sock: socket.socket, ip: str) -> ProbeResult:
    ident = os.getpid() & 0xFFFF
    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    sock.connect((ip, 0))  # the kernel picks the source address now, as a trace needs to know it
    source_ip, _ = _local(sock)
    sock.send(header[:2] + struct.pack("!H", _checksum(header + PAYLOAD)) + header[4:] + PAYLOAD)
    while True:
        data, (sender, _) = sock.recvfrom(1024)
        icmp = data[(data[0] & 0x0F) * 4:]
        if sender == ip and icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident:
            return ProbeResult(source_ip, None, "echo reply", True)


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data[:len(data) // 2 * 2])) + (data[-1] << 8 if len(data) % 2 else 0)
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def _local(sock: socket.socket) -> tuple[str, int | None]:
    try:
        ip, port = sock.getsockname()
        return ip, port or None
    except OSError:
        return "", None


def _describe(error: OSError) -> str:
    if isinstance(error, TimeoutError) or isinstance(error, socket.timeout):
        return "timed out"
    return (error.strerror or str(error)).lower()
