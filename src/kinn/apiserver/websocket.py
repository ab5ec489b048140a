"""The client end of a WebSocket (RFC 6455) over a raw stream: the API server's leg to a kubelet.

The API server relays `pods/exec` and `pods/attach` between kubectl and the kubelet. It opens
the kubelet's leg itself, over a socket it may have to create in the cluster's netns, and needs
the kubelet's reply as it is when the upgrade is refused (a 404 or 500 with the kubelet's text,
which kubectl shows): so the handshake and frames are done here, on plain asyncio streams.
Frames sent are masked, as a client's must be; messages fragmented by the peer are reassembled.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from dataclasses import dataclass

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
NORMAL_CLOSURE = 1000
MAX_MESSAGE = 64 * 1024 * 1024


class ProtocolError(Exception):
    """The peer broke the WebSocket framing rules."""


@dataclass(frozen=True)
class Message:
    opcode: int
    data: bytes

    @property
    def close_code(self) -> int:
        """The code of a close message (1005, "no status", when the peer gave none)."""
        return struct.unpack("!H", self.data[:2])[0] if len(self.data) >= 2 else 1005


def new_key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def accept_value(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key: what proves the server read the handshake."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def _mask(data: bytes, key: bytes) -> bytes:
    """XOR with the repeated 4-byte key, as one big-integer operation (fast for large frames)."""
    if not data:
        return data
    repeated = (key * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(data), "big")


def encode_frame(opcode: int, data: bytes, mask_key: bytes | None = None) -> bytes:
    """One final frame; masked with `mask_key` (random if None), as client frames must be."""
    key = os.urandom(4) if mask_key is None else mask_key
    length = len(data)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return header + key + _mask(data, key)


async def read_frame(reader: asyncio.StreamReader) -> tuple[bool, int, bytes]:
    """(final, opcode, payload) of the next frame; a server's frames are unmasked but may be masked."""
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    if length > MAX_MESSAGE:
        raise ProtocolError(f"frame of {length} bytes exceeds {MAX_MESSAGE}")
    key = await reader.readexactly(4) if second & 0x80 else None
    payload = await reader.readexactly(length)
    return bool(first & 0x80), first & 0x0F, _mask(payload, key) if key else payload


async def read_message(reader: asyncio.StreamReader) -> Message:
    """The next message: control frames as they come, data frames joined until the final one."""
    final, opcode, data = await read_frame(reader)
    if opcode >= CLOSE:
        return Message(opcode, data)
    parts = [data]
    while not final:
        final, continuation, more = await read_frame(reader)
        if continuation != CONTINUATION:
            raise ProtocolError(f"expected a continuation frame, got opcode {continuation}")
        parts.append(more)
    return Message(opcode, b"".join(parts))


def close_payload(code: int) -> bytes:
    return struct.pack("!H", code)
