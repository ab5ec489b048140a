"""kube-proxy's rule statements compiled to nf_tables expressions, as nft compiles them.

Only the statements rules.py writes into Service chains are known here (anything else raises
Unsupported and the transaction goes through nft):

    ip saddr|daddr [!=] ADDR | CIDR | @set        tcp|udp|sctp dport PORT      meta l4proto PROTO
    fib saddr type local                          jump|goto CHAIN, drop, accept, return
    numgen random mod N vmap { 0 : goto C , … }   update @set { ip saddr }     dnat to ADDR:PORT

Each compiles to the expressions `nft --debug=netlink` shows for it (payload loads into register 1,
prefixes on byte boundaries as shorter loads, others through a bitwise mask, protocol matches
preceded by their `meta l4proto` dependency), so `nft list` prints the rule back as written.
"""

from __future__ import annotations

import ipaddress
import struct

from kinn.proxy.nftables.nfnetlink import (JUMPS, VERDICTS, Batch, Unsupported, expression, string, u32, value_data,
                                           verdict_data)
from kinn.proxy.nftables.transaction import Command

PROTOCOLS = {"tcp": 6, "udp": 17, "sctp": 132}

REG_VERDICT, REG_1, REG_2 = 0, 1, 2
BASE_NETWORK, BASE_TRANSPORT = 1, 2
IP_SADDR, IP_DADDR, DPORT = 12, 16, 2  # header offsets
CMP_EQ, CMP_NEQ = 0, 1
META_L4PROTO = 16
FIB_RESULT_ADDRTYPE, FIB_F_SADDR, RTN_LOCAL = 3, 1, 2
NG_RANDOM = 1
LOOKUP_F_INV = 1
DYNSET_OP_UPDATE = 1
NAT_DNAT, NAT_RANGE_PROTO_SPECIFIED = 1, 0x2


def payload(base: int, offset: int, length: int) -> bytes:
    return expression("payload", u32(1, REG_1), u32(2, base), u32(3, offset), u32(4, length))


def cmp(op: int, value: bytes) -> bytes:
    return expression("cmp", u32(1, REG_1), u32(2, op), value_data(3, value))


def meta_l4proto(protocol: str) -> list[bytes]:
    if protocol not in PROTOCOLS:
        raise Unsupported(f"protocol {protocol}")
    return [expression("meta", u32(2, META_L4PROTO), u32(1, REG_1)), cmp(CMP_EQ, bytes([PROTOCOLS[protocol]]))]


def immediate_verdict(verdict: str) -> bytes:
    return expression("immediate", u32(1, REG_VERDICT), verdict_data(2, verdict))


def immediate_value(register: int, value: bytes) -> bytes:
    return expression("immediate", u32(1, register), value_data(2, value))


def address_match(field: str, op: str, value: str) -> list[bytes]:
    """`ip saddr|daddr [!=] VALUE`: an address, a prefix, or a named set."""
    offset = {"saddr": IP_SADDR, "daddr": IP_DADDR}[field]
    inverted = op == "!="
    if value.startswith("@"):
        flags = [u32(5, LOOKUP_F_INV)] if inverted else []
        return [payload(BASE_NETWORK, offset, 4), expression("lookup", string(1, value[1:]), u32(2, REG_1), *flags)]
    try:
        network = ipaddress.IPv4Network(value)
    except ValueError:
        raise Unsupported(f"address {value!r}") from None
    op_code = CMP_NEQ if inverted else CMP_EQ
    if network.prefixlen % 8 == 0 and network.prefixlen:
        length = network.prefixlen // 8
        return [payload(BASE_NETWORK, offset, length), cmp(op_code, network.network_address.packed[:length])]
    if not network.prefixlen:
        raise Unsupported(f"address {value!r}")
    mask = expression("bitwise", u32(1, REG_1), u32(2, REG_1), u32(3, 4), value_data(4, network.netmask.packed),
                      value_data(5, b"\0\0\0\0"))
    return [payload(BASE_NETWORK, offset, 4), mask, cmp(op_code, network.network_address.packed)]


def numgen_vmap(modulus: str, choices: list[str], batch: Batch, source: Command) -> list[bytes]:
    """`numgen random mod N vmap { 0 : goto A , 1 : goto B … }`; `choices` are the words in the braces."""
    entries = " ".join(choices).split(" , ")
    elements = []
    for index, entry in enumerate(entries):
        key, sep, verdict = entry.partition(" : ")
        if not sep or key != str(index):
            raise Unsupported(f"vmap entry {entry!r}")
        elements.append((index, verdict))
    if int(modulus) != len(elements):
        raise Unsupported(f"numgen modulus {modulus} for {len(elements)} choices")
    name, set_id = batch.anonymous_vmap(elements, source)
    return [expression("numgen", u32(1, REG_1), u32(2, int(modulus)), u32(3, NG_RANDOM)),
            expression("lookup", string(1, name), u32(4, set_id), u32(2, REG_1), u32(3, REG_VERDICT))]


def dnat(target: str) -> list[bytes]:
    """`dnat to ADDR:PORT`."""
    address, _, port = target.rpartition(":")
    try:
        packed = ipaddress.IPv4Address(address).packed
    except ValueError:
        raise Unsupported(f"dnat target {target!r}") from None
    return [immediate_value(REG_1, packed), immediate_value(REG_2, struct.pack(">H", int(port))),
            expression("nat", u32(1, NAT_DNAT), u32(2, 2), u32(3, REG_1), u32(5, REG_2),
                       u32(7, NAT_RANGE_PROTO_SPECIFIED))]


def compile_rule(rule: Command, batch: Batch) -> list[bytes]:
    """The expressions of one `add rule` command (and, in `batch`, the anonymous map it looks up, if any)."""
    statement = rule.statement
    try:
        return _compile(statement.split(), batch, rule)
    except (Unsupported, IndexError, ValueError) as exc:
        raise Unsupported(f"{exc or 'incomplete statement'} in rule {statement!r}") from None


def _compile(words: list[str], batch: Batch, rule: Command) -> list[bytes]:
    out: list[bytes] = []
    i = 0
    while i < len(words):
        word, rest = words[i], words[i + 1:]
        if word == "ip" and rest[:1] in (["saddr"], ["daddr"]):
            inverted = rest[1:2] == ["!="]
            value = rest[2 if inverted else 1]
            out += address_match(rest[0], "!=" if inverted else "==", value)
            i += 4 if inverted else 3
        elif word in PROTOCOLS and rest[:1] == ["dport"]:
            port = struct.pack(">H", int(rest[1]))
            out += meta_l4proto(word) + [payload(BASE_TRANSPORT, DPORT, 2), cmp(CMP_EQ, port)]
            i += 3
        elif word == "meta" and rest[:1] == ["l4proto"]:
            out += meta_l4proto(rest[1])
            i += 3
        elif words[i:i + 4] == ["fib", "saddr", "type", "local"]:
            out += [expression("fib", u32(1, REG_1), u32(2, FIB_RESULT_ADDRTYPE), u32(3, FIB_F_SADDR)),
                    cmp(CMP_EQ, struct.pack("=I", RTN_LOCAL))]
            i += 4
        elif word in JUMPS and rest:
            out.append(immediate_verdict(f"{word} {rest[0]}"))
            i += 2
        elif word in VERDICTS:
            out.append(immediate_verdict(word))
            i += 1
        elif word == "numgen" and rest[:2] == ["random", "mod"] and rest[3:5] == ["vmap", "{"] and words[-1] == "}":
            out += numgen_vmap(rest[2], words[i + 6:-1], batch, rule)
            i = len(words)
        elif word == "update" and rest[:1] and rest[0].startswith("@") and rest[1:5] == ["{", "ip", "saddr", "}"]:
            out += [payload(BASE_NETWORK, IP_SADDR, 4),
                    expression("dynset", string(1, rest[0][1:]), u32(3, DYNSET_OP_UPDATE), u32(4, REG_1))]
            i += 6
        elif word == "dnat" and rest[:1] == ["to"] and len(rest) > 1:
            out += dnat(rest[1])
            i += 3
        else:
            raise Unsupported(f"statement {' '.join(words[i:])!r}")
    return out
