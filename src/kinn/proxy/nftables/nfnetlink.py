"""A transaction sent to nf_tables as netlink messages, without nft.

Debian 12's nft 1.0.6 reads every chain of a table before it adds one rule or element (its cache;
nft 1.1 reads less). With kube-proxy's one chain per endpoint, that read alone is most of a partial
sync: 45 ms of a one-endpoint sync at 1,000 Services × 10 endpoints, 500 ms at 5,000. The kernel
needs none of it. This module encodes the commands a partial sync writes — chains, rules of the
shapes rules.py renders, affinity sets, map and set elements, the table — as the same netlink
messages nft would send (the same expressions and user data, so `nft list` prints the rules
identically), in one batch: atomic, as `nft -f`. A transaction holding anything else (a full
sync's last: base chains, maps, flushes of sets) is not encodable here and goes through
libnftables whole.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from typing import Iterable

from kinn.proxy.nftables.libnft import NftError
from kinn.proxy.nftables.transaction import Command

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
NLM_F_REQUEST, NLM_F_CREATE, NLM_F_APPEND = 0x1, 0x400, 0x800
NLMSG_ERROR = 0x2
NLA_F_NESTED = 0x8000
SO_SNDBUFFORCE = 32
FAMILIES = {"ip": socket.AF_INET}

# enum nf_tables_msg_types
NEWTABLE, NEWCHAIN, DELCHAIN, NEWRULE, DELRULE, NEWSET, DELSET, NEWSETELEM, DELSETELEM = 0, 3, 5, 6, 8, 9, 11, 12, 14
# NFTA_TABLE_*, NFTA_CHAIN_*, NFTA_RULE_*, NFTA_SET_*, NFTA_SET_ELEM_LIST_*, NFTA_SET_ELEM_* attributes
# used here; the table is attribute 1 of each of them.
TABLE = 1
TABLE_FLAGS, TABLE_USERDATA = 2, 6
CHAIN_NAME = 3
RULE_CHAIN, RULE_EXPRESSIONS, RULE_USERDATA = 2, 4, 7
SET_NAME, SET_FLAGS, SET_KEY_TYPE, SET_KEY_LEN, SET_DATA_TYPE, SET_DATA_LEN = 2, 3, 4, 5, 6, 7
SET_DESC, SET_ID, SET_TIMEOUT, SET_USERDATA, SET_DESC_SIZE = 9, 10, 11, 13, 1
ELEM_LIST_SET, ELEM_LIST_ELEMENTS, ELEM_LIST_SET_ID = 2, 3, 4
ELEM_KEY, ELEM_DATA, ELEM_USERDATA = 1, 2, 6
LIST_ELEM, EXPR_NAME, EXPR_DATA = 1, 1, 2
DATA_VALUE, DATA_VERDICT, VERDICT_CODE, VERDICT_CHAIN = 1, 2, 1, 2
# Set flags, and the types nft tells the kernel (nft's datatype ids; verdict data is NFT_DATA_VERDICT).
SET_F_ANONYMOUS, SET_F_CONSTANT, SET_F_MAP, SET_F_TIMEOUT, SET_F_EVAL = 0x1, 0x2, 0x8, 0x10, 0x20
TYPE_INTEGER, TYPE_IPADDR, DATA_TYPE_VERDICT = 4, 7, 0xFFFFFF00
# User data (libnftnl's udata TLVs: one byte type, one byte length): comments, and what nft records
# about a set's key so that it prints the elements back as it was given them.
UDATA_COMMENT = 0
SET_UDATA_KEY_BIG_ENDIAN = b"\x00\x04\x02\x00\x00\x00"
# nft 1.0.6's user data for `numgen random mod N vmap { … }`'s anonymous map (`nft --debug=mnl`).
NUMGEN_VMAP_UDATA = bytes.fromhex("00040100000001040000000004080004010000000100060400000000")

VERDICTS = {"drop": 0, "accept": 1, "return": -5}
JUMPS = {"jump": -3, "goto": -4}


class Unsupported(ValueError):
    """A command or statement this module does not encode; the transaction goes through nft."""


def attr(kind: int, payload: bytes) -> bytes:
    header = struct.pack("=HH", 4 + len(payload), kind)
    return header + payload + b"\0" * (-len(payload) % 4)


def nest(kind: int, *attrs: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(attrs))


def string(kind: int, text: str) -> bytes:
    return attr(kind, text.encode() + b"\0")


def u32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack(">i" if value < 0 else ">I", value))


def udata_comment(comment: str) -> bytes:
    text = comment.replace('"', "").encode() + b"\0"
    if len(text) > 255:
        raise Unsupported("comment longer than nft's user data allows")
    return bytes([UDATA_COMMENT, len(text)]) + text


def verdict_data(kind: int, verdict: str) -> bytes:
    """NFTA_DATA_VERDICT for `drop`, `accept`, `return`, `jump CHAIN` or `goto CHAIN`."""
    words = verdict.split()
    if len(words) == 1 and words[0] in VERDICTS:
        inner = [u32(VERDICT_CODE, VERDICTS[words[0]])]
    elif len(words) == 2 and words[0] in JUMPS:
        inner = [u32(VERDICT_CODE, JUMPS[words[0]]), string(VERDICT_CHAIN, words[1])]
    else:
        raise Unsupported(f"verdict {verdict!r}")
    return nest(kind, nest(DATA_VERDICT, *inner))


def value_data(kind: int, value: bytes) -> bytes:
    """NFTA_DATA_VALUE: raw bytes, in the byte order the expression compares them in."""
    return nest(kind, attr(DATA_VALUE, value))


def expression(name: str, *attrs: bytes) -> bytes:
    return nest(LIST_ELEM, string(EXPR_NAME, name), nest(EXPR_DATA, *attrs))


class Batch:
    """The messages of one transaction, between BATCH_BEGIN and BATCH_END; the table is implied."""

    def __init__(self, family: str, table: str) -> None:
        if family not in FAMILIES:
            raise Unsupported(f"family {family}")
        self.family, self.table, self._prefix = FAMILIES[family], table, f"{family} {table}"
        self.messages: list[tuple[int, int, bytes]] = []  # (type, flags, attributes)
        self._sources: list[Command] = []  # what each message came from, for errors
        self._set_ids = 0

    def add(self, kind: int, flags: int, attrs: Iterable[bytes], source: Command) -> None:
        self.messages.append((kind, flags, b"".join(attrs)))
        self._sources.append(source)

    def source_of(self, seq: int) -> str:
        """The command (as nft text) that message `seq` came from; rendered only for an error."""
        return self._sources[seq - 1].text(self._prefix) if 0 < seq <= len(self._sources) else "the batch"

    def next_set_id(self) -> int:
        """An id for a set this batch adds (a reference to it within the batch may use it)."""
        self._set_ids += 1
        return self._set_ids

    def anonymous_vmap(self, elements: list[tuple[int, str]], source: Command) -> tuple[str, int]:
        """`numgen random mod N vmap { i : verdict … }`'s map: created constant with its elements, in
        this batch; the rule's lookup names it by (name template, id), as nft does."""
        name, set_id = "__map%d", self.next_set_id()
        self.add(NEWSET, NLM_F_REQUEST | NLM_F_CREATE, [
            string(TABLE, self.table), string(SET_NAME, name),
            u32(SET_FLAGS, SET_F_ANONYMOUS | SET_F_CONSTANT | SET_F_MAP), u32(SET_KEY_TYPE, TYPE_INTEGER),
            u32(SET_KEY_LEN, 4), u32(SET_DATA_TYPE, DATA_TYPE_VERDICT), u32(SET_DATA_LEN, 0),
            u32(SET_ID, set_id), nest(SET_DESC, u32(SET_DESC_SIZE, len(elements))),
            attr(SET_USERDATA, NUMGEN_VMAP_UDATA)], source)
        items = [nest(LIST_ELEM, value_data(ELEM_KEY, struct.pack("=I", key)), verdict_data(ELEM_DATA, verdict))
                 for key, verdict in elements]
        self.add(NEWSETELEM, NLM_F_REQUEST | NLM_F_CREATE, [
            string(TABLE, self.table), string(ELEM_LIST_SET, name), u32(ELEM_LIST_SET_ID, set_id),
            nest(ELEM_LIST_ELEMENTS, *items)], source)
        return name, set_id

    def encode(self) -> bytes:
        def message(kind: int, flags: int, seq: int, family: int, res_id: int, attrs: bytes) -> bytes:
            body = struct.pack("=BBH", family, 0, socket.htons(res_id)) + attrs
            return struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body

        parts = [message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 0, socket.AF_UNSPEC, NFNL_SUBSYS_NFTABLES, b"")]
        for seq, (kind, flags, attrs) in enumerate(self.messages, start=1):
            parts.append(message(NFNL_SUBSYS_NFTABLES << 8 | kind, flags, seq, self.family, 0, attrs))
        parts.append(message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, len(self.messages) + 1, socket.AF_UNSPEC,
                             NFNL_SUBSYS_NFTABLES, b""))
        return b"".join(parts)


class Connection:
    """A NETLINK_NETFILTER socket in the network namespace of the thread that first commits through it,
    kept open for every later batch.

    Kept open because closing it is the expensive part: the kernel's release of an nfnetlink socket
    waits until the previous transaction's objects are freed, an RCU grace period after the commit
    (~15 ms on this kind of machine, whatever the size of the table; libnftables and nft pay it on
    every run, as they close theirs)."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None

    def commit(self, batch: Batch) -> None:
        """Commit `batch` atomically; NftError naming the command the kernel refused (the kernel then
        applies none of the batch). The kernel handles a batch within sendmsg, so every answer is
        queued when it returns: only errors are asked for, and read without waiting."""
        data = batch.encode()
        if self._sock is None:
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
            self._sock.bind((0, 0))
        try:
            if len(data) > self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF):
                self._sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, len(data) * 2)  # one batch, one message
            self._sock.sendall(data)
            failures = self._errors()
        except OSError:
            self.close()  # a socket in an unknown state: the next batch opens a new one
            raise
        if failures:
            seq, code = failures[0]
            raise NftError(f"Error: {os.strerror(code)} (netlink, errno {errno.errorcode.get(code, code)}) "
                           f"in: {batch.source_of(seq)}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _errors(self) -> list[tuple[int, int]]:
        """(sequence number, errno) of each message the kernel refused."""
        assert self._sock is not None
        failures = []
        while True:
            try:
                reply = self._sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return failures
            offset = 0
            while offset + 16 <= len(reply):
                length, kind, _, seq, _ = struct.unpack_from("=IHHII", reply, offset)
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", reply, offset + 16)[0]
                    if code:
                        failures.append((seq, code))
                offset += (length + 3) & ~3
