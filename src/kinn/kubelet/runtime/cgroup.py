"""Per-container cgroup v2 limits (memory.max, cpu.max) under a kinn cgroup, when the host allows.

Many hosts (cgroup v1 or hybrid, or a v2 tree whose memory/cpu controllers are not delegated)
cannot do this; there the limits are skipped and the container runs unlimited, as the kubelet
does with cgroups disabled. `cgroup_parent` is a directory inside a mounted cgroup2 hierarchy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CONTROLLERS = ("memory", "cpu")
CPU_PERIOD = 100_000  # µs, the CFS period the kubelet uses
MIN_CPU_QUOTA = 1_000  # µs, the kubelet's floor (MinQuotaPeriod)


@dataclass(frozen=True)
class ResourceLimits:
    """A container's limits: memory in bytes, CPU in millicores (resources.limits)."""

    memory_bytes: int | None = None
    cpu_millis: int | None = None

    def files(self) -> dict[str, str]:
        """The cgroup v2 interface files and values that enforce these limits."""
        values = {}
        if self.memory_bytes is not None:
            values["memory.max"] = str(self.memory_bytes)
        if self.cpu_millis is not None:
            values["cpu.max"] = f"{max(self.cpu_millis * CPU_PERIOD // 1000, MIN_CPU_QUOTA)} {CPU_PERIOD}"
        return values


def cgroup2_mount() -> Path | None:
    """Where the cgroup2 hierarchy is mounted in this mount namespace, if it is."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        if after.split()[0] == "cgroup2":
            return Path(before.split()[4])
    return None


def supports_limits(parent: Path) -> bool:
    """True if `parent` lies in a cgroup2 hierarchy whose root offers the memory and cpu controllers."""
    mount = cgroup2_mount()
    if mount is None or not parent.is_relative_to(mount):
        return False
    available = (mount / "cgroup.controllers").read_text().split()
    return all(controller in available for controller in CONTROLLERS)


def _delegate(mount: Path, parent: Path) -> None:
    """Create `parent` and enable memory and cpu for the children of every cgroup from the root down."""
    enable = " ".join(f"+{controller}" for controller in CONTROLLERS)
    current = mount
    for part in parent.relative_to(mount).parts:
        (current / "cgroup.subtree_control").write_text(enable)
        current = current / part
        current.mkdir(exist_ok=True)
    (current / "cgroup.subtree_control").write_text(enable)


def create_cgroup(parent: Path, name: str, limits: ResourceLimits) -> Path | None:
    """Create `<parent>/<name>` with `limits`, or return None where the host cannot enforce them."""
    mount = cgroup2_mount()
    if mount is None or not supports_limits(parent):
        return None
    path = parent / name
    try:
        _delegate(mount, parent)
        path.mkdir()
        for filename, value in limits.files().items():
            (path / filename).write_text(value)
    except OSError:  # e.g. EBUSY: a cgroup on the way holds processes ("no internal processes" rule)
        remove_cgroup(path)
        return None
    return path


def oom_killed(path: Path) -> bool:
    """True if the kernel's OOM killer killed a process of this cgroup (memory.events oom_kill)."""
    events = dict(line.split() for line in (path / "memory.events").read_text().splitlines())
    return int(events.get("oom_kill", "0")) > 0


def remove_cgroup(path: Path) -> None:
    """Remove an emptied container cgroup; a cgroup still holding processes cannot be removed."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
