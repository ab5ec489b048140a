"""A transaction's commands as one nf_tables netlink batch (see nfnetlink.py for why).

Encodes what a partial sync and a full sync's Service transactions write: the table, chains added,
flushed and deleted, rules (statements.py), affinity sets, and elements of kube-proxy's sets and
maps. Anything else — the base chains, maps and set flushes of a full sync's last transaction —
raises Unsupported, and the proxier gives the transaction to libnftables whole.
"""

from __future__ import annotations

import ipaddress
import struct

from kinn.proxy.nftables import nfnetlink as nl
from kinn.proxy.nftables.nfnetlink import Batch, Unsupported, attr, nest, string, u32
from kinn.proxy.nftables.statements import PROTOCOLS, compile_rule
from kinn.proxy.nftables.transaction import Command, Transaction


def compile_transaction(tx: Transaction) -> Batch:
    """The batch for `tx`, or Unsupported if any of its commands is not one this module encodes."""
    batch = Batch(tx.family, tx.table)
    table = string(nl.TABLE, tx.table)
    for command in tx.commands:
        kind = (command.verb, command.object)
        if kind == ("add", "table"):
            attrs = [table, u32(nl.TABLE_FLAGS, 0)]
            if command.comment:
                attrs.append(attr(nl.TABLE_USERDATA, nl.udata_comment(command.comment)))
            batch.add(nl.NEWTABLE, nl.NLM_F_REQUEST | nl.NLM_F_CREATE, attrs, command)
        elif command.object == "chain" and not command.base and not command.comment and kind != ("flush", "chain"):
            batch.add(nl.NEWCHAIN if command.verb == "add" else nl.DELCHAIN,
                      nl.NLM_F_REQUEST | (nl.NLM_F_CREATE if command.verb == "add" else 0),
                      [table, string(nl.CHAIN_NAME, command.name)], command)
        elif kind == ("flush", "chain"):
            batch.add(nl.DELRULE, nl.NLM_F_REQUEST, [table, string(nl.RULE_CHAIN, command.name)], command)
        elif kind == ("add", "rule"):
            expressions = compile_rule(command, batch)
            attrs = [table, string(nl.RULE_CHAIN, command.name), nest(nl.RULE_EXPRESSIONS, *expressions)]
            if command.comment:
                attrs.append(attr(nl.RULE_USERDATA, nl.udata_comment(command.comment)))
            batch.add(nl.NEWRULE, nl.NLM_F_REQUEST | nl.NLM_F_CREATE | nl.NLM_F_APPEND, attrs, command)
        elif kind == ("add", "set"):
            attrs = _affinity_set(command, table, batch.next_set_id())
            batch.add(nl.NEWSET, nl.NLM_F_REQUEST | nl.NLM_F_CREATE, attrs, command)
        elif kind == ("delete", "set"):
            batch.add(nl.DELSET, nl.NLM_F_REQUEST, [table, string(nl.SET_NAME, command.name)], command)
        elif command.object == "element":
            batch.add(nl.NEWSETELEM if command.verb == "add" else nl.DELSETELEM,
                      nl.NLM_F_REQUEST | (nl.NLM_F_CREATE if command.verb == "add" else 0),
                      [table, string(nl.ELEM_LIST_SET, command.name),
                       nest(nl.ELEM_LIST_ELEMENTS, _element(command))], command)
        else:
            raise Unsupported(command.text(f"{tx.family} {tx.table}"))
    return batch


def _affinity_set(command: Command, table: bytes, set_id: int) -> list[bytes]:
    """`add set … { type ipv4_addr ; flags dynamic,timeout ; timeout Ns ; }`, the only set a partial sync adds."""
    if (command.type, command.flags, command.comment) != ("ipv4_addr", "dynamic,timeout", "") or not command.timeout:
        raise Unsupported(f"set {command.name} of type {command.type!r} flags {command.flags!r}")
    return [table, string(nl.SET_NAME, command.name), u32(nl.SET_FLAGS, nl.SET_F_EVAL | nl.SET_F_TIMEOUT),
            u32(nl.SET_KEY_TYPE, nl.TYPE_IPADDR), u32(nl.SET_KEY_LEN, 4), u32(nl.SET_ID, set_id),
            attr(nl.SET_TIMEOUT, struct.pack(">Q", command.timeout * 1000)),
            attr(nl.SET_USERDATA, nl.SET_UDATA_KEY_BIG_ENDIAN)]


def _element(command: Command) -> bytes:
    attrs = [nl.value_data(nl.ELEM_KEY, element_key(command.key))]
    if command.value:
        attrs.append(nl.verdict_data(nl.ELEM_DATA, command.value))
    if command.comment:
        attrs.append(attr(nl.ELEM_USERDATA, nl.udata_comment(command.comment)))
    return nest(nl.LIST_ELEM, *attrs)


def element_key(key: str) -> bytes:
    """A key of kube-proxy's sets and maps — `ipv4_addr`, `inet_proto`, `inet_service` or their
    concatenation (`10.96.0.10 . udp . 53`) — as the kernel stores it: each field in network byte
    order, padded to 4 bytes."""
    fields = []
    for field in key.split(" . "):
        if field in PROTOCOLS:
            fields.append(bytes([PROTOCOLS[field]]) + b"\0\0\0")
        elif field.isdigit():
            fields.append(struct.pack(">H", int(field)) + b"\0\0")
        else:
            try:
                fields.append(ipaddress.IPv4Address(field).packed)
            except ValueError:
                raise Unsupported(f"element key {key!r}") from None
    return b"".join(fields)
