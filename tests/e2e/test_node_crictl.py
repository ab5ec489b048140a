"""`kinn node crictl` on a real cluster: what seed 003 reads with `ctr` and seed 004 with `docker ps`.

A one-worker cluster runs a two-container pod. The runtime's view must agree with the kernel and
the CNI state: the sandbox ID is the one host-local wrote under /var/lib/cni/networks/cbr0/<pod IP>
(seed 004), the sandbox's pid is a pause process that owns the pod's `cni-<uuid>` netns (`ip netns
identify <pid>`, seed 003), and the containers' pids are processes inside that netns.
"""

from __future__ import annotations

import json
import os
import re
import signal
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from kinn.cluster.paths import ClusterPaths
from kinn_cluster import KinnCluster, kinn_up
from kubectl_output import wait_until

pytestmark = pytest.mark.e2e

POD = "test-pod"
NODE = "worker-1"
# crictl's columns are at least 20 wide; NAME grows with the longest pod name on the node (tabwriter).
# crictl's tabwriter: columns at least 20 wide, 3 past their longest cell (so CREATED widens when a
# sandbox was made "Less than a second ago"); the 13-character IDs keep the first at 20.
POD_HEADER = ("POD ID              CREATED ",
              ["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinnCluster]:
    home = tmp_path_factory.mktemp("kinn-home")
    with kinn_up(KinnCluster(f"kc{uuid.uuid4().hex[:6]}", home, home / "kubeconfig"), "--workers", "1") as c:
        yield c


@pytest.fixture(scope="module")
def pod(cluster: KinnCluster) -> dict:
    """seed 004's two containers in one pod (here on different ports, so both run)."""
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD, "labels": {"app": "lab-web"}},
                "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1, "containers": [
                    {"name": "lab-web", "image": "busybox", "command": ["httpd", "-f", "-p", "80"]},
                    {"name": "sidecar", "image": "busybox", "command": ["sleep", "3600"]}]}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))

    def running() -> dict | None:
        current = cluster.pod(POD)
        states = [s["state"] for s in current["status"].get("containerStatuses", [])]
        return current if len(states) == 2 and all("running" in state for state in states) else None
    return wait_until(running, timeout=60, what=f"both containers of {POD} running")  # type: ignore[return-value]


def crictl(cluster: KinnCluster, *args: str) -> str:
    return cluster.kinn("node", "crictl", "--name", cluster.name, NODE, *args).stdout


def sandbox_id(cluster: KinnCluster, pod: dict) -> str:
    """What host-local recorded for the pod's IP: the ID of the sandbox it was allocated to."""
    return cluster.node_exec(NODE, "cat", f"/var/lib/cni/networks/cbr0/{pod['status']['podIP']}").split()[0]


def container_ids(pod: dict) -> dict[str, str]:
    return {s["name"]: s["containerID"].removeprefix("kinn://") for s in pod["status"]["containerStatuses"]}


def net_namespace(pid: int) -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def test_pods_lists_the_sandbox_host_local_allocated_to(cluster: KinnCluster, pod: dict) -> None:
    lines = crictl(cluster, "pods").splitlines()
    assert lines[0].startswith(POD_HEADER[0]) and re.split(r"\s{2,}", lines[0]) == POD_HEADER[1], lines[0]
    row = [line.split() for line in lines[1:] if line.startswith(sandbox_id(cluster, pod)[:13] + " ")]
    assert len(row) == 1, lines
    assert row[0][-5:] == ["Ready", POD, "default", "0", "(default)"]


def test_ps_lists_the_app_containers_of_the_sandbox(cluster: KinnCluster, pod: dict) -> None:
    lines = crictl(cluster, "ps").splitlines()
    assert lines[0].split() == ["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD", "ID", "POD",
                                "NAMESPACE"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    sandbox = sandbox_id(cluster, pod)[:13]
    for name, container_id in container_ids(pod).items():
        row = rows[container_id[:13]]
        assert row[-6:] == ["Running", name, "0", sandbox, POD, "default"]
    assert sum(row[-3] == sandbox for row in rows.values()) == 2  # pause is the sandbox, not a container


def test_inspectp_gives_the_pause_that_owns_the_pod_netns(cluster: KinnCluster, pod: dict) -> None:
    inspected = json.loads(crictl(cluster, "inspectp", sandbox_id(cluster, pod)[:8]))
    status, info = inspected["status"], inspected["info"]
    assert status["id"] == sandbox_id(cluster, pod) and status["state"] == "SANDBOX_READY"
    meta = pod["metadata"]
    assert {key: status["labels"][key] for key in ("io.kubernetes.pod.name", "io.kubernetes.pod.namespace",
                                                   "io.kubernetes.pod.uid", "app")} == \
        {"io.kubernetes.pod.name": POD, "io.kubernetes.pod.namespace": "default",
         "io.kubernetes.pod.uid": meta["uid"], "app": "lab-web"}
    assert status["network"]["ip"] == pod["status"]["podIP"]
    pid = info["pid"]
    assert Path(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()).name == "pause"
    netns = info["runtimeSpec"]["linux"]["namespaces"][0]
    assert netns["type"] == "network" and netns["path"].startswith("/var/run/netns/cni-")
    assert cluster.node_exec(NODE, "ip", "netns", "identify", str(pid)).strip() == Path(netns["path"]).name
    assert int(cluster.node_exec(NODE, "stat", "-L", "-c", "%i", netns["path"])) == net_namespace(pid)


def test_inspect_gives_app_pids_inside_the_pod_netns(cluster: KinnCluster, pod: dict) -> None:
    pause = json.loads(crictl(cluster, "inspectp", sandbox_id(cluster, pod)))["info"]["pid"]
    ids = container_ids(pod)
    inspected = json.loads(crictl(cluster, "inspect", ids["lab-web"][:13], ids["sidecar"]))
    assert [entry["status"]["id"] for entry in inspected] == [ids["lab-web"], ids["sidecar"]]
    for entry, argv in zip(inspected, (["/bin/busybox", "httpd", "-f", "-p", "80"], ["/bin/busybox", "sleep", "3600"])):
        status, info = entry["status"], entry["info"]
        assert status["state"] == "CONTAINER_RUNNING" and status["finishedAt"] == "0001-01-01T00:00:00Z"
        assert status["labels"]["io.kubernetes.pod.uid"] == pod["metadata"]["uid"]
        assert status["image"]["image"] == "docker.io/library/busybox:latest"
        assert info["sandboxID"] == sandbox_id(cluster, pod) and info["runtimeSpec"]["process"]["args"] == argv
        assert Path(f"/proc/{info['pid']}/cmdline").read_bytes().split(b"\0")[:-1] == [a.encode() for a in argv]
        assert net_namespace(info["pid"]) == net_namespace(pause) != net_namespace(os.getpid())


def test_logs_reads_a_containers_output_back_as_crictl_does(cluster: KinnCluster) -> None:
    """What seed 004 reads with `docker logs`: stdout and stderr apart, --tail counting lines from
    the end, -f following the container until it exits (here it sleeps before its last line)."""
    talker = cluster.run_pod("talker", NODE, "sh", "-c", "echo out-1; echo err-1 >&2; echo out-2; sleep 2; echo out-3",
                             image="busybox")
    container = talker["status"]["containerStatuses"][0]["containerID"].removeprefix("kinn://")
    followed = cluster.kinn("node", "crictl", "--name", cluster.name, NODE, "logs", "-f", container[:13])
    assert (followed.stdout, followed.stderr) == ("out-1\nout-2\nout-3\n", "err-1\n")
    last = cluster.kinn("node", "crictl", "--name", cluster.name, NODE, "logs", "--tail", "1", "-t", container)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z out-3\n", last.stdout), last.stdout
    missing = cluster.kinn("node", "crictl", "--name", cluster.name, NODE, "logs", "nosuch", check=False)
    assert (missing.returncode, missing.stderr) == (
        1, 'Error: an error occurred when try to find container "nosuch": not found\n')


def test_a_node_without_its_agent_says_so(cluster: KinnCluster) -> None:
    """The control-plane node's agent (it runs no pods here) is stopped: crictl cannot reach it."""
    procs = ClusterPaths(cluster.name).node("control-plane").cgroup / "agent" / "cgroup.procs"
    pids = [int(pid) for pid in procs.read_text().split()]
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not procs.read_text().strip(), timeout=20, what="the control-plane agent to exit")
    failed = cluster.kinn("node", "crictl", "--name", cluster.name, "control-plane", "ps", check=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith('Error: cannot reach the container runtime of node "control-plane" at '
                                    "unix:///run/kinn/runtime.sock")
    assert "kinn-agent.log" in failed.stderr
