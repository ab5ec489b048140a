"""cgroup v2 limit values and the host-capability check that skips them."""

from __future__ import annotations

from pathlib import Path

from kinn.kubelet.runtime.cgroup import ResourceLimits, supports_limits


def test_limit_files_follow_the_kubelet() -> None:
    assert ResourceLimits(memory_bytes=64 * 2**20, cpu_millis=250).files() == \
        {"memory.max": "67108864", "cpu.max": "25000 100000"}
    assert ResourceLimits(cpu_millis=1).files() == {"cpu.max": "1000 100000"}  # the 1 ms quota floor
    assert ResourceLimits().files() == {}


def test_a_directory_outside_cgroup2_cannot_hold_limits(tmp_path: Path) -> None:
    assert not supports_limits(tmp_path / "kinn")
