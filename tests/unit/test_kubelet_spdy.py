"""SPDY/3.1 frames and header blocks (kinn.kubelet.spdy): what kubectl port-forward's streams travel in."""

from __future__ import annotations

import struct
import zlib

import pytest

from kinn.kubelet import spdy

PORT_FORWARD_HEADERS = {"streamtype": ["data"], "port": ["8080"], "requestid": ["0"]}


def round_trip(frame: spdy.Frame) -> spdy.Frame:
    sender, receiver = spdy.FrameCodec(), spdy.FrameCodec()
    (decoded,) = receiver.feed(sender.encode(frame))
    return decoded


@pytest.mark.parametrize("frame", [
    spdy.DataFrame(1, b"GET / HTTP/1.0\r\n\r\n"),
    spdy.DataFrame(3, b"", spdy.FLAG_FIN),
    spdy.SynStream(1, PORT_FORWARD_HEADERS, priority=0),
    spdy.SynStream(5, {"streamtype": ["error"], "multi": ["a", "b"]}, spdy.FLAG_FIN, associated_id=3, priority=7),
    spdy.SynReply(1),
    spdy.SynReply(7, {"status": ["200"]}, spdy.FLAG_FIN),
    spdy.RstStream(3, spdy.CANCEL),
    spdy.Ping(2),
    spdy.GoAway(9, 0),
    spdy.WindowUpdate(1, 65536),
    spdy.Settings(((0, 7, 65536), (1, 4, 100))),
])
def test_frames_round_trip(frame: spdy.Frame) -> None:
    assert round_trip(frame) == frame


def test_control_frame_header_is_the_specs() -> None:
    """1 | version 3 | type | flags | 24-bit length, then the type's fields."""
    assert spdy.FrameCodec().encode(spdy.RstStream(3, spdy.CANCEL)) == bytes.fromhex(
        "8003 0003 00000008 00000003 00000005")
    assert spdy.FrameCodec().encode(spdy.Ping(1)) == bytes.fromhex("8003 0006 00000004 00000001")
    assert spdy.FrameCodec().encode(spdy.DataFrame(5, b"hi", spdy.FLAG_FIN)) == bytes.fromhex(
        "00000005 01000002 6869")


def test_header_block_layout() -> None:
    """Counts and lengths are 32-bit; names lowercase; several values of one name joined by NUL."""
    block = spdy.encode_header_block({"Port": ["80"], "x": ["a", "b"]})
    assert block == (struct.pack("!I", 2) + struct.pack("!I", 4) + b"port" + struct.pack("!I", 2) + b"80"
                     + struct.pack("!I", 1) + b"x" + struct.pack("!I", 3) + b"a\0b")
    assert spdy.decode_header_block(block) == {"port": ["80"], "x": ["a", "b"]}


def test_dictionary_is_the_spdy3_one() -> None:
    """Length-prefixed names first ("options", "head" …), the status/date text last; a peer checks
    the dictionary by its Adler-32, which the zlib header of every compressed stream names."""
    assert spdy.DICTIONARY.startswith(b"\0\0\0\x07options\0\0\0\x04head\0\0\0\x04post")
    assert b"\0\0\0\x06200 OK\0\0\0\x07version\0\0\0\x08HTTP/1.1" in spdy.DICTIONARY
    assert spdy.DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")
    compressed = spdy.HeaderCompressor().compress(PORT_FORWARD_HEADERS)
    assert compressed[2:6] == struct.pack("!I", zlib.adler32(spdy.DICTIONARY))  # FDICT's DICTID


def test_header_compression_context_is_shared_per_direction() -> None:
    """The second block only inflates after the first: one zlib stream per connection direction."""
    compressor = spdy.HeaderCompressor()
    first, second = compressor.compress(PORT_FORWARD_HEADERS), compressor.compress(PORT_FORWARD_HEADERS)
    assert len(second) < len(first)  # the repeat is a back-reference
    decompressor = spdy.HeaderDecompressor()
    assert decompressor.decompress(first) == decompressor.decompress(second) == PORT_FORWARD_HEADERS
    with pytest.raises(spdy.ProtocolError):
        spdy.HeaderDecompressor().decompress(second)


def test_feed_waits_for_whole_frames_and_skips_unknown_types() -> None:
    sender, receiver = spdy.FrameCodec(), spdy.FrameCodec()
    wire = (sender.encode(spdy.SynStream(1, PORT_FORWARD_HEADERS)) + bytes.fromhex("8003 000a 00000000")
            + sender.encode(spdy.DataFrame(1, b"payload")))
    frames = [frame for byte in range(len(wire)) for frame in receiver.feed(wire[byte:byte + 1])]
    assert frames == [spdy.SynStream(1, PORT_FORWARD_HEADERS), spdy.DataFrame(1, b"payload")]


def test_other_versions_are_refused() -> None:
    with pytest.raises(spdy.ProtocolError, match="unsupported SPDY version 2"):
        spdy.FrameCodec().feed(bytes.fromhex("8002 0006 00000004 00000001"))
