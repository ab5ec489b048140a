"""One cgroup per cluster and per node: how `kinn down` finds every process a cluster started.

A process's cgroup is inherited by everything it forks (agents, pause, containers, CNI plugins),
survives re-parenting and cannot be left by a daemonising child, so a cluster's processes are
exactly its cgroup's members — no PID files to trust, no name patterns. cgroup v2's
`cgroup.kill` (Linux ≥ 5.14) ends them all at once, as systemd and Docker stop a container.

On a host whose memory and cpu controllers are on cgroup v1 hierarchies (hybrid, like this
kind of machine), each node also gets a cgroup of its own in those, `kinn/<cluster>/<node>`
below the cgroup of whoever ran `kinn up`: the node's kubelet puts its containers' cgroups
(and so their limits) there, as a kind node's kubelet does in the cgroups Docker gave it. Where
they are is recorded in the cluster's state, for processes entering a node to join them; `kinn
down` finds them by name.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from kinn.cgroupfs import limit_hierarchies, mounted_hierarchies

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


@dataclass(frozen=True)
class V1Cgroup:
    """A cluster's cgroup in one v1 hierarchy: `path` on the host, and how a node mounts that
    hierarchy (`directory` under /sys/fs/cgroup, mount `options`) to see its own part of it."""

    path: str
    directory: str
    options: str

    def node(self, name: str) -> Path:
        return Path(self.path) / name


def own_cgroup(controllers: frozenset[str], proc_cgroup: str) -> PurePosixPath:
    """The caller's cgroup in the v1 hierarchy holding `controllers`, from /proc/self/cgroup text."""
    for line in proc_cgroup.splitlines():
        _, names, path = line.split(":", 2)
        if frozenset(names.split(",")) == controllers:
            return PurePosixPath(path)
    raise CgroupError(f"this process is in no cgroup of the {','.join(sorted(controllers))} hierarchy")


def create_v1(cluster: str, record: Path) -> None:
    """`kinn/<cluster>` below the caller's cgroup in each v1 hierarchy holding memory or cpu
    (none on a cgroup2-only host), written to `record`."""
    proc_cgroup = Path("/proc/self/cgroup").read_text()
    made = []
    for hierarchy in limit_hierarchies(mounted_hierarchies()):
        if hierarchy.version == 1:
            own = own_cgroup(hierarchy.controllers, proc_cgroup).relative_to("/")
            made.append(V1Cgroup(str(create(hierarchy.mount / own / "kinn" / cluster)), hierarchy.mount.name,
                                 hierarchy.options))
    record.write_text(json.dumps([asdict(cgroup) for cgroup in made]))


def recorded_v1(record: Path) -> list[V1Cgroup]:
    try:
        return [V1Cgroup(**entry) for entry in json.loads(record.read_text())]
    except FileNotFoundError:
        return []


def find_v1(cluster: str) -> list[Path]:
    """Every `kinn/<cluster>` cgroup in the v1 hierarchies holding memory or cpu, wherever it was made
    (found by name, as `kinn down` finds the rest of a cluster, so a lost state dir loses nothing)."""
    found = []
    for hierarchy in limit_hierarchies(mounted_hierarchies()):
        if hierarchy.version == 1:
            for directory, children, _ in os.walk(hierarchy.mount):
                if Path(directory).name == "kinn" and cluster in children:
                    found.append(Path(directory, cluster))
                    children.remove(cluster)
    return found


def remove_v1(cluster: str) -> list[Path]:
    """Remove the cluster's v1 cgroup trees (their processes ended with the cgroup2 ones), and their
    shared `kinn` parent once no cluster uses it; returns the trees removed."""
    removed = find_v1(cluster)
    for tree in removed:
        for directory, _, _ in sorted(os.walk(tree), key=lambda entry: -len(entry[0])):
            os.rmdir(directory)
        try:
            os.rmdir(tree.parent)
        except OSError:
            pass
    return removed
