"""CRI log lines as containerd writes them and the kubelet's log paths."""

from __future__ import annotations

from pathlib import Path

from kinn.kubelet.runtime.crilog import (FULL, PARTIAL, LineSplitter, container_log_path, format_line,
                                         format_timestamp)


def test_timestamp_is_utc_with_nine_fraction_digits() -> None:
    assert format_timestamp(1_704_067_200_000_000_000) == "2024-01-01T00:00:00.000000000Z"
    assert format_timestamp(1_704_067_200_000_001_500) == "2024-01-01T00:00:00.000001500Z"


def test_line_format() -> None:
    assert format_line(1_704_067_200_000_000_000, "stdout", FULL, b"hello world") == \
        b"2024-01-01T00:00:00.000000000Z stdout F hello world\n"
    assert format_line(1_704_067_200_123_456_789, "stderr", PARTIAL, b"") == \
        b"2024-01-01T00:00:00.123456789Z stderr P \n"


def test_lines_split_across_reads_and_line_endings_dropped() -> None:
    splitter = LineSplitter()
    assert list(splitter.feed(b"one\r\ntw")) == [(FULL, b"one")]
    assert list(splitter.feed(b"o\n\nthree")) == [(FULL, b"two"), (FULL, b"")]
    assert list(splitter.close()) == [(FULL, b"three")]
    assert list(splitter.close()) == []


def test_long_lines_become_partial_pieces() -> None:
    splitter = LineSplitter(max_size=4)
    assert list(splitter.feed(b"abcd\nabcdefghij")) == [(FULL, b"abcd"), (PARTIAL, b"abcd"), (PARTIAL, b"efgh")]
    assert list(splitter.feed(b"\n")) == [(FULL, b"ij")]


def test_log_path_layout() -> None:
    assert container_log_path(Path("/var/log/pods"), "default", "web", "1234-5678", "nginx", 2) == \
        Path("/var/log/pods/default_web_1234-5678/nginx/2.log")
