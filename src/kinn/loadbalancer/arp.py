"""Gratuitous ARP: how a node that takes over an address tells the segment, as MetalLB's speaker does.

Answering ARP is the kernel's job here (the address is local on the announcing node, so it
replies for it on its uplink); what the kernel does not do is tell neighbours that already cached
another node's MAC for the address. On takeover the speaker broadcasts an ARP request and an ARP
reply whose sender and target are both the address, and neighbours update their entries at once.
"""

from __future__ import annotations

import socket
import struct

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARP_REQUEST, ARP_REPLY = 1, 2
HTYPE_ETHERNET = 1
BROADCAST = b"\xff" * 6


def gratuitous_frames(mac: str, ip: str) -> list[bytes]:
    """The request and the reply: Ethernet broadcast, sender = target = `ip`, target hardware broadcast."""
    hw, address = bytes.fromhex(mac.replace(":", "")), socket.inet_aton(ip)
    ethernet = BROADCAST + hw + struct.pack("!H", ETH_P_ARP)
    return [ethernet + struct.pack("!HHBBH", HTYPE_ETHERNET, ETH_P_IP, 6, 4, op) + hw + address + BROADCAST + address
            for op in (ARP_REQUEST, ARP_REPLY)]


def announce(interface: str, mac: str, ip: str) -> None:
    """Send the gratuitous frames out of `interface` (in the caller's netns; needs CAP_NET_RAW)."""
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
        sock.bind((interface, 0))
        for frame in gratuitous_frames(mac, ip):
            sock.send(frame)
