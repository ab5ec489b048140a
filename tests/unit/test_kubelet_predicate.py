"""The kubelet's pod admission (predicate.go): reasons and messages exactly as upstream's."""

from __future__ import annotations

from typing import Any

from kinn.kubelet.predicate import Rejection, admit

Obj = dict[str, Any]


def node(cpu: str = "2", memory: str = "4Gi", pods: str = "110", labels: Obj | None = None,
         taints: list[Obj] | None = None) -> Obj:
    return {"metadata": {"name": "worker-1", "labels": {"kubernetes.io/hostname": "worker-1", **(labels or {})}},
            "spec": {"taints": taints or []},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}}}


def pod(name: str = "p", cpu: str | None = None, memory: str | None = None, **spec: Any) -> Obj:
    requests = {key: value for key, value in (("cpu", cpu), ("memory", memory)) if value}
    container: Obj = {"name": "c", "image": "busybox", "resources": {"requests": requests}}
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": {"nodeName": "worker-1", "containers": [container], **spec}}


def test_a_pod_that_fits_is_admitted() -> None:
    assert admit(pod(cpu="1"), node(), [pod("other", cpu="1")]) is None


def test_cpu_beyond_what_the_admitted_pods_leave_is_out_of_cpu_with_upstreams_figures() -> None:
    rejection = admit(pod(cpu="1500m"), node(cpu="2"), [pod("a", cpu="500m"), pod("b", cpu="250m")])
    assert rejection == Rejection("OutOfcpu", "Node didn't have enough resource: cpu, requested: 1500, used: 750, "
                                              "capacity: 2000")


def test_memory_is_counted_in_bytes() -> None:
    rejection = admit(pod(memory="3Gi"), node(memory="4Gi"), [pod("a", memory="2Gi")])
    assert rejection == Rejection("OutOfmemory", "Node didn't have enough resource: memory, requested: 3221225472, "
                                                 "used: 2147483648, capacity: 4294967296")


def test_an_init_container_needing_more_than_the_app_containers_sets_the_pods_need() -> None:
    init = {"name": "init", "image": "busybox", "resources": {"requests": {"cpu": "3"}}}
    rejection = admit(pod(cpu="100m", initContainers=[init]), node(cpu="2"), [])
    assert rejection is not None and rejection.reason == "OutOfcpu"
    assert "requested: 3000," in rejection.message


def test_a_full_node_is_out_of_pods() -> None:
    rejection = admit(pod(), node(pods="2"), [pod("a"), pod("b")])
    assert rejection == Rejection("OutOfpods", "Node didn't have enough resource: pods, requested: 1, used: 2, "
                                               "capacity: 2")


def test_node_selector_that_does_not_match_is_node_affinity() -> None:
    rejection = admit(pod(nodeSelector={"disk": "ssd"}), node(), [])
    assert rejection == Rejection("NodeAffinity", "Predicate NodeAffinity failed: node(s) didn't match Pod's node "
                                                  "affinity/selector")
    assert admit(pod(nodeSelector={"disk": "ssd"}), node(labels={"disk": "ssd"}), []) is None


def test_a_host_port_already_held_is_node_ports() -> None:
    def with_host_port(name: str) -> Obj:
        spec = pod(name)
        spec["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
        return spec
    rejection = admit(with_host_port("new"), node(), [with_host_port("old")])
    assert rejection == Rejection("NodePorts", "Predicate NodePorts failed: node(s) didn't have free ports for the "
                                               "requested pod ports")


def test_resources_are_reported_before_the_other_predicates() -> None:
    rejection = admit(pod(cpu="4", nodeSelector={"disk": "ssd"}), node(cpu="2"), [])
    assert rejection is not None and rejection.reason == "OutOfcpu"


def test_only_no_execute_taints_reject_and_never_a_static_pod() -> None:
    no_execute = [{"key": "dedicated", "value": "db", "effect": "NoExecute"}]
    rejection = admit(pod(), node(taints=no_execute), [])
    assert rejection == Rejection("TaintToleration", "Predicate TaintToleration failed: node(s) had untolerated taint")
    assert admit(pod(), node(taints=[{"key": "dedicated", "effect": "NoSchedule"}]), []) is None
    tolerating = pod(tolerations=[{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}])
    assert admit(tolerating, node(taints=no_execute), []) is None
    static = pod()
    static["metadata"]["annotations"] = {"kubernetes.io/config.source": "file"}
    assert admit(static, node(taints=no_execute), []) is None


def test_a_pod_for_another_os_is_refused_by_label_or_by_field() -> None:
    labelled = pod()
    labelled["metadata"]["labels"] = {"kubernetes.io/os": "windows"}
    assert admit(labelled, node(), []) == Rejection(
        "PodOSSelectorNodeLabelDoesNotMatch", "Failed to admit pod as the `kubernetes.io/os` label doesn't match "
                                              "node label")
    assert admit(pod(os={"name": "windows"}), node(), []) == Rejection(
        "PodOSNotSupported", "Failed to admit pod as the OS field doesn't match node OS")
    assert admit(pod(os={"name": "linux"}), node(), []) is None


def test_the_rejected_status_is_failed_and_keeps_the_schedulers_condition() -> None:
    rejected = pod()
    rejected["status"] = {"phase": "Pending", "qosClass": "BestEffort",
                          "conditions": [{"type": "PodScheduled", "status": "True"}]}
    status = Rejection("OutOfcpu", "Node didn't have enough resource: cpu").status(rejected, "2026-11-23T10:00:00Z")
    assert status == {"phase": "Failed", "reason": "OutOfcpu",
                      "message": "Pod was rejected: Node didn't have enough resource: cpu",
                      "startTime": "2026-11-23T10:00:00Z", "qosClass": "BestEffort",
                      "conditions": [{"type": "PodScheduled", "status": "True"}]}
