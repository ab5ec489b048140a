"""Ephemeral containers on a real kubelet, added by the real `kubectl debug`: the debugger joins the
pod's network and UTS namespaces (it reaches the app on localhost and sees the pod's hostname), has
its own status, events and logs, is never restarted, and starts even while an init container blocks
the pod (that is when one needs it most)."""

from __future__ import annotations

from typing import Any

import pytest

from test_kubelet import (Node, apiserver, create_pod, delete_and_check_nothing_leaked, get,  # noqa: F401
                          no_pods_left, node, wait_until)
from test_kubectl_logs_exec import on_terminal, sh, start

pytestmark = pytest.mark.e2e


def ephemeral_status(node: Node, pod: str, name: str) -> dict[str, Any] | None:
    found = get(node, "pod", pod) or {}
    return next((s for s in found.get("status", {}).get("ephemeralContainerStatuses", []) if s["name"] == name), None)


def terminated(node: Node, pod: str, name: str) -> dict[str, Any] | None:
    status = ephemeral_status(node, pod, name)
    return status if status and "terminated" in status["state"] else None


def test_kubectl_debug_reaches_the_app_on_localhost_and_is_not_restarted(node: Node) -> None:
    start(node, "web", [{"name": "nginx", "image": "nginx"}])
    node.server.kubectl("debug", "web", "--image=busybox", "-c", "debugger", "--",
                        "sh", "-c", "wget -qO- http://localhost/ && hostname && exit 3")
    status = wait_until("debugger ended", lambda: terminated(node, "web", "debugger"), node)
    assert status["state"]["terminated"]["exitCode"] == 3 and status["restartCount"] == 0
    assert status["ready"] is False and status["image"] == "docker.io/library/busybox:latest"
    logs = node.server.kubectl("logs", "web", "-c", "debugger").stdout
    assert "<title>Welcome to nginx!</title>" in logs and logs.rstrip().endswith("web")
    pod = get(node, "pod", "web")
    assert pod["status"]["phase"] == "Running"
    assert {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"] == "True"
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    events = node.server.kubectl("get", "events", "--field-selector", "involvedObject.name=web", "-o",
                                 "jsonpath={range .items[*]}{.reason} {.involvedObject.fieldPath}{'\\n'}{end}").stdout
    assert "Started spec.ephemeralContainers{debugger}" in events
    delete_and_check_nothing_leaked(node, "web")


def test_kubectl_debug_interactively(node: Node) -> None:
    """`kubectl debug -i` pipes input to the debugger; with `-it` the debugger's shell has a terminal."""
    start(node, "app", [sh("app", "sleep 3600")])
    ip = get(node, "pod", "app")["status"]["podIP"]
    result = node.server.kubectl("debug", "app", "-i", "--image=busybox", "-c", "shell", "--", "sh",
                                 input="hostname; ip -4 addr show eth0; exit\n")
    assert "app\n" in result.stdout and f"inet {ip}/" in result.stdout
    wait_until("shell ended", lambda: terminated(node, "app", "shell"), node)
    lines = on_terminal(node, "kubectl debug app -it --image=busybox -c console -- sh", typed="tty; hostname\nexit\n")
    assert "/ # tty; hostname" in lines and any(line.startswith("/dev/pts/") for line in lines), lines
    wait_until("console ended", lambda: terminated(node, "app", "console"), node)


def test_a_pod_stuck_initializing_can_be_debugged(node: Node) -> None:
    create_pod(node, "stuck", [sh("app", "sleep 3600")], initContainers=[sh("wait-for-db", "sleep 3600")])
    wait_until("init running", lambda: (get(node, "pod", "stuck") or {}).get("status", {}).get("podIP"), node)
    node.server.kubectl("debug", "stuck", "--image=busybox", "-c", "debugger", "--", "sleep", "3600")
    wait_until("debugger running", lambda: "running" in (ephemeral_status(node, "stuck", "debugger") or {"state": {}})[
        "state"], node)
    assert get(node, "pod", "stuck")["status"]["phase"] == "Pending"
    delete_and_check_nothing_leaked(node, "stuck")
