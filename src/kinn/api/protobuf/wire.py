"""The protobuf wire format: a stream of (field number, wire type, value) records.

Kubernetes' protobuf encoding is plain proto2 as gogo-protobuf writes it, so a reader needs only the
four wire types proto2 uses: varint, 64-bit, length-delimited and 32-bit. Groups (types 3 and 4) are
deprecated and never produced by Kubernetes; meeting one means the body is not what it claims. The
writers at the end produce the same records (kinn's protobuf OpenAPI v2 document is written with them).
"""

from __future__ import annotations

import struct
from typing import Iterator

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message; `path` is the JSON field path to the damage."""

    def __init__(self, reason: str, path: tuple[str, ...] = ()) -> None:
        super().__init__(f"{'.'.join(path)}: {reason}" if path else reason)
        self.reason = reason
        self.path = path

    def within(self, field: str) -> WireError:
        return WireError(self.reason, (field, *self.path))


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at `pos`; returns (value, next position)."""
    value = shift = 0
    while True:
        if pos >= len(data):
            raise WireError("unexpected EOF")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift >= 70:
            raise WireError("integer overflow")


def iter_fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield each record of a message: varints as ints, everything else as its raw bytes."""
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError("illegal tag 0")
        value: int | bytes
        if wire_type == VARINT:
            value, pos = read_varint(data, pos)
        elif wire_type == LENGTH_DELIMITED:
            length, pos = read_varint(data, pos)
            value, pos = _take(data, pos, length)
        elif wire_type == FIXED64:
            value, pos = _take(data, pos, 8)
        elif wire_type == FIXED32:
            value, pos = _take(data, pos, 4)
        else:
            raise WireError(f"illegal wire type {wire_type} for field {number}")
        yield number, wire_type, value


def _take(data: bytes, pos: int, length: int) -> tuple[bytes, int]:
    end = pos + length
    if end > len(data):
        raise WireError("unexpected EOF")
    return data[pos:end], end


def signed(value: int) -> int:
    """int32/int64 are sent as 64-bit two's complement varints (negative values take ten bytes)."""
    return value - (1 << 64) if value >= 1 << 63 else value


# ---------------------------------------------------------------- writing

_ONE_BYTE = [bytes((value,)) for value in range(0x80)]


def encode_varint(value: int) -> bytes:
    """A base-128 varint; negative values as their 64-bit two's complement, as Go's proto.Marshal sends them."""
    if 0 <= value < 0x80:
        return _ONE_BYTE[value]  # tags and most lengths: the common case, without a loop
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def varint_field(number: int, value: int) -> bytes:
    """One varint record (int32, int64, bool, enum)."""
    return encode_varint(number << 3 | VARINT) + encode_varint(value)


def bytes_field(number: int, data: bytes) -> bytes:
    """One length-delimited record: a string, bytes or an embedded message."""
    return encode_varint(number << 3 | LENGTH_DELIMITED) + encode_varint(len(data)) + data


def double_field(number: int, value: float) -> bytes:
    """One `double` record: IEEE 754 binary64, little-endian."""
    return encode_varint(number << 3 | FIXED64) + struct.pack("<d", value)
