"""One cgroup per cluster and per node: how `kinn down` finds every process a cluster started.

A process's cgroup is inherited by everything it forks (agents, pause, containers, CNI plugins),
survives re-parenting and cannot be left by a daemonising child, so a cluster's processes are
exactly its cgroup's members — no PID files to trust, no name patterns. cgroup v2's
`cgroup.kill` (Linux ≥ 5.14) ends them all at once, as systemd and Docker stop a container.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

KILL_TIMEOUT = 10.0


class CgroupError(OSError):
    """The cgroup tree cannot be created or emptied."""


def create(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def join(path: Path) -> None:
    """Move the calling process into `path` (used between fork and exec: "0" means "me")."""
    with open(path / "cgroup.procs", "w") as procs:
        procs.write("0")


def members(path: Path) -> list[int]:
    """PIDs in `path` and every cgroup below it."""
    pids: list[int] = []
    for directory, _, _ in os.walk(path):
        try:
            pids += [int(line) for line in Path(directory, "cgroup.procs").read_text().split()]
        except FileNotFoundError:
            continue
    return pids


def populated(path: Path) -> bool:
    """cgroup.events' `populated`: true while any process of the subtree lives or awaits reaping."""
    events = dict(line.split() for line in (path / "cgroup.events").read_text().splitlines())
    return events.get("populated") == "1"


def kill_and_remove(path: Path, timeout: float = KILL_TIMEOUT) -> None:
    """SIGKILL every member (recursively), wait until they are gone, then remove the cgroups."""
    if not path.exists():
        return
    (path / "cgroup.kill").write_text("1")
    deadline = time.monotonic() + timeout
    while populated(path):  # until exited *and* reaped: a cgroup holding zombies cannot be removed
        if time.monotonic() > deadline:
            raise CgroupError(f"processes {members(path)} in {path} survived SIGKILL for {timeout}s")
        time.sleep(0.02)
    for directory, _, _ in sorted(os.walk(path), key=lambda entry: -len(entry[0])):
        os.rmdir(directory)
