"""`resources.limits` enforced by the kernel: each container in a cgroup of its own under
kubepods/…/pod<uid> in its node's cgroups, a memory limit the OOM killer enforces (`OOMKilled`), a
CPU limit the CFS throttles, and the container's own view of /sys/fs/cgroup showing its limits.

This host has its memory and cpu controllers on cgroup v1 hierarchies (hybrid), so that is what
these tests see; `kinn up` on a host without any usable hierarchy runs pods unlimited (the kubelet
logs it) and these tests are skipped there.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from kinn.api.quantity import milli_value
from kinn.cluster.cgroups import find_v1
from kinn.cgroupfs import limit_hierarchies, mounted_hierarchies
from kinn_cluster import KinnCluster, kinn_up
from kubectl_output import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    not any(h.version == 1 for h in limit_hierarchies(mounted_hierarchies())),
    reason="the host has no cgroup v1 memory or cpu hierarchy (a unified host: untested)")]

ALLOCATE = "b = bytearray(200 * 2**20); print('allocated', len(b))"  # touches every page: 200 MiB resident


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinnCluster]:
    home = tmp_path_factory.mktemp("limits")
    with kinn_up(KinnCluster(f"kr{uuid.uuid4().hex[:6]}", home, home / "kubeconfig"), "--workers", "1") as c:
        yield c


def create(cluster: KinnCluster, name: str, command: list[str], resources: dict[str, Any], image: str = "python",
           restart: str = "Never", **spec: Any) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"nodeName": "worker-1", "restartPolicy": restart, "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "main", "image": image, "command": command, "resources": resources}],
                    **spec}}
    cluster.kubectl("create", "-f", "-", input=json.dumps(pod))


def terminated(cluster: KinnCluster, name: str) -> dict[str, Any]:
    def state() -> dict[str, Any] | None:
        statuses = cluster.pod(name)["status"].get("containerStatuses") or [{}]
        return statuses[0].get("state", {}).get("terminated")
    return wait_until(state, timeout=60, what=f"{name}'s container terminated")


def test_a_container_over_its_memory_limit_is_oom_killed(cluster: KinnCluster) -> None:
    """The same program is killed by the kernel with a 64Mi limit (exit 137, reason OOMKilled, as kubectl
    shows it) and runs to completion without one: the limit, nothing else, killed it."""
    create(cluster, "hog", ["python3", "-c", ALLOCATE], {"limits": {"memory": "64Mi"}})
    create(cluster, "free", ["python3", "-c", ALLOCATE], {})
    hog = terminated(cluster, "hog")
    assert (hog["reason"], hog["exitCode"]) == ("OOMKilled", 137)
    assert cluster.kubectl("get", "pod", "hog", "--no-headers").split()[2] == "OOMKilled"
    free = terminated(cluster, "free")
    assert (free["reason"], free["exitCode"]) == ("Completed", 0)
    assert cluster.kubectl("logs", "free").strip() == f"allocated {200 * 2**20}"


def test_a_restarted_container_remembers_it_was_oom_killed(cluster: KinnCluster) -> None:
    """restartPolicy Always: the container comes back and lastState says why it went."""
    create(cluster, "again", ["python3", "-c", f"import time; time.sleep(0.5); {ALLOCATE}"],
           {"limits": {"memory": "64Mi"}}, restart="Always")

    def last_oom() -> dict[str, Any] | None:
        status = (cluster.pod("again")["status"].get("containerStatuses") or [{}])[0]
        last = status.get("lastState", {}).get("terminated")
        return status if last and status.get("restartCount", 0) >= 1 else None
    status = wait_until(last_oom, timeout=60, what="a restart after an OOM kill")
    assert (status["lastState"]["terminated"]["reason"], status["lastState"]["terminated"]["exitCode"]) == \
        ("OOMKilled", 137)


def test_the_container_sees_its_own_limits_and_its_cpu_is_throttled(cluster: KinnCluster) -> None:
    """Inside (kubectl exec, which joins the container's cgroups): /sys/fs/cgroup is the container's own,
    with the limits written as the kubelet writes them; a busy loop limited to 100m spends most CFS
    periods throttled. On the node, the same cgroup is kubepods/pod<uid>/<container id> (Guaranteed)."""
    create(cluster, "spin", ["sh", "-c", "while :; do :; done"], {"limits": {"memory": "64Mi", "cpu": "100m"}},
           image="busybox", restart="Always")
    pod = wait_until(lambda: (p := cluster.pod("spin"))["status"].get("phase") == "Running" and p, timeout=60,
                     what="spin Running")
    view = cluster.kubectl("exec", "spin", "--", "sh", "-c", "grep -E ':(memory|cpu):' /proc/self/cgroup; "
                           "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
                           "/sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.shares").split()
    assert len(view) == 6 and all(line.endswith(":/") for line in view[:2]), view  # at its cgroups' roots
    assert view[2:] == ["67108864", "10000", "100000", "102"]  # requests default to limits: 100m → 102 shares

    def throttled() -> dict[str, int] | None:
        stat = dict(line.split() for line in
                    cluster.kubectl("exec", "spin", "--", "cat", "/sys/fs/cgroup/cpu/cpu.stat").splitlines())
        counters = {key: int(value) for key, value in stat.items()}
        return counters if counters["nr_periods"] >= 20 else None
    counters = wait_until(throttled, timeout=30, what="20 CFS periods of spin")
    assert counters["nr_throttled"] > counters["nr_periods"] // 2, counters
    container_id = pod["status"]["containerStatuses"][0]["containerID"].removeprefix("kinn://")
    on_node = f"/sys/fs/cgroup/memory/kubepods/pod{pod['metadata']['uid']}/{container_id}/memory.limit_in_bytes"
    assert cluster.node_exec("worker-1", "cat", on_node).strip() == "67108864"


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (/proc/<pid>/stat; pods share the host's PID namespace)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def test_under_contention_cpu_goes_by_requests(cluster: KinnCluster) -> None:
    """Two busy loops pinned to one CPU: the Guaranteed pod requesting 1 CPU (pod cgroup cpu.shares
    1024 under kubepods) takes nearly all of it from the BestEffort one (kubepods/besteffort has 2),
    as on a real node. Without pod and QoS cgroup shares they split it 50/50."""
    spin = "echo $$$$; exec taskset -c 1 sh -c 'while :; do :; done'"  # $$ is an escaped $ in a pod's command
    create(cluster, "paid", ["sh", "-c", spin], {"limits": {"cpu": "1", "memory": "64Mi"}}, image="busybox",
           restart="Always")
    create(cluster, "free-rider", ["sh", "-c", spin], {}, image="busybox", restart="Always")
    pids = {}
    for name in ("paid", "free-rider"):
        wait_until(lambda: cluster.pod(name)["status"].get("phase") == "Running", timeout=60, what=f"{name} Running")
        pids[name] = int(wait_until(lambda: cluster.kubectl("logs", name).strip(), timeout=10, what=f"{name}'s pid"))
    uid = cluster.pod("paid")["metadata"]["uid"]
    shares = cluster.node_exec("worker-1", "cat", "/sys/fs/cgroup/cpu/kubepods/cpu.shares",
                               "/sys/fs/cgroup/cpu/kubepods/besteffort/cpu.shares",
                               f"/sys/fs/cgroup/cpu/kubepods/pod{uid}/cpu.shares").split()
    assert shares == ["2048", "2", "1024"]  # the node's 2 CPUs; the least; the pod's 1 CPU request
    before = {name: cpu_ticks(pid) for name, pid in pids.items()}
    time.sleep(2)  # a measuring window: CPU time accrues only with wall time
    used = {name: cpu_ticks(pid) - before[name] for name, pid in pids.items()}
    assert used["paid"] > 0.9 * (used["paid"] + used["free-rider"]), used
    cluster.kubectl("delete", "pod", "paid", "free-rider", "--wait=true")


def test_what_a_container_leaves_behind_ends_with_it(cluster: KinnCluster) -> None:
    """A daemon that left the container's process group (setsid) is still in its cgroup, and ends
    when the container does, as the end of a container's PID namespace ends everything in it."""
    create(cluster, "daemon", ["sh", "-c", "setsid sleep 1000 & echo $!; sleep 0.3"], {}, image="busybox")
    assert terminated(cluster, "daemon")["reason"] == "Completed"
    pid = int(cluster.kubectl("logs", "daemon").strip())

    def gone() -> bool:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes() != b"sleep\x001000\x00"
        except FileNotFoundError:
            return True
    wait_until(gone, timeout=5, what=f"the daemon (pid {pid}) to end")


def test_a_host_network_container_sees_its_own_cgroups_too(cluster: KinnCluster) -> None:
    """A hostNetwork pod shares its node's /sys (the kernel will not mount that netns's sysfs twice),
    but its /sys/fs/cgroup is still its own cgroups, not the node's."""
    create(cluster, "hostnet", ["sleep", "3600"], {"limits": {"memory": "48Mi"}}, image="busybox", hostNetwork=True)
    wait_until(lambda: cluster.pod("hostnet")["status"].get("phase") == "Running", timeout=60, what="hostnet Running")
    assert cluster.kubectl("exec", "hostnet", "--", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes").strip() == \
        str(48 * 2**20)


def test_pod_cgroups_follow_qos_and_go_with_the_pod(cluster: KinnCluster) -> None:
    """A Burstable pod's container is under kubepods/burstable/pod<uid>, a BestEffort one's under
    kubepods/besteffort; deleting the pod removes its cgroups in every hierarchy."""
    create(cluster, "burst", ["sleep", "3600"], {"requests": {"memory": "16Mi"}}, image="busybox")
    create(cluster, "best", ["sleep", "3600"], {}, image="busybox")
    pods = {name: wait_until(lambda: (p := cluster.pod(name))["status"].get("phase") == "Running" and p, timeout=60,
                             what=f"{name} Running") for name in ("burst", "best")}
    for name, qos in (("burst", "burstable"), ("best", "besteffort")):
        assert pods[name]["status"]["qosClass"].lower() == qos
        for controller in ("memory", "cpu"):
            listing = cluster.node_exec("worker-1", "ls", f"/sys/fs/cgroup/{controller}/kubepods/{qos}")
            assert f"pod{pods[name]['metadata']['uid']}" in listing.split()
    cluster.kubectl("delete", "pod", "burst", "best", "--wait=true")
    for name, qos in (("burst", "burstable"), ("best", "besteffort")):
        for controller in ("memory", "cpu"):
            listing = cluster.node_exec("worker-1", "ls", f"/sys/fs/cgroup/{controller}/kubepods/{qos}")
            assert f"pod{pods[name]['metadata']['uid']}" not in listing.split()


def test_burstable_shares_follow_the_cpu_its_pods_request(cluster: KinnCluster) -> None:
    """kubepods/burstable weighs as much as its pods request together (1024 per CPU, at least 2),
    recomputed as pods come and go; upstream's kubelet does it on every pod sync."""
    def expected_shares() -> str:
        pods = json.loads(cluster.kubectl("get", "pods", "-A", "--field-selector", "spec.nodeName=worker-1",
                                          "-o", "json"))["items"]
        milli = sum(milli_value(str(c.get("resources", {}).get("requests", {}).get("cpu", 0)))
                    for pod in pods if pod["status"].get("qosClass") == "Burstable"
                    and pod["status"].get("phase") in ("Pending", "Running") for c in pod["spec"]["containers"])
        return str(max(milli * 1024 // 1000, 2))

    def shares() -> str:
        return cluster.node_exec("worker-1", "cat", "/sys/fs/cgroup/cpu/kubepods/burstable/cpu.shares").strip()
    before = shares()
    assert before == expected_shares()
    create(cluster, "half", ["sleep", "3600"], {"requests": {"cpu": "500m"}}, image="busybox")
    wait_until(lambda: cluster.pod("half")["status"].get("phase") == "Running", timeout=60, what="half Running")
    after = shares()
    assert after == expected_shares() and int(after) > int(before), (before, after)
    cluster.kubectl("delete", "pod", "half", "--wait=true")
    wait_until(lambda: shares() == before, timeout=10, what=f"burstable's shares back to {before}")


def test_down_removes_the_clusters_v1_cgroups(tmp_path: Path) -> None:
    """`kinn down` removes every cgroup the cluster made in the v1 hierarchies, pods' included."""
    c = KinnCluster(f"kv{uuid.uuid4().hex[:6]}", tmp_path / "home", tmp_path / "kubeconfig")
    with kinn_up(c, "--workers", "1"):
        create(c, "held", ["sleep", "3600"], {"limits": {"memory": "32Mi"}}, image="busybox")
        wait_until(lambda: c.pod("held")["status"].get("phase") == "Running", timeout=60, what="held Running")
        assert len(find_v1(c.name)) == len({h for h in limit_hierarchies(mounted_hierarchies()) if h.version == 1})
    assert find_v1(c.name) == []
