"""SPDY/3.1 framing, sans I/O: what `kubectl port-forward` speaks to the kubelet (spdystream's wire format).

A frame has an 8-byte header. Control frames: `1 | version(15) | type(16) | flags(8) | length(24)`;
data frames: `0 | stream-id(31) | flags(8) | length(24)`. SYN_STREAM and SYN_REPLY carry a header
block (a count, then length-prefixed names and values, all 32-bit big-endian, multiple values
joined by NUL) compressed with zlib seeded with the SPDY/3 dictionary; each direction is one zlib
stream for the whole connection, flushed (Z_SYNC_FLUSH) at the end of every block, so the
compressor and decompressor are per connection and blocks must be handled in order.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
PROTOCOL_ERROR, CANCEL = 1, 5  # RST_STREAM status codes

# The SPDY/3 spec's zlib dictionary (1423 bytes): common header names and values, each
# length-prefixed, then a run of status codes, reasons and dates.
_NAMES = (*(b"options head post put delete trace accept accept-charset accept-encoding accept-language "
          b"accept-ranges age allow authorization cache-control connection content-base content-encoding "
          b"content-language content-length content-location content-md5 content-range content-type date etag "
          b"expect expires from host if-match if-modified-since if-none-match if-range if-unmodified-since "
          b"last-modified location max-forwards pragma proxy-authenticate proxy-authorization range referer "
          b"retry-after server te trailer transfer-encoding upgrade user-agent vary via warning www-authenticate "
          b"method get status").split(), b"200 OK",
           *b"version HTTP/1.1 url public set-cookie keep-alive origin".split())
_TEXT = (b"100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
         b"203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
         b"403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
         b"Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
         b"chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
         b"text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack("!I", len(name)) + name for name in _NAMES) + _TEXT

Headers = dict[str, list[str]]


class ProtocolError(Exception):
    """The peer broke SPDY's framing rules; the connection cannot go on."""


@dataclass(frozen=True)
class DataFrame:
    stream_id: int
    data: bytes
    flags: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers
    flags: int = 0
    associated_id: int = 0
    priority: int = 0


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Ping:
    id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = 0


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int


@dataclass(frozen=True)
class Settings:
    entries: tuple[tuple[int, int, int], ...]  # (flags, id, value)
    flags: int = 0


Frame = DataFrame | SynStream | SynReply | RstStream | Ping | GoAway | WindowUpdate | Settings


# -- header blocks ------------------------------------------------------------------------

def encode_header_block(headers: Headers) -> bytes:
    """The uncompressed block; names are lowercase on the wire, as SPDY/3 requires."""
    parts = [struct.pack("!I", len(headers))]
    for name, values in headers.items():
        key, value = name.lower().encode(), "\0".join(values).encode()
        parts += [struct.pack("!I", len(key)), key, struct.pack("!I", len(value)), value]
    return b"".join(parts)


def decode_header_block(block: bytes) -> Headers:
    headers: Headers = {}
    try:
        (count,), offset = struct.unpack_from("!I", block), 4
        for _ in range(count):
            (size,) = struct.unpack_from("!I", block, offset)
            name = block[offset + 4:offset + 4 + size].decode().lower()
            offset += 4 + size
            (size,) = struct.unpack_from("!I", block, offset)
            value = block[offset + 4:offset + 4 + size].decode()
            offset += 4 + size
            headers.setdefault(name, []).extend(value.split("\0"))
    except (struct.error, UnicodeDecodeError) as error:
        raise ProtocolError(f"malformed header block: {error}") from None
    return headers


class HeaderCompressor:
    """One direction's zlib stream, shared by every header block of the connection."""

    def __init__(self) -> None:
        self._zlib = zlib.compressobj(zdict=DICTIONARY)

    def compress(self, headers: Headers) -> bytes:
        return self._zlib.compress(encode_header_block(headers)) + self._zlib.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    def __init__(self) -> None:
        self._zlib = zlib.decompressobj(zdict=DICTIONARY)

    def decompress(self, data: bytes) -> Headers:
        try:
            return decode_header_block(self._zlib.decompress(data))
        except zlib.error as error:
            raise ProtocolError(f"header block does not inflate: {error}") from None


# -- frames -------------------------------------------------------------------------------

def _control(kind: int, flags: int, payload: bytes) -> bytes:
    return struct.pack("!HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


class FrameCodec:
    """Both directions of one connection: `encode` what we send, `feed` what we receive."""

    def __init__(self) -> None:
        self._compressor = HeaderCompressor()
        self._decompressor = HeaderDecompressor()
        self._buffer = bytearray()

    def encode(self, frame: Frame) -> bytes:
        """Header blocks are compressed here, so frames must be written in the order encoded."""
        match frame:
            case DataFrame(stream_id, data, flags):
                return struct.pack("!II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data
            case SynStream(stream_id, headers, flags, associated_id, priority):
                payload = struct.pack("!IIBB", stream_id, associated_id, priority << 5, 0)
                return _control(SYN_STREAM, flags, payload + self._compressor.compress(headers))
            case SynReply(stream_id, headers, flags):
                return _control(SYN_REPLY, flags, struct.pack("!I", stream_id) + self._compressor.compress(headers))
            case RstStream(stream_id, status):
                return _control(RST_STREAM, 0, struct.pack("!II", stream_id, status))
            case Ping(ping_id):
                return _control(PING, 0, struct.pack("!I", ping_id))
            case GoAway(last_good, status):
                return _control(GOAWAY, 0, struct.pack("!II", last_good, status))
            case WindowUpdate(stream_id, delta):
                return _control(WINDOW_UPDATE, 0, struct.pack("!II", stream_id, delta))
            case Settings(entries, flags):
                payload = struct.pack("!I", len(entries)) + b"".join(
                    struct.pack("!I", (entry_flags << 24) | entry_id) + struct.pack("!I", value)
                    for entry_flags, entry_id, value in entries)
                return _control(SETTINGS, flags, payload)
        raise TypeError(f"not a SPDY frame: {frame!r}")

    def feed(self, data: bytes) -> list[Frame]:
        """The frames completed by `data`; a partial frame waits for more. Unknown control frame
        types (HEADERS, CREDENTIAL) are skipped, as the spec says a receiver must ignore them."""
        self._buffer += data
        frames = []
        while len(self._buffer) >= 8:
            first, second = struct.unpack_from("!II", self._buffer)
            length = second & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            frame = self._decode(first, second >> 24, payload)
            if frame is not None:
                frames.append(frame)
        return frames

    def _decode(self, first: int, flags: int, payload: bytes) -> Frame | None:
        if not first & 0x80000000:
            return DataFrame(first, payload, flags)
        version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise ProtocolError(f"unsupported SPDY version {version}")
        try:
            return self._decode_control(kind, flags, payload)
        except struct.error:
            raise ProtocolError(f"control frame of type {kind} too short ({len(payload)} bytes)") from None

    def _decode_control(self, kind: int, flags: int, payload: bytes) -> Frame | None:
        if kind == SYN_STREAM:
            stream_id, associated_id, priority = struct.unpack_from("!IIB", payload)
            return SynStream(stream_id & 0x7FFFFFFF, self._decompressor.decompress(payload[10:]), flags,
                             associated_id & 0x7FFFFFFF, priority >> 5)
        if kind == SYN_REPLY:
            (stream_id,) = struct.unpack_from("!I", payload)
            return SynReply(stream_id & 0x7FFFFFFF, self._decompressor.decompress(payload[4:]), flags)
        if kind == HEADERS:  # ignored, but its block still advances the shared zlib stream
            self._decompressor.decompress(payload[4:])
            return None
        if kind == RST_STREAM:
            stream_id, status = struct.unpack_from("!II", payload)
            return RstStream(stream_id & 0x7FFFFFFF, status)
        if kind == PING:
            return Ping(struct.unpack_from("!I", payload)[0])
        if kind == GOAWAY:
            last_good, status = struct.unpack_from("!II", payload)
            return GoAway(last_good & 0x7FFFFFFF, status)
        if kind == WINDOW_UPDATE:
            stream_id, delta = struct.unpack_from("!II", payload)
            return WindowUpdate(stream_id & 0x7FFFFFFF, delta & 0x7FFFFFFF)
        if kind == SETTINGS:
            (count,) = struct.unpack_from("!I", payload)
            entries = []
            for index in range(count):
                head, value = struct.unpack_from("!II", payload, 4 + 8 * index)
                entries.append((head >> 24, head & 0xFFFFFF, value))
            return Settings(tuple(entries), flags)
        return None
