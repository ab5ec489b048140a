"""Container cgroups: what makes `resources.limits` (and `requests.cpu`) real, as the kubelet's
cgroupfs driver does it.

Each pod gets `kubepods[/burstable|/besteffort]/pod<uid>` and each of its containers
`<pod cgroup>/<container id>`, in every mounted hierarchy that holds a controller the kubelet
sets: the one cgroup2 hierarchy on a unified host (`memory.max`, `cpu.max`, `cpu.weight`), or the
per-controller hierarchies of a cgroup v1 or hybrid host (`memory/memory.limit_in_bytes`,
`cpu/cpu.cfs_quota_us`, `cpu/cpu.shares`). A controller that no hierarchy offers is not
enforced, as with the kubelet's cgroups disabled. A process exceeding its memory limit is killed
by the kernel's OOM killer, which the cgroup counts (`oom_kill`): that is how a container's
`OOMKilled` reason is known.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Sequence

from kinn.api.podresources import integers, pod_limits, pod_requests
from kinn.api.qos import qos_class
from kinn.cgroupfs import CONTROLLERS, Hierarchy

CPU_PERIOD = 100_000  # µs, the CFS period the kubelet uses
MIN_CPU_QUOTA = 1_000  # µs, the kubelet's floor (MinQuotaPeriod)
MIN_SHARES, MAX_SHARES, SHARES_PER_CPU = 2, 262_144, 1024
KUBEPODS = PurePosixPath("kubepods")


def cpu_shares(milli_cpu: int) -> int:
    """MilliCPUToShares: 1024 per CPU, at least 2 (what a pod requesting no CPU gets), at most 262144."""
    return min(max(milli_cpu * SHARES_PER_CPU // 1000, MIN_SHARES), MAX_SHARES)


def pod_cpu_request(spec: dict[str, Any]) -> int:
    """The pod's CPU request in millicores, as its cgroup's shares count it."""
    return pod_requests(spec).get("cpu", 0)


@dataclass(frozen=True)
class ResourceLimits:
    """A container's cgroup settings: memory and CPU limits (resources.limits), CPU weight (requests.cpu)."""

    memory_bytes: int | None = None
    cpu_millis: int | None = None
    cpu_shares: int | None = None

    @classmethod
    def of(cls, resources: dict[str, Any]) -> ResourceLimits:
        """From a container's `resources`, as the kubelet converts them (MilliCPUToQuota, MilliCPUToShares).

        Every container gets CPU shares: 2 (the minimum) when it requests no CPU, as BestEffort ones do."""
        limits = integers(resources.get("limits"))
        return cls(memory_bytes=limits.get("memory"), cpu_millis=limits.get("cpu"),
                   cpu_shares=cpu_shares(integers(resources.get("requests")).get("cpu", 0)))

    @classmethod
    def for_pod(cls, spec: dict[str, Any]) -> ResourceLimits:
        """The pod cgroup's settings (ResourceConfigForPod): CPU shares from the pod's CPU requests, so
        pods share CPU by what they request; a CPU or memory limit only if every container sets one."""
        containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
        limits = pod_limits(spec)

        def limit(name: str) -> int | None:
            declared = all(name in ((c.get("resources") or {}).get("limits") or {}) for c in containers)
            return limits.get(name) if declared else None
        return cls(memory_bytes=limit("memory"), cpu_millis=limit("cpu"), cpu_shares=cpu_shares(pod_cpu_request(spec)))

    @property
    def cpu_quota(self) -> int | None:
        """MilliCPUToQuota: the CPU limit as µs of CPU time per CFS period, at least MIN_CPU_QUOTA."""
        return None if self.cpu_millis is None else max(self.cpu_millis * CPU_PERIOD // 1000, MIN_CPU_QUOTA)

    def oci(self) -> dict[str, Any]:
        """As an OCI runtime spec's linux.resources shows them (what `crictl inspect` prints)."""
        resources: dict[str, Any] = {}
        if self.memory_bytes is not None:
            resources["memory"] = {"limit": self.memory_bytes}
        cpu = {"shares": self.cpu_shares} if self.cpu_shares is not None else {}
        if self.cpu_quota is not None:
            cpu.update(quota=self.cpu_quota, period=CPU_PERIOD)
        if cpu:
            resources["cpu"] = cpu
        return resources

    def files(self, version: int) -> dict[str, str]:
        """The interface files (named `<controller>.<setting>`) and values that enforce these settings."""
        values = {}
        if self.memory_bytes is not None:
            values["memory.max" if version == 2 else "memory.limit_in_bytes"] = str(self.memory_bytes)
        if self.cpu_quota is not None:
            if version == 2:
                values["cpu.max"] = f"{self.cpu_quota} {CPU_PERIOD}"
            else:
                values.update({"cpu.cfs_period_us": str(CPU_PERIOD), "cpu.cfs_quota_us": str(self.cpu_quota)})
        if self.cpu_shares is not None:
            if version == 2:  # the kubelet's shares → weight mapping (runc's ConvertCPUSharesToCgroupV2Value)
                values["cpu.weight"] = str(1 + (self.cpu_shares - MIN_SHARES) * 9999 // (MAX_SHARES - MIN_SHARES))
            else:
                values["cpu.shares"] = str(self.cpu_shares)
        return values


def pod_cgroup(uid: str, qos_class: str) -> PurePosixPath:
    """The pod's cgroup below the cgroup root, named as the kubelet's cgroupfs driver names it."""
    parent = KUBEPODS if qos_class == "Guaranteed" else KUBEPODS / qos_class.lower()
    return parent / f"pod{uid}"


@dataclass(frozen=True)
class CgroupRoot:
    """The kubelet's --cgroup-root in each hierarchy that enforces limits: where kubepods lives."""

    hierarchies: tuple[Hierarchy, ...]
    path: PurePosixPath  # relative to each hierarchy's mount point

    def pod(self, uid: str, spec: dict[str, Any]) -> CgroupParent:
        path = self.path / pod_cgroup(uid, qos_class(spec))
        return CgroupParent(self.hierarchies, path, ResourceLimits.for_pod(spec))

    def create_qos_cgroups(self, allocatable_milli_cpu: int) -> None:
        """kubepods (CPU shares of the node's allocatable CPU) and its burstable and besteffort children
        (the least shares: BestEffort pods get CPU only when nobody else wants it; burstable's follow
        its pods), as the kubelet makes them at start; OSError if the host will not let it make
        cgroups there (then it enforces nothing)."""
        kubepods = self.path / KUBEPODS
        for hierarchy in self.hierarchies:
            for path, limits in ((kubepods, ResourceLimits(cpu_shares=cpu_shares(allocatable_milli_cpu))),
                                 (kubepods / "burstable", ResourceLimits(cpu_shares=MIN_SHARES)),
                                 (kubepods / "besteffort", ResourceLimits(cpu_shares=MIN_SHARES))):
                _make(hierarchy, hierarchy.mount / path)
                _write(hierarchy, hierarchy.mount / path, limits)

    def update_qos_cgroups(self, specs: Iterable[dict[str, Any]]) -> None:
        """UpdateCgroups: kubepods/burstable gets the shares of its pods' summed CPU requests, so that
        together they weigh against Guaranteed pods (each its own shares) by what they request."""
        burstable = sum(pod_cpu_request(spec) for spec in specs if qos_class(spec) == "Burstable")
        limits = ResourceLimits(cpu_shares=cpu_shares(burstable))
        for hierarchy in self.hierarchies:
            _write(hierarchy, hierarchy.mount / self.path / KUBEPODS / "burstable", limits)

    def controllers(self) -> list[str]:
        """The controllers whose settings are enforced."""
        return [controller for controller in CONTROLLERS if any(controller in h.controllers for h in self.hierarchies)]


@dataclass(frozen=True)
class CgroupParent:
    """Where a pod's containers get their cgroups: the pod's cgroup in each of the node's limit hierarchies."""

    hierarchies: tuple[Hierarchy, ...]
    path: PurePosixPath
    limits: ResourceLimits = ResourceLimits()  # the pod cgroup's own (ResourceLimits.for_pod)

    @property
    def v1_mounts(self) -> list[tuple[str, str]]:
        """(directory under /sys/fs/cgroup, mount options) of the v1 hierarchies: a container's view mirrors them."""
        return [(hierarchy.mount.name, hierarchy.options) for hierarchy in self.hierarchies if hierarchy.version == 1]

    def remove(self) -> None:
        """Remove the pod's cgroups once its containers' are gone (StopPodSandbox)."""
        remove_cgroup([hierarchy.mount / self.path for hierarchy in self.hierarchies])


def _make(hierarchy: Hierarchy, path: Path) -> None:
    """Create `path` (and its parents) in `hierarchy`. On cgroup2 a controller reaches a cgroup only if
    its parent's cgroup.subtree_control enables it, so memory and cpu are enabled on the way down."""
    if hierarchy.version == 1:
        path.mkdir(parents=True, exist_ok=True)
        return
    enable = " ".join(f"+{controller}" for controller in CONTROLLERS if controller in hierarchy.controllers)
    current = hierarchy.mount
    for part in path.relative_to(hierarchy.mount).parts:
        (current / "cgroup.subtree_control").write_text(enable)
        current = current / part
        current.mkdir(exist_ok=True)


@dataclass(frozen=True)
class ContainerCgroup:
    """A container's cgroup: one directory per hierarchy (the same relative path in each)."""

    relative: PurePosixPath  # below each hierarchy's root: the OCI spec's cgroupsPath
    paths: tuple[Path, ...]
    versions: tuple[int, ...]

    @property
    def procs_files(self) -> list[Path]:
        """The files a process writes "0" to, to move itself in."""
        return [path / "cgroup.procs" for path in self.paths]

    def oom_killed(self) -> bool:
        """True if the kernel's OOM killer killed a process of this cgroup (oom_kill in memory.events
        on v2, memory.oom_control on v1)."""
        for path, version in zip(self.paths, self.versions):
            events = path / ("memory.events" if version == 2 else "memory.oom_control")
            if events.exists():
                counters = dict(line.split() for line in events.read_text().splitlines())
                return int(counters.get("oom_kill", "0")) > 0
        return False

    def pids(self) -> set[int]:
        """The processes in the container's cgroups."""
        pids: set[int] = set()
        for procs in self.procs_files:
            try:
                pids.update(int(pid) for pid in procs.read_text().split())
            except FileNotFoundError:
                continue
        return pids

    def kill(self) -> None:
        """SIGKILL every process left in the cgroup, as the end of a container's PID namespace ends
        them all: daemons that left the container's process group (setsid) included."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def remove(self) -> None:
        remove_cgroup(self.paths)


def _write(hierarchy: Hierarchy, path: Path, limits: ResourceLimits) -> None:
    """Write the settings of `limits` that this hierarchy's controllers enforce."""
    for filename, setting in limits.files(hierarchy.version).items():
        if filename.split(".")[0] in hierarchy.controllers:
            (path / filename).write_text(setting)


def create_cgroup(parent: CgroupParent, name: str, limits: ResourceLimits) -> ContainerCgroup:
    """Create the container's cgroup `name` in its pod's, in every hierarchy, with `limits` (and the
    pod cgroup's settings). Raises OSError (after removing what it made) if the host refuses."""
    hierarchies, relative, pod_limits = parent.hierarchies, parent.path / name, parent.limits
    made: list[Path] = []
    try:
        for hierarchy in hierarchies:
            path = hierarchy.mount / relative
            _make(hierarchy, path.parent)
            _write(hierarchy, path.parent, pod_limits)
            path.mkdir()
            made.append(path)
            _write(hierarchy, path, limits)
    except OSError:
        remove_cgroup(made)
        raise
    return ContainerCgroup(relative, tuple(made), tuple(h.version for h in hierarchies))


def remove_cgroup(paths: Sequence[Path]) -> None:
    """Remove emptied cgroups; one still holding processes (or child cgroups) stays, silently."""
    for path in paths:
        try:
            os.rmdir(path)
        except OSError:
            pass
