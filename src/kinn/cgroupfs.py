"""The cgroup hierarchies mounted here, v1 and v2, and the controllers each holds.

A cgroup2-only host has one hierarchy holding every controller; a cgroup v1 or hybrid host (like
this kind of machine) has one per controller group (`/sys/fs/cgroup/memory`, `…/cpu,cpuacct`)
beside a cgroup2 hierarchy holding what they do not. The kubelet reads this to know where limits
can be written; `kinn up` to give each node its own part of the v1 ones. Kept apart from the
kubelet's runtime so that entering a node imports nothing more than this.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

CONTROLLERS = ("memory", "cpu")  # the ones kinn sets: memory and CPU limits, CPU weight
_MOUNT_FLAGS = frozenset({"rw", "ro"})


@dataclass(frozen=True)
class Hierarchy:
    """A mounted cgroup hierarchy: where, which version, the controllers it offers, and (v1) the
    mount options that mount it again, as a container's own view."""

    mount: Path
    version: int
    controllers: frozenset[str]
    options: str = ""


def parse_mountinfo(text: str) -> list[tuple[Path, str, str]]:
    """(mount point, filesystem type, super options) of the cgroup mounts in /proc/<pid>/mountinfo text."""
    mounts = []
    for line in text.splitlines():
        before, _, after = line.partition(" - ")
        fstype, _, options = after.split()[:3]
        if fstype in ("cgroup", "cgroup2"):
            mounts.append((Path(before.split()[4]), fstype, options))
    return mounts


def v1_hierarchy(mount: Path, options: str, kernel_controllers: frozenset[str]) -> Hierarchy:
    """A v1 hierarchy from its super options (`rw,memory`, `rw,cpu,cpuacct`, `rw,xattr,name=systemd`):
    its controllers are those of the kernel's controllers (/proc/cgroups) among them."""
    names = [option for option in options.split(",") if option not in _MOUNT_FLAGS]
    return Hierarchy(mount, 1, frozenset(names) & kernel_controllers, ",".join(names))


def mounted_hierarchies() -> list[Hierarchy]:
    """The cgroup hierarchies mounted in this mount namespace."""
    kernel_controllers = frozenset(line.split()[0] for line in Path("/proc/cgroups").read_text().splitlines()
                                   if not line.startswith("#"))
    hierarchies = []
    for mount, fstype, options in parse_mountinfo(Path("/proc/self/mountinfo").read_text()):
        if fstype == "cgroup":
            hierarchies.append(v1_hierarchy(mount, options, kernel_controllers))
        else:
            controllers = (mount / "cgroup.controllers").read_text().split()
            hierarchies.append(Hierarchy(mount, 2, frozenset(controllers)))
    return hierarchies


def limit_hierarchies(hierarchies: Sequence[Hierarchy]) -> list[Hierarchy]:
    """The hierarchies that enforce limits: for each controller kinn sets, the one that holds it
    (a controller is attached to one hierarchy at most, v1 or v2)."""
    chosen: list[Hierarchy] = []
    for controller in CONTROLLERS:
        holder = next((h for h in hierarchies if controller in h.controllers), None)
        if holder is not None and holder not in chosen:
            chosen.append(holder)
    return chosen
