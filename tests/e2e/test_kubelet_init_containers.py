"""Init containers and sidecars (restartable init containers, KEP-753) on a real kubelet: regular init
containers run to completion one after another; a sidecar starts in its turn, lets the next one start
once it runs, keeps running beside the pod's containers and is restarted whenever it ends, whatever the
pod's restartPolicy; a pod of a Job finishes when its containers do, and its sidecars are stopped then."""

from __future__ import annotations

import json
from typing import Any

import pytest

from test_kubelet import Node, apiserver, get, no_pods_left, node, wait_until  # noqa: F401
from test_kubectl_logs_exec import sh

pytestmark = pytest.mark.e2e

SHARED = {"volumeMounts": [{"name": "shared", "mountPath": "/shared"}]}
VOLUMES = {"volumes": [{"name": "shared", "emptyDir": {}}]}


def statuses(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    status = pod["status"]
    return {s["name"]: s for s in [*status.get("initContainerStatuses", []), *status.get("containerStatuses", [])]}


def create(node: Node, name: str, init: list[dict[str, Any]], main: dict[str, Any], **spec: Any) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"nodeName": node.name, "terminationGracePeriodSeconds": 2, "initContainers": init,
                    "containers": [main], **VOLUMES, **spec}}
    node.server.kubectl("create", "-f", "-", input=json.dumps(pod))


def ready(node: Node, name: str) -> dict[str, Any] | None:
    pod = get(node, "pod", name)
    conditions = {c["type"]: c["status"] for c in (pod or {}).get("status", {}).get("conditions", [])}
    return pod if conditions.get("Ready") == "True" else None


def test_init_containers_in_order_then_a_sidecar_beside_the_container(node: Node) -> None:
    """`first` and then the sidecar have written their lines before `main` starts; the sidecar is still
    running beside it (it never exits), and it counts towards the pod's readiness: 2/2 in kubectl."""
    create(node, "ordered", [sh("first", "echo first >> /shared/order", **SHARED),
                             sh("side", "echo side >> /shared/order; exec sleep 3600", restartPolicy="Always",
                                **SHARED)],
           sh("main", "echo main >> /shared/order; cat /shared/order; exec sleep 3600", **SHARED))
    pod = wait_until("ordered Ready", lambda: ready(node, "ordered"), node)
    assert pod["status"]["phase"] == "Running"
    found = statuses(pod)
    assert found["first"]["state"]["terminated"]["reason"] == "Completed"
    assert found["first"]["ready"] and not found["first"]["started"]  # done is ready, as upstream reports it
    assert found["side"]["state"].get("running") and found["side"]["started"] and found["side"]["ready"]
    assert node.server.kubectl("logs", "ordered", "-c", "main").stdout == "first\nside\nmain\n"
    assert node.server.kubectl("get", "pod", "ordered", "--no-headers").stdout.split()[1:3] == ["2/2", "Running"]
    # Each container's events name it, as `kubectl describe` lists them: they are not one aggregate.
    listed = json.loads(node.server.kubectl("get", "events", "--field-selector", "involvedObject.name=ordered",
                                            "-o", "json").stdout)["items"]
    assert sorted(e["involvedObject"].get("fieldPath") for e in listed if e["reason"] == "Pulled") == \
        ["spec.containers{main}", "spec.initContainers{first}", "spec.initContainers{side}"]


def test_a_sidecar_that_ends_is_restarted_and_holds_nothing_up(node: Node) -> None:
    """The pod's restartPolicy is Never, but a sidecar is restarted every time it exits; the container
    beside it runs on, never restarted. Before, the kubelet waited for the sidecar to exit 0 before it
    started the container (the pod stayed `PodInitializing`)."""
    create(node, "flappy", [sh("side", "sleep 0.5; exit 1", restartPolicy="Always")], sh("main", "exec sleep 3600"),
           restartPolicy="Never")
    def side_restarted_twice_while_main_runs() -> dict[str, Any] | None:
        pod = get(node, "pod", "flappy")
        found = statuses(pod) if pod else {}
        if found.get("side", {}).get("restartCount", 0) >= 2 and found.get("main", {}).get("state", {}).get("running"):
            return pod
        return None

    pod = wait_until("side restarted twice while main runs", side_restarted_twice_while_main_runs, node, timeout=30)
    assert pod["status"]["phase"] == "Running" and statuses(pod)["main"]["restartCount"] == 0


def test_a_job_pod_finishes_when_its_container_does_and_its_sidecar_is_stopped(node: Node) -> None:
    """restartPolicy Never: `main` exits 0, so the pod Succeeded although the sidecar never exits by
    itself; the kubelet stopped it (SIGTERM, which it answers with exit 0)."""
    create(node, "batch", [sh("side", "trap 'exit 0' TERM; while true; do sleep 0.1; done", restartPolicy="Always")],
           sh("main", "echo done"), restartPolicy="Never")
    pod = wait_until("batch Succeeded", lambda: (p := get(node, "pod", "batch"))
                     and p.get("status", {}).get("phase") == "Succeeded" and p, node, timeout=30)
    side = statuses(pod)["side"]["state"]
    assert side.get("terminated", {}).get("exitCode") == 0, side
