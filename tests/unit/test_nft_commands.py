"""The netlink encoding of kube-proxy's partial syncs, without a kernel: element keys as the kernel
stores them, the batch's framing, and what is refused (and so left to nft). Parity with nft itself,
expression by expression, is checked against the kernel in tests/e2e/test_nft_netlink.py."""

from __future__ import annotations

import socket
import struct

import pytest

from kinn.proxy.nftables import nfnetlink as nl
from kinn.proxy.nftables.commands import compile_transaction, element_key
from kinn.proxy.nftables.nfnetlink import Unsupported
from kinn.proxy.nftables.transaction import BaseChain, Transaction


def test_element_keys_are_network_order_fields_padded_to_four_bytes() -> None:
    assert element_key("10.96.0.10") == bytes([10, 96, 0, 10])
    assert element_key("10.96.0.10 . udp . 53") == bytes([10, 96, 0, 10, 17, 0, 0, 0, 0, 53, 0, 0])
    assert element_key("sctp . 30080") == bytes([132, 0, 0, 0]) + struct.pack(">H", 30080) + b"\0\0"
    with pytest.raises(Unsupported):
        element_key("10.96.0.0/16")


def messages(data: bytes) -> list[tuple[int, int, int]]:
    """(type, flags, nfgenmsg res_id) of each message of an encoded batch."""
    out, offset = [], 0
    while offset < len(data):
        length, kind, flags, _, _ = struct.unpack_from("=IHHII", data, offset)
        out.append((kind, flags, socket.ntohs(struct.unpack_from("=H", data, offset + 18)[0])))
        offset += length
    assert offset == len(data)
    return out


def test_a_partial_sync_is_one_batch_between_begin_and_end() -> None:
    tx = Transaction("ip", "kube-proxy")
    tx.add_chain("endpoint-X")
    tx.flush_chain("endpoint-X")
    tx.add_rule("service-X", "numgen random mod 1 vmap { 0 : goto endpoint-X }")
    tx.add_element("service-ips", "10.96.0.10 . tcp . 80", "goto service-X")
    tx.delete_chain("endpoint-Y")
    kinds = [(kind & 0xFF if kind >> 8 else kind, flags, res_id) for kind, flags, res_id in
             messages(compile_transaction(tx).encode())]
    create, append = nl.NLM_F_REQUEST | nl.NLM_F_CREATE, nl.NLM_F_REQUEST | nl.NLM_F_CREATE | nl.NLM_F_APPEND
    assert kinds == [(nl.NFNL_MSG_BATCH_BEGIN, nl.NLM_F_REQUEST, nl.NFNL_SUBSYS_NFTABLES),
                     (nl.NEWCHAIN, create, 0), (nl.DELRULE, nl.NLM_F_REQUEST, 0),
                     (nl.NEWSET, create, 0), (nl.NEWSETELEM, create, 0),  # the vmap's anonymous map
                     (nl.NEWRULE, append, 0), (nl.NEWSETELEM, create, 0), (nl.DELCHAIN, nl.NLM_F_REQUEST, 0),
                     (nl.NFNL_MSG_BATCH_END, nl.NLM_F_REQUEST, nl.NFNL_SUBSYS_NFTABLES)]


@pytest.mark.parametrize("write", [
    lambda tx: tx.add_base_chain(BaseChain("nat-output", "nat", "output", -100)),
    lambda tx: tx.add_map("service-ips", "ipv4_addr . inet_proto . inet_service : verdict"),
    lambda tx: tx.flush("map", "service-ips"),
    lambda tx: tx.add_rule("firewall-X", "ip saddr != { 192.0.2.0/24 } drop"),
    lambda tx: tx.add_rule("x", "ip daddr . meta l4proto . th dport vmap @service-ips"),
    lambda tx: tx.add_rule("x", "numgen random mod 3 vmap { 0 : goto a , 1 : goto b }"),
    lambda tx: tx.add_set("cluster-ips", "ipv4_addr", comment="Active ClusterIPs"),
])
def test_what_it_does_not_encode_is_refused_whole(write) -> None:
    tx = Transaction("ip", "kube-proxy")
    tx.add_chain("ok")
    write(tx)
    with pytest.raises(Unsupported):
        compile_transaction(tx)
