"""Probes and lifecycle hooks of `kinn kubelet` on real pods, with the Endpoints controller watching.

The API server is `kinn server` running only the endpoint controller (pods are bound by nodeName),
so a pod's readiness shows in its Service's Endpoints as on a real cluster. The containers see the
node's filesystem, so the test flips a probe's answer by creating or removing a file under a
hostPath volume, and reads the order of hook and signal handling from a file there.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import RunningAPIServer, start_apiserver
from test_kubelet import (Node, container_status, create_pod, get, no_pods_left, node,  # noqa: F401
                          running, wait_until)

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]

# A web server whose answers the test controls: /healthz always 500, /ready 200 while /flags/ready
# exists (503 otherwise); it logs each request's path and User-Agent to stdout.
SERVER = """
import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ready = os.path.exists("/flags/ready")
        code = {"/healthz": 500, "/ready": 200 if ready else 503}.get(self.path, 200)
        print(self.path, self.headers.get("User-Agent"), code, flush=True)
        self.send_response(code)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("", 8080), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPIServer]:
    """`kinn server` with the endpoint controller only: no scheduler, no other controller to interfere."""
    server = start_apiserver(tmp_path_factory.mktemp("server"),
                             ("--controllers", "endpoint", "--disable-scheduler"), command="server")
    yield server
    server.stop()


@pytest.fixture
def flags(tmp_path: Path) -> Path:
    tmp_path.chmod(0o755)
    return tmp_path


def flags_volume(flags: Path) -> dict[str, Any]:
    return {"volumes": [{"name": "flags", "hostPath": {"path": str(flags), "type": "Directory"}}]}


def web(probes: dict[str, Any]) -> dict[str, Any]:
    return {"name": "app", "image": "python", "command": ["python3", "-u", "-c", SERVER],
            "ports": [{"name": "http", "containerPort": 8080}],
            "volumeMounts": [{"name": "flags", "mountPath": "/flags"}], **probes}


def sh(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script],
            "volumeMounts": [{"name": "flags", "mountPath": "/flags"}], **extra}


def events(node: Node, pod: str) -> list[tuple[str, str, int]]:
    """(reason, message, count) of the pod's events, oldest first."""
    found = json.loads(node.server.kubectl("get", "events", "--field-selector", f"involvedObject.name={pod}",
                                           "-o", "json").stdout)["items"]
    return [(e["reason"], e["message"], e.get("count", 1)) for e in sorted(found, key=lambda e: e["firstTimestamp"])]


def has_event(node: Node, pod: str, reason: str, message: str) -> bool:
    return any(r == reason and re.fullmatch(message, m, re.DOTALL) for r, m, _ in events(node, pod))


def conditions(pod: Obj) -> dict[str, Obj]:
    return {c["type"]: c for c in pod["status"]["conditions"]}


def where(node: Node, name: str, check: Any) -> Any:
    """A predicate for wait_until: the pod, once `check(pod)` holds."""
    def probe() -> Obj | None:
        pod = get(node, "pod", name)
        return pod if pod and pod.get("status", {}).get("containerStatuses") and check(pod) else None
    return probe


def test_failing_liveness_probe_restarts_the_container(node: Node, flags: Path) -> None:
    create_pod(node, "alive", [web({"livenessProbe": {
        "httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1, "failureThreshold": 2}})],
        **flags_volume(flags))
    pod = wait_until("two liveness restarts", where(node, "alive", lambda p: container_status(p, "app")[
        "restartCount"] >= 2), node, timeout=60)
    status = container_status(pod, "app")
    assert status["lastState"]["terminated"]["exitCode"] == 143  # SIGTERM within the grace period
    assert status["lastState"]["terminated"]["reason"] == "Error"
    assert has_event(node, "alive", "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500")
    assert has_event(node, "alive", "Killing", "Container app failed liveness probe, will be restarted")
    uid = pod["metadata"]["uid"]
    log = (node.tmp / "pods" / f"default_alive_{uid}" / "app" / "0.log").read_text()
    assert "stdout F /healthz kube-probe/1.32 500" in log


def test_readiness_drives_ready_conditions_and_endpoints(node: Node, flags: Path) -> None:
    node.server.kubectl("create", "service", "clusterip", "ready-web", "--tcp=8080:8080")
    create_pod(node, "ready-web", [web({"readinessProbe": {"httpGet": {"path": "/ready", "port": 8080},
                                                           "periodSeconds": 1, "failureThreshold": 1}})],
               **flags_volume(flags))
    node.server.kubectl("label", "pod", "ready-web", "app=ready-web")

    def endpoints(key: str) -> list[str]:
        found = get(node, "endpoints", "ready-web") or {}
        return [a["ip"] for subset in found.get("subsets") or [] for a in subset.get(key) or []]

    # Running but never yet ready: readiness starts False, the address is not ready.
    pod = wait_until("Running, not ready", lambda: running(node, "ready-web"), node)
    ip = pod["status"]["podIP"]
    assert wait_until("not-ready address", lambda: endpoints("notReadyAddresses") == [ip], node)
    pod = get(node, "pod", "ready-web")
    assert conditions(pod)["Ready"]["status"] == "False" and not container_status(pod, "app")["ready"]
    assert container_status(pod, "app")["started"]  # no startup probe: started as soon as it runs
    assert wait_until("503 reported", lambda: has_event(
        node, "ready-web", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"), node)

    (flags / "ready").touch()
    pod = wait_until("Ready", where(node, "ready-web", lambda p: conditions(p)["Ready"]["status"] == "True"), node)
    assert conditions(pod)["ContainersReady"]["status"] == "True" and container_status(pod, "app")["ready"]
    assert wait_until("ready address", lambda: endpoints("addresses") == [ip], node)

    (flags / "ready").unlink()
    pod = wait_until("unready", where(node, "ready-web", lambda p: conditions(p)["Ready"]["status"] == "False"), node)
    for kind in ("Ready", "ContainersReady"):
        assert conditions(pod)[kind]["reason"] == "ContainersNotReady"
        assert conditions(pod)[kind]["message"] == "containers with unready status: [app]"
    assert pod["status"]["phase"] == "Running" and container_status(pod, "app")["restartCount"] == 0
    assert wait_until("address not ready again", lambda: endpoints("notReadyAddresses") == [ip], node)
    assert endpoints("addresses") == []

    (flags / "ready").touch()
    wait_until("Ready again", where(node, "ready-web", lambda p: conditions(p)["Ready"]["status"] == "True"), node)
    assert wait_until("address ready again", lambda: endpoints("addresses") == [ip], node)
    node.server.kubectl("delete", "service", "ready-web")


def test_startup_probe_gates_liveness_and_exec_probes_run_in_the_container(node: Node, flags: Path) -> None:
    create_pod(node, "slow", [sh("app", "exec sleep 3600", startupProbe={
        "exec": {"command": ["cat", "/flags/started"]}, "periodSeconds": 1, "failureThreshold": 60},
        livenessProbe={"exec": {"command": ["sh", "-c", "test -f /flags/alive"]}, "periodSeconds": 1,
                       "failureThreshold": 1})], **flags_volume(flags))
    wait_until("startup probe failing", lambda: has_event(
        node, "slow", "Unhealthy", "Startup probe failed: cat: can't open '/flags/started': No such file or directory\n"), node)
    pod = get(node, "pod", "slow")
    status = container_status(pod, "app")
    assert status["state"].get("running") and not status["started"] and not status["ready"]
    assert status["restartCount"] == 0  # the liveness probe that would fail has not run
    assert not any(m.startswith("Liveness") for _, m, _ in events(node, "slow"))

    (flags / "alive").touch()
    (flags / "started").touch()
    wait_until("started and ready", where(node, "slow", lambda p: container_status(p, "app")["started"]
                                          and container_status(p, "app")["ready"]), node)
    (flags / "alive").unlink()  # now liveness runs, fails once, and the container is restarted
    wait_until("restarted by liveness", where(node, "slow", lambda p: container_status(p, "app")[
        "restartCount"] >= 1), node, timeout=30)
    assert has_event(node, "slow", "Unhealthy", "Liveness probe failed: ")
    assert has_event(node, "slow", "Killing", "Container app failed liveness probe, will be restarted")


def test_startup_probe_failure_kills_and_never_policy_keeps_it_dead(node: Node, flags: Path) -> None:
    create_pod(node, "never-up", [sh("app", "exec sleep 3600", startupProbe={
        "tcpSocket": {"port": 9999}, "periodSeconds": 1, "failureThreshold": 2})],
        restartPolicy="Never", **flags_volume(flags))
    pod = wait_until("Failed", where(node, "never-up", lambda p: p["status"]["phase"] == "Failed"), node, timeout=30)
    ip = pod["status"]["podIP"]
    assert container_status(pod, "app")["state"]["terminated"]["exitCode"] == 143
    assert has_event(node, "never-up", "Unhealthy",
                     rf"Startup probe failed: dial tcp {re.escape(ip)}:9999: connect: connection refused")
    assert has_event(node, "never-up", "Killing", "Container app failed startup probe")  # no ", will be restarted"


def test_probe_failure_texts_for_timeouts_and_unknown_ports(node: Node, flags: Path) -> None:
    create_pod(node, "texts", [
        sh("slowcheck", "exec sleep 3600", readinessProbe={"exec": {"command": ["sleep", "5"]},
                                                            "timeoutSeconds": 1, "periodSeconds": 2}),
        sh("badport", "exec sleep 3600", readinessProbe={"tcpSocket": {"port": "metrics"}, "periodSeconds": 2})],
        **flags_volume(flags))
    wait_until("exec timeout", lambda: has_event(node, "texts", "Unhealthy",
                                                 'Readiness probe failed: command "sleep 5" timed out'), node)
    wait_until("port error", lambda: has_event(
        node, "texts", "Unhealthy",
        r'Readiness probe errored and resulted in unknown state: strconv.Atoi: parsing "metrics": invalid syntax'),
        node)
    pod = get(node, "pod", "texts")
    assert not container_status(pod, "slowcheck")["ready"] and not container_status(pod, "badport")["ready"]
    assert conditions(pod)["Ready"]["message"] == "containers with unready status: [slowcheck badport]"


def test_hooks_run_around_the_container_and_pre_stop_before_sigterm(node: Node, flags: Path) -> None:
    order = flags / "order"
    trap = "trap 'echo term >> /flags/order; exit 0' TERM; echo main >> /flags/order; while true; do sleep 0.1; done"
    create_pod(node, "hooks", [sh("app", trap, lifecycle={
        "postStart": {"exec": {"command": ["sh", "-c", "echo postStart >> /flags/order"]}},
        "preStop": {"exec": {"command": ["sh", "-c", "echo preStop >> /flags/order; sleep 1"]}}})],
        terminationGracePeriodSeconds=10, **flags_volume(flags))
    wait_until("Running", lambda: running(node, "hooks"), node)
    assert "postStart" in order.read_text()  # the status says Running only once postStart is done
    node.server.kubectl("delete", "pod", "hooks", "--wait=false")
    wait_until("pod gone", lambda: get(node, "pod", "hooks") is None, node)
    lines = order.read_text().split()
    assert sorted(lines[:2]) == ["main", "postStart"] and lines[2:] == ["preStop", "term"], lines
    assert has_event(node, "hooks", "Killing", "Stopping container app")


def test_failing_hooks(node: Node, flags: Path) -> None:
    create_pod(node, "badhooks", [
        sh("poststart", "exec sleep 3600", lifecycle={"postStart": {"exec": {"command": ["sh", "-c", "exit 3"]}}}),
        sh("prestop", "exec sleep 3600", lifecycle={"preStop": {"httpGet": {"path": "/bye", "port": 9999}}})],
        **flags_volume(flags))
    wait_until("postStart failed twice", where(node, "badhooks", lambda p: container_status(p, "poststart")[
        "restartCount"] >= 2), node, timeout=30)
    assert has_event(node, "badhooks", "FailedPostStartHook", "PostStartHook failed")
    assert has_event(node, "badhooks", "Killing", "FailedPostStartHook")
    log = node.log()
    assert re.search(r'Exec lifecycle hook \(\[sh -c exit 3\]\) for Container "poststart" in Pod "badhooks_default\('
                     r'[0-9a-f-]+\)" failed - error: command \'sh -c exit 3\' exited with 3: , message: ""', log)
    node.server.kubectl("delete", "pod", "badhooks", "--wait=false")
    wait_until("pod gone", lambda: get(node, "pod", "badhooks") is None, node)
    assert has_event(node, "badhooks", "FailedPreStopHook", "PreStopHook failed")
    assert re.search(r'HTTP lifecycle hook \(/bye\) for Container "prestop" in Pod "badhooks_default\([0-9a-f-]+\)" '
                     r'failed - error: Get "http://10\.250\.7\.\d+:9999/bye": dial tcp 10\.250\.7\.\d+:9999: '
                     r'connect: connection refused', node.log())
