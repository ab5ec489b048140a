"""Container cgroup settings as the kubelet computes them, the hierarchies found in mountinfo, and
where pods and clusters put their cgroups."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from kinn.cgroupfs import Hierarchy, limit_hierarchies, parse_mountinfo, v1_hierarchy
from kinn.cluster.cgroups import CgroupError, own_cgroup
from kinn.kubelet.runtime.cgroup import CgroupRoot, ResourceLimits, pod_cgroup

# /proc/self/mountinfo of a hybrid host: cgroup v1 controllers, cgroup2 (without them) at unified.
HYBRID = """\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 25 0:24 / /sys/fs/cgroup rw,relatime shared:8 - tmpfs tmpfs rw,mode=755
27 26 0:25 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu
28 26 0:26 / /sys/fs/cgroup/memory rw,relatime shared:10 - cgroup cgroup rw,memory
29 26 0:27 / /sys/fs/cgroup/systemd rw,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
30 26 0:28 / /sys/fs/cgroup/unified rw,relatime shared:12 - cgroup2 cgroup2 rw
31 26 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
"""


def test_limits_follow_the_kubelet_on_cgroup_v2() -> None:
    assert ResourceLimits(memory_bytes=64 * 2**20, cpu_millis=250, cpu_shares=256).files(2) == \
        {"memory.max": "67108864", "cpu.max": "25000 100000", "cpu.weight": "10"}
    assert ResourceLimits(cpu_millis=1).files(2) == {"cpu.max": "1000 100000"}  # the 1 ms quota floor
    assert ResourceLimits(cpu_shares=2).files(2) == {"cpu.weight": "1"}
    assert ResourceLimits(cpu_shares=262144).files(2) == {"cpu.weight": "10000"}
    assert ResourceLimits().files(2) == {}


def test_limits_follow_the_kubelet_on_cgroup_v1() -> None:
    assert ResourceLimits(memory_bytes=64 * 2**20, cpu_millis=100, cpu_shares=102).files(1) == \
        {"memory.limit_in_bytes": "67108864", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "10000",
         "cpu.shares": "102"}


def test_limits_from_a_containers_resources() -> None:
    """Quantities as the API stores them; CPU shares from requests (2 when none, as for BestEffort)."""
    assert ResourceLimits.of({"limits": {"memory": "64Mi", "cpu": "250m"}, "requests": {"cpu": "100m"}}) == \
        ResourceLimits(memory_bytes=67108864, cpu_millis=250, cpu_shares=102)
    assert ResourceLimits.of({"limits": {"memory": "1G", "cpu": "2"}, "requests": {"cpu": "2"}}) == \
        ResourceLimits(memory_bytes=10**9, cpu_millis=2000, cpu_shares=2048)
    assert ResourceLimits.of({}) == ResourceLimits(cpu_shares=2)
    assert ResourceLimits.of({"requests": {"cpu": "1m"}}).cpu_shares == 2
    assert ResourceLimits.of({"requests": {"cpu": "1000"}}).cpu_shares == 262144


def test_cgroup_mounts_and_their_controllers() -> None:
    mounts = parse_mountinfo(HYBRID)
    assert [(str(m), fstype) for m, fstype, _ in mounts] == [
        ("/sys/fs/cgroup/cpu", "cgroup"), ("/sys/fs/cgroup/memory", "cgroup"), ("/sys/fs/cgroup/systemd", "cgroup"),
        ("/sys/fs/cgroup/unified", "cgroup2"), ("/sys/fs/cgroup/cpu,cpuacct", "cgroup")]
    kernel = frozenset({"cpu", "cpuacct", "memory", "pids"})
    assert v1_hierarchy(Path("/sys/fs/cgroup/cpu,cpuacct"), "rw,cpu,cpuacct", kernel) == \
        Hierarchy(Path("/sys/fs/cgroup/cpu,cpuacct"), 1, frozenset({"cpu", "cpuacct"}), "cpu,cpuacct")
    named = v1_hierarchy(Path("/sys/fs/cgroup/systemd"), "rw,xattr,name=systemd", kernel)
    assert named == Hierarchy(Path("/sys/fs/cgroup/systemd"), 1, frozenset(), "xattr,name=systemd")


def test_limits_go_to_the_hierarchy_that_holds_each_controller() -> None:
    """On a hybrid host memory and cpu are v1 hierarchies and cgroup2 has neither; on a unified one,
    cgroup2 holds both and is used once."""
    memory = Hierarchy(Path("/sys/fs/cgroup/memory"), 1, frozenset({"memory"}), "memory")
    cpu = Hierarchy(Path("/sys/fs/cgroup/cpu,cpuacct"), 1, frozenset({"cpu", "cpuacct"}), "cpu,cpuacct")
    empty_v2 = Hierarchy(Path("/sys/fs/cgroup/unified"), 2, frozenset())
    assert limit_hierarchies([empty_v2, cpu, memory]) == [memory, cpu]
    unified = Hierarchy(Path("/sys/fs/cgroup"), 2, frozenset({"cpuset", "cpu", "io", "memory", "pids"}))
    assert limit_hierarchies([unified]) == [unified]
    assert limit_hierarchies([empty_v2]) == []
    assert CgroupRoot((memory,), PurePosixPath(".")).controllers() == ["memory"]


def test_pod_cgroups_are_named_by_qos_class() -> None:
    """The cgroupfs driver's names: Guaranteed pods directly under kubepods, the others in their class."""
    assert pod_cgroup("u-1", "Guaranteed") == PurePosixPath("kubepods/podu-1")
    assert pod_cgroup("u-1", "Burstable") == PurePosixPath("kubepods/burstable/podu-1")
    assert pod_cgroup("u-1", "BestEffort") == PurePosixPath("kubepods/besteffort/podu-1")
    memory = Hierarchy(Path("/sys/fs/cgroup/memory"), 1, frozenset({"memory"}), "memory")
    burstable = {"containers": [{"name": "a", "resources": {"requests": {"memory": "16Mi"}}}]}
    parent = CgroupRoot((memory,), PurePosixPath("node")).pod("u-1", burstable)
    assert parent.path == PurePosixPath("node/kubepods/burstable/podu-1")
    assert parent.v1_mounts == [("memory", "memory")]


def container(name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None,
              **fields: str) -> dict:
    return {"name": name, "resources": {"requests": requests or {}, "limits": limits or {}}, **fields}


def test_a_pods_cgroup_shares_cpu_by_its_requests_and_limits_only_what_every_container_limits() -> None:
    """ResourceConfigForPod: shares from the summed CPU requests; a memory or CPU limit on the pod
    cgroup only when every container (init containers too) sets one, summed."""
    guaranteed = {"containers": [container("a", {"cpu": "500m", "memory": "64Mi"}, {"cpu": "500m", "memory": "64Mi"}),
                                 container("b", {"cpu": "1", "memory": "32Mi"}, {"cpu": "1", "memory": "32Mi"})]}
    assert ResourceLimits.for_pod(guaranteed) == ResourceLimits(memory_bytes=96 * 2**20, cpu_millis=1500,
                                                                cpu_shares=1536)
    partly = {"containers": [container("a", {"cpu": "100m"}, {"memory": "64Mi"}), container("b", {"cpu": "100m"})]}
    assert ResourceLimits.for_pod(partly) == ResourceLimits(cpu_shares=204)
    assert ResourceLimits.for_pod({"containers": [container("a")]}) == ResourceLimits(cpu_shares=2)


def test_a_pods_needs_count_init_containers_and_sidecars_as_the_scheduler_does() -> None:
    """An init container needing more than the app containers raises the pod's total; a sidecar keeps
    running beside them, so it adds to it."""
    spec = {"initContainers": [container("setup", {"cpu": "2"}, {"memory": "256Mi"}),
                               container("side", {"cpu": "100m"}, {"memory": "16Mi"}, restartPolicy="Always")],
            "containers": [container("app", {"cpu": "250m"}, {"memory": "64Mi"})]}
    assert ResourceLimits.for_pod(spec) == ResourceLimits(memory_bytes=256 * 2**20, cpu_shares=2048)
    spec["initContainers"][0] = container("setup", {"cpu": "10m"}, {"memory": "8Mi"})
    assert ResourceLimits.for_pod(spec) == ResourceLimits(memory_bytes=80 * 2**20, cpu_shares=358)


def test_a_cluster_nests_its_v1_cgroups_under_the_callers() -> None:
    proc = "9:name=systemd:/user.slice\n4:memory:/process_api/abc\n3:cpu,cpuacct:/\n0::/user.slice\n"
    assert own_cgroup(frozenset({"memory"}), proc) == PurePosixPath("/process_api/abc")
    assert own_cgroup(frozenset({"cpuacct", "cpu"}), proc) == PurePosixPath("/")
    with pytest.raises(CgroupError):
        own_cgroup(frozenset({"pids"}), proc)


def test_burstables_shares_are_what_its_pods_request_together(tmp_path: Path) -> None:
    """Written to a plain directory standing in for the cpu hierarchy: the kubelet's arithmetic, not the kernel's."""
    root = CgroupRoot((Hierarchy(tmp_path, 1, frozenset({"cpu"}), "cpu"),), PurePosixPath("."))
    root.create_qos_cgroups(2000)
    shares = tmp_path / "kubepods" / "burstable" / "cpu.shares"
    assert [(tmp_path / "kubepods" / name / "cpu.shares").read_text() for name in ("", "burstable", "besteffort")] \
        == ["2048", "2", "2"]

    def pod(requests: dict[str, str], limits: dict[str, str] | None = None) -> dict:
        return {"containers": [{"name": "c", "resources": {"requests": requests, "limits": limits or {}}}]}
    guaranteed = pod({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})
    root.update_qos_cgroups([pod({"cpu": "250m"}), pod({"cpu": "500m", "memory": "1Gi"}), guaranteed, pod({})])
    assert shares.read_text() == "768"  # 750m of Burstable requests; the Guaranteed and BestEffort pods do not count
    root.update_qos_cgroups([guaranteed])
    assert shares.read_text() == "2"
