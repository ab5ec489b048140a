"""Sandbox/container IDs, netns names, the pause build cache and /proc stat parsing."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from kinn.kubelet import nsutil, pause
from kinn.kubelet.sandbox import generate_id, netns_name


def test_ids_are_64_hex_characters_and_unique() -> None:
    ids = {generate_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in ids)


def test_netns_names_are_cni_uuid() -> None:
    assert re.fullmatch(r"cni-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", netns_name())
    assert netns_name() != netns_name()


def test_pause_is_built_once_and_rebuilt_when_the_source_changes(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "pause.c"
    source.write_bytes(pause.SOURCE.read_bytes())
    monkeypatch.setattr(pause, "SOURCE", source)
    binary = pause.ensure_pause_binary(tmp_path / "cache")
    assert binary.name == "pause" and os.access(binary, os.X_OK)
    assert subprocess.run([binary, "-v"], capture_output=True, text=True).stdout == f"pause.c {pause.PAUSE_VERSION}\n"
    built_at = binary.stat().st_mtime_ns
    assert pause.ensure_pause_binary(tmp_path / "cache").stat().st_mtime_ns == built_at
    source.write_text(source.read_text() + "\n/* changed */\n")
    rebuilt = pause.ensure_pause_binary(tmp_path / "cache")
    assert rebuilt != binary and rebuilt.parent.parent == binary.parent.parent
    assert not list((tmp_path / "cache").rglob(".pause-*"))


def test_pause_build_error_carries_gcc_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "pause.c"
    source.write_text("int main(void) { return missing; }\n")
    monkeypatch.setattr(pause, "SOURCE", source)
    with pytest.raises(pause.PauseBuildError, match="missing"):
        pause.ensure_pause_binary(tmp_path / "cache")


def test_process_start_time_identifies_a_live_process() -> None:
    start = nsutil.process_start_time(os.getpid())
    assert isinstance(start, int) and start > 0
    assert nsutil.process_start_time(2**22 + 1) is None  # above pid_max: never a process
