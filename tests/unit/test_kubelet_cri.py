"""The kubelet's CRI runtime view: messages rendered from pod workers' state, served on a unix
socket, and printed exactly as crictl prints them."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

from kinn.kubelet import nsutil
from kinn.kubelet.cri import crictl, view
from kinn.kubelet.cri.api import CRIError
from kinn.kubelet.cri.client import RuntimeServiceClient
from kinn.kubelet.cri.service import RuntimeService
from kinn.kubelet.runtime import ContainerExit, Mount, ResourceLimits
from kinn.kubelet.runtime.cgroup import ContainerCgroup
from kinn.kubelet.sandbox import Sandbox
from kinn.kubelet.status import ContainerRecord

SANDBOX_ID = "a5f99e13e6adefc620d7af17a559a6f51d584e3d6b4a4703728ebfe48de91a33"
WEB_ID = "b3f451ace2c4" + "0" * 52
OLD_ID = "b3f451ace2c5" + "1" * 52
SIDECAR_ID = "4c0bd2e2e5c0b17c637af83376879c38f2fb11852921b12413c54ba49d6983c7"
DIGEST = "sha256:" + "ab" * 32
CREATED = datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
UID = "d4d37088-9412-11e9-882b-2e5245ea0fee"
LOG_ROOT = Path("/var/log/pods")
LOG_DIR = LOG_ROOT / f"default_test-pod_{UID}"


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC, so Go's local-time RFC 3339 strings are predictable."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def process(container_id: str, name: str, started: datetime, exit_: ContainerExit | None = None,
            pid: int = 4242) -> Any:
    """What the view reads of a started container (a ContainerProcess's attributes)."""
    return SimpleNamespace(id=container_id, sandbox_id=SANDBOX_ID, pid=pid, started_at=started, exit=exit_,
                           env={"PATH": "/usr/bin", "HOSTNAME": "test-pod"}, working_dir=Path("/"),
                           log_path=LOG_DIR / name / "0.log", argv=["/bin/busybox", "sleep", "3600"],
                           mounts=[Mount(Path("/var/lib/kubelet/pods/x/etc-hosts"), Path("/etc/hosts"))],
                           limits=ResourceLimits(memory_bytes=2**26, cpu_millis=250, cpu_shares=256),
                           oom_score_adj=936, cgroup=ContainerCgroup(PurePosixPath(f"kubepods/burstable/poduid/{container_id}"), (), ()))


@dataclass
class Pod:
    """A pod worker's state as the view reads it (PodRuntime)."""

    sandbox: Sandbox | None
    containers: list[ContainerRecord]
    init: list[ContainerRecord] = field(default_factory=list)
    sandbox_attempt: int = 0
    pod_ips: list[str] = field(default_factory=lambda: ["10.244.3.3"])
    pod: dict = field(default_factory=lambda: {
        "metadata": {"name": "test-pod", "namespace": "default", "uid": UID, "labels": {"app": "web"},
                     "annotations": {"note": "n"}},
        "spec": {"terminationGracePeriodSeconds": 30, "containers": [
            {"name": "web", "image": "nginx", "terminationMessagePath": "/dev/termination-log",
             "terminationMessagePolicy": "File"},
            {"name": "sidecar", "image": "busybox:1.36"}]}})

    def records(self) -> list[ContainerRecord]:
        return [*self.init, *self.containers]


def live_sandbox(tmp_path: Path) -> Sandbox:
    """A sandbox whose "pause" is this test process: it is really running, so the sandbox is Ready."""
    netns = tmp_path / "cni-1234"
    netns.touch()
    start = nsutil.process_start_time(os.getpid())
    assert start is not None
    return Sandbox(SANDBOX_ID, UID, "test-pod", os.getpid(), start, netns, created_at=CREATED)


def restarted_web(sandbox_pid: int) -> ContainerRecord:
    """web crashed once (attempt 0, exit 1) and runs again as attempt 1."""
    record = ContainerRecord("web", "docker.io/library/nginx:latest", f"docker.io/library/nginx@{DIGEST}")
    first = process(OLD_ID, "web", CREATED, ContainerExit(1, "Error", CREATED + timedelta(seconds=2)))
    record.started(first)
    record.exit = first.exit
    record.will_restart("CrashLoopBackOff", "back-off")
    record.started(process(WEB_ID, "web", CREATED + timedelta(seconds=12), pid=sandbox_pid))
    return record


@pytest.fixture
def pod(tmp_path: Path) -> Pod:
    sandbox = live_sandbox(tmp_path)
    sidecar = ContainerRecord("sidecar", "docker.io/library/busybox:1.36", f"docker.io/library/busybox@{DIGEST}")
    sidecar.started(process(SIDECAR_ID, "sidecar", CREATED + timedelta(seconds=1)))
    return Pod(sandbox, [restarted_web(4243), sidecar])


# -- view --------------------------------------------------------------------------------------


def test_sandbox_is_listed_with_the_kubelets_labels(pod: Pod) -> None:
    assert view.list_pod_sandbox([pod, Pod(None, [])]) == {"items": [{
        "id": SANDBOX_ID, "metadata": {"name": "test-pod", "uid": UID, "namespace": "default", "attempt": 0},
        "state": "SANDBOX_READY", "createdAt": "1717243200123456000",
        "labels": {"app": "web", "io.kubernetes.pod.name": "test-pod", "io.kubernetes.pod.namespace": "default",
                   "io.kubernetes.pod.uid": UID},
        "annotations": {"note": "n"}, "runtimeHandler": ""}]}


def test_sandbox_whose_pause_died_is_not_ready(pod: Pod) -> None:
    assert pod.sandbox is not None
    pod.sandbox.start_time += 1  # a pause that is gone: the PID now names another process
    pod.sandbox_attempt = 1
    status = view.pod_sandbox_status([pod], SANDBOX_ID[:5], LOG_ROOT)
    assert status["status"]["state"] == "SANDBOX_NOTREADY" and status["status"]["metadata"]["attempt"] == 1
    assert status["status"]["network"] == {"ip": "", "additionalIps": []}
    info = json.loads(status["info"]["info"])
    assert (info["pid"], info["processStatus"]) == (0, "stopped")


def test_sandbox_status_names_pause_and_its_netns(pod: Pod, tmp_path: Path) -> None:
    status = view.pod_sandbox_status([pod], SANDBOX_ID[:13], LOG_ROOT)
    assert status["status"]["network"] == {"ip": "10.244.3.3", "additionalIps": []}
    assert status["status"]["linux"]["namespaces"]["options"] == {
        "network": "POD", "pid": "NODE", "ipc": "POD", "targetId": "", "usernsOptions": None}
    info = json.loads(status["info"]["info"])
    assert info["pid"] == os.getpid() and info["processStatus"] == "running" and not info["netNamespaceClosed"]
    assert info["image"] == "registry.k8s.io/pause:3.10"
    assert info["runtimeSpec"]["linux"]["namespaces"] == [
        {"type": "network", "path": str(tmp_path / "cni-1234")}, {"type": "ipc"}, {"type": "uts"}]
    # Go's encoding/json of CRI's structs: snake_case, attempt 0 omitted
    assert info["config"]["metadata"] == {"name": "test-pod", "uid": UID, "namespace": "default"}
    assert info["config"]["log_directory"] == str(LOG_DIR)


def test_unknown_or_ambiguous_ids_fail_as_containerd(pod: Pod) -> None:
    with pytest.raises(CRIError, match="^an error occurred when try to find sandbox: not found$"):
        view.pod_sandbox_status([pod], "ffff", LOG_ROOT)
    with pytest.raises(CRIError, match='^an error occurred when try to find container "b3f451ace2c": multiple IDs '
                                       'found with provided prefix: b3f451ace2c$'):
        view.container_status([pod], "b3f451ace2c", LOG_ROOT)


def test_containers_are_the_current_and_previous_runs(pod: Pod) -> None:
    listed = view.list_containers([pod], {})["containers"]
    assert [(c["id"], c["metadata"], c["state"]) for c in listed] == [
        (OLD_ID, {"name": "web", "attempt": 0}, "CONTAINER_EXITED"),
        (WEB_ID, {"name": "web", "attempt": 1}, "CONTAINER_RUNNING"),
        (SIDECAR_ID, {"name": "sidecar", "attempt": 0}, "CONTAINER_RUNNING")]
    web = listed[1]
    assert web["podSandboxId"] == SANDBOX_ID and web["imageRef"] == DIGEST == web["imageId"]
    assert web["image"] == {"image": DIGEST, "annotations": {}, "userSpecifiedImage": "nginx", "runtimeHandler": ""}
    assert web["labels"] == {"io.kubernetes.container.name": "web", "io.kubernetes.pod.name": "test-pod",
                             "io.kubernetes.pod.namespace": "default", "io.kubernetes.pod.uid": UID}
    assert web["annotations"] == {"io.kubernetes.container.restartCount": "1",
                                  "io.kubernetes.container.terminationMessagePath": "/dev/termination-log",
                                  "io.kubernetes.container.terminationMessagePolicy": "File",
                                  "io.kubernetes.pod.terminationGracePeriod": "30"}
    running = view.list_containers([pod], {"filter": {"state": {"state": "CONTAINER_RUNNING"}}})["containers"]
    assert [c["id"] for c in running] == [WEB_ID, SIDECAR_ID]


def test_a_waiting_containers_last_run_keeps_its_attempt(pod: Pod) -> None:
    web = pod.containers[0]
    assert web.process is not None
    web.exit = web.process.exit = ContainerExit(137, "Error", CREATED + timedelta(seconds=20))
    web.will_restart("CrashLoopBackOff", "back-off")
    listed = view.list_containers([pod], {})["containers"]
    assert [(c["id"], c["metadata"]["attempt"], c["state"]) for c in listed if c["metadata"]["name"] == "web"] == [
        (WEB_ID, 1, "CONTAINER_EXITED")]


def test_runs_of_a_removed_sandbox_are_gone_with_it(pod: Pod, tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    pod.sandbox = live_sandbox(tmp_path / "new")
    pod.sandbox.id = "c" * 64  # pause died and the kubelet made a new sandbox
    assert view.list_containers([pod], {}) == {"containers": []}


def test_container_status_of_a_running_and_an_exited_run(pod: Pod) -> None:
    running = view.container_status([pod], WEB_ID[:13], LOG_ROOT)
    status = running["status"]
    assert (status["state"], status["startedAt"], status["finishedAt"], status["exitCode"], status["reason"]) == \
        ("CONTAINER_RUNNING", "1717243212123456000", "0", 0, "")
    assert status["image"]["image"] == "docker.io/library/nginx:latest"
    assert (status["imageRef"], status["imageId"]) == (f"docker.io/library/nginx@{DIGEST}", DIGEST)
    assert status["logPath"] == str(LOG_DIR / "web" / "0.log")
    assert status["mounts"] == [{"containerPath": "/etc/hosts", "hostPath": "/var/lib/kubelet/pods/x/etc-hosts",
                                 "readonly": False, "selinuxRelabel": False, "propagation": "PROPAGATION_PRIVATE"}]
    info = json.loads(running["info"]["info"])
    assert (info["sandboxID"], info["pid"]) == (SANDBOX_ID, 4243)
    assert info["runtimeSpec"]["process"] == {"args": ["/bin/busybox", "sleep", "3600"],
                                              "env": ["PATH=/usr/bin", "HOSTNAME=test-pod"], "cwd": "/",
                                              "oomScoreAdj": 936}
    assert info["runtimeSpec"]["linux"]["namespaces"] == [
        {"type": "network", "path": f"/proc/{os.getpid()}/ns/net"},
        {"type": "ipc", "path": f"/proc/{os.getpid()}/ns/ipc"},
        {"type": "uts", "path": f"/proc/{os.getpid()}/ns/uts"}, {"type": "mount"}, {"type": "cgroup"}]
    assert info["runtimeSpec"]["linux"]["cgroupsPath"] == f"/kubepods/burstable/poduid/{WEB_ID}"
    assert info["runtimeSpec"]["linux"]["resources"] == {"memory": {"limit": 67108864},
                                                         "cpu": {"shares": 256, "quota": 25000, "period": 100000}}
    assert info["config"]["metadata"] == {"name": "web", "attempt": 1}
    assert info["config"]["log_path"] == "web/0.log"
    exited = view.container_status([pod], OLD_ID, LOG_ROOT)
    assert (exited["status"]["state"], exited["status"]["exitCode"], exited["status"]["reason"]) == \
        ("CONTAINER_EXITED", 1, "Error")
    assert exited["status"]["finishedAt"] == "1717243202123456000"
    assert json.loads(exited["info"]["info"])["pid"] == 0  # containerd zeroes the pid of an exited task


# -- crictl's output ---------------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "text"), [
    (0.5, "Less than a second"), (1, "1 second"), (59.9, "59 seconds"), (60, "About a minute"),
    (119, "About a minute"), (120, "2 minutes"), (3599, "59 minutes"), (3600, "About an hour"),
    (5399, "About an hour"), (5400, "2 hours"), (47 * 3600, "47 hours"), (48 * 3600, "2 days"),
    (14 * 86400, "2 weeks"), (60 * 86400, "2 months"), (730 * 86400, "2 years")])
def test_human_duration_is_go_units(seconds: float, text: str) -> None:
    assert crictl.human_duration(seconds) == text


def test_pods_table_is_crictls(pod: Pod) -> None:
    items = view.list_pod_sandbox([pod])["items"]
    now = CREATED.timestamp() + 185
    assert crictl.pods_table(items, now) == (
        "POD ID              CREATED             STATE               NAME                NAMESPACE           "
        "ATTEMPT             RUNTIME\n"
        "a5f99e13e6ade       3 minutes ago       Ready               test-pod            default             "
        "0                   (default)\n")


def test_ps_table_is_crictls_newest_first_with_wide_columns() -> None:
    containers = [
        {"id": SIDECAR_ID, "podSandboxId": SANDBOX_ID, "metadata": {"name": "sidecar", "attempt": 0},
         "image": {"image": DIGEST}, "state": "CONTAINER_EXITED", "createdAt": "1717243201000000000",
         "labels": {"io.kubernetes.pod.name": "a-pod-with-a-rather-long-name", "io.kubernetes.pod.namespace": "x"}},
        {"id": WEB_ID, "podSandboxId": SANDBOX_ID, "metadata": {"name": "web", "attempt": 2},
         "image": {"image": "not-a-digest"}, "state": "CONTAINER_RUNNING", "createdAt": "1717243210000000000",
         "labels": {}}]
    lines = crictl.ps_table(containers, 1717243270.5).splitlines()
    assert lines == [
        "CONTAINER           IMAGE               CREATED              STATE               NAME                "
        "ATTEMPT             POD ID              POD                             NAMESPACE",
        "b3f451ace2c40       not-a-digest        About a minute ago   Running             web                 "
        "2                   a5f99e13e6ade       unknown                         unknown",
        "4c0bd2e2e5c0b       ababababababa       About a minute ago   Exited              sidecar             "
        "0                   a5f99e13e6ade       a-pod-with-a-rather-long-name   x"]


def test_an_empty_listing_is_the_header_alone() -> None:
    assert crictl.ps_table([], 0) == ("CONTAINER           IMAGE               CREATED             STATE        "
                                      "       NAME                ATTEMPT             POD ID              POD     "
                                      "            NAMESPACE\n")


def test_rfc3339_nano_is_gos_local_time(utc: None) -> None:
    assert crictl.rfc3339_nano(1717243200123456000) == "2024-06-01T12:00:00.123456Z"
    assert crictl.rfc3339_nano(1717243200000000000) == "2024-06-01T12:00:00Z"
    assert crictl.rfc3339_nano(1717243200000000001) == "2024-06-01T12:00:00.000000001Z"


def test_rfc3339_nano_names_the_local_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "CST-8")  # POSIX TZ: UTC+8, no tzdata needed
    time.tzset()
    try:
        assert crictl.rfc3339_nano(1717243200000000000) == "2024-06-01T20:00:00+08:00"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_inspect_is_crictls_json(pod: Pod, utc: None) -> None:
    printed = json.loads(crictl.inspect_output([view.container_status([pod], OLD_ID, LOG_ROOT)]))
    assert list(printed) == ["info", "status"]
    assert printed["status"]["createdAt"] == "2024-06-01T12:00:00.123456Z"
    assert printed["status"]["startedAt"] == "2024-06-01T12:00:00.123456Z"
    assert printed["status"]["finishedAt"] == "2024-06-01T12:00:02.123456Z"
    assert printed["info"]["sandboxID"] == SANDBOX_ID
    running = json.loads(crictl.inspect_output([view.container_status([pod], WEB_ID, LOG_ROOT)]))
    assert running["status"]["finishedAt"] == "0001-01-01T00:00:00Z"
    both = json.loads(crictl.inspect_output([view.container_status([pod], i, LOG_ROOT) for i in (OLD_ID, WEB_ID)]))
    assert [r["status"]["id"] for r in both] == [OLD_ID, WEB_ID]


def test_inspectp_is_crictls_json(pod: Pod, utc: None) -> None:
    text = crictl.inspectp_output([view.pod_sandbox_status([pod], SANDBOX_ID, LOG_ROOT)])
    assert text.startswith('{\n  "info": {\n    "config": {')
    printed = json.loads(text)
    assert printed["status"]["createdAt"] == "2024-06-01T12:00:00.123456Z"
    assert printed["info"]["pid"] == os.getpid()


# -- serving -----------------------------------------------------------------------------------


async def test_served_on_a_unix_socket(pod: Pod, tmp_path: Path) -> None:
    path = tmp_path / "run" / "kinn" / "runtime.sock"
    service = RuntimeService(lambda: [pod], LOG_ROOT)
    await service.start(f"unix://{path}")
    try:
        client = RuntimeServiceClient(path)
        assert [p["id"] for p in await client.list_pod_sandbox()] == [SANDBOX_ID]
        assert [c["id"] for c in await client.list_containers("CONTAINER_RUNNING")] == [WEB_ID, SIDECAR_ID]
        assert (await client.container_status(SIDECAR_ID[:6]))["status"]["id"] == SIDECAR_ID
        assert (await client.pod_sandbox_status(SANDBOX_ID))["status"]["state"] == "SANDBOX_READY"
        with pytest.raises(CRIError) as failed:
            await client.container_status("ffff")
        assert (failed.value.code, failed.value.message) == (
            "NotFound", 'an error occurred when try to find container "ffff": not found')
    finally:
        await service.stop()
    assert not path.exists()
    with pytest.raises(OSError):
        await RuntimeServiceClient(path).list_pod_sandbox()


async def test_a_stale_socket_is_replaced_and_a_live_one_left_alone(pod: Pod, tmp_path: Path) -> None:
    path = tmp_path / "runtime.sock"
    with socket.socket(socket.AF_UNIX) as stale:  # bound, never listening: what a killed kubelet leaves
        stale.bind(str(path))
    service = RuntimeService(lambda: [pod], LOG_ROOT)
    await service.start(f"unix://{path}")
    try:
        assert len(await RuntimeServiceClient(path).list_pod_sandbox()) == 1
        second = RuntimeService(lambda: [], LOG_ROOT)
        await second.start(f"unix://{path}")
        await second.stop()
        assert len(await RuntimeServiceClient(path).list_pod_sandbox()) == 1  # still the first one's
    finally:
        await service.stop()
