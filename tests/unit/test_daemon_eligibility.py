"""Which nodes a DaemonSet runs on (NodeShouldRunDaemonPod), and the pod pinned to each."""

from __future__ import annotations

import pytest

from kinn.controllers.daemon_util import add_daemon_tolerations, node_name_affinity, node_should_run_daemon_pod, \
    pod_template, target_node_name


def node(name: str = "n1", labels: dict | None = None, taints: list | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def daemonset(**pod_spec) -> dict:
    return {"metadata": {"name": "ds", "namespace": "kube-system", "generation": 3},
            "spec": {"template": {"metadata": {"labels": {"app": "ds"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}], **pod_spec}}}}


def taint(key: str, effect: str, value: str = "") -> dict:
    return {"key": key, "value": value, "effect": effect}


ZONE_AFFINITY = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}}


@pytest.mark.parametrize(("the_node", "pod_spec", "expected"), [
    (node(), {}, (True, True)),
    (node(labels={"disk": "ssd"}), {"nodeSelector": {"disk": "ssd"}}, (True, True)),
    (node(labels={"disk": "hdd"}), {"nodeSelector": {"disk": "ssd"}}, (False, False)),
    (node(labels={"zone": "b"}), {"affinity": ZONE_AFFINITY}, (True, True)),
    (node(labels={"zone": "c"}), {"affinity": ZONE_AFFINITY}, (False, False)),
    (node(), {"nodeName": "other"}, (False, False)),
    # NoSchedule keeps new pods off but lets a running one stay; NoExecute evicts it too.
    (node(taints=[taint("dedicated", "NoSchedule", "db")]), {}, (False, True)),
    (node(taints=[taint("dedicated", "NoExecute", "db")]), {}, (False, False)),
    (node(taints=[taint("dedicated", "PreferNoSchedule", "db")]), {}, (True, True)),
    (node(taints=[taint("dedicated", "NoSchedule", "db")]),
     {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]}, (True, True)),
    (node(taints=[taint("dedicated", "NoExecute", "db")]), {"tolerations": [{"operator": "Exists"}]}, (True, True)),
    # The automatic daemon tolerations cover node conditions ...
    (node(taints=[taint("node.kubernetes.io/unreachable", "NoExecute")]), {}, (True, True)),
    (node(taints=[taint("node.kubernetes.io/not-ready", "NoExecute")]), {}, (True, True)),
    (node(taints=[taint("node.kubernetes.io/disk-pressure", "NoSchedule")]), {}, (True, True)),
    (node(taints=[taint("node.kubernetes.io/unschedulable", "NoSchedule")]), {}, (True, True)),
    # ... and network-unavailable only for host-network pods.
    (node(taints=[taint("node.kubernetes.io/network-unavailable", "NoSchedule")]), {}, (False, True)),
    (node(taints=[taint("node.kubernetes.io/network-unavailable", "NoSchedule")]), {"hostNetwork": True}, (True, True)),
])
def test_node_should_run_daemon_pod(the_node, pod_spec, expected):
    assert node_should_run_daemon_pod(the_node, daemonset(**pod_spec)) == expected


def test_pod_template_labels_and_tolerations_do_not_touch_the_daemonset():
    ds = daemonset()
    template = pod_template(ds, "abc123")
    assert template["metadata"]["labels"] == {"app": "ds", "pod-template-generation": "3",
                                              "controller-revision-hash": "abc123"}
    assert len(template["spec"]["tolerations"]) == 6
    assert "tolerations" not in ds["spec"]["template"]["spec"]


def test_tolerations_are_added_once():
    spec = {"hostNetwork": True}
    add_daemon_tolerations(spec)
    add_daemon_tolerations(spec)
    assert len(spec["tolerations"]) == 7


def test_node_name_affinity_replaces_required_terms_and_names_the_target():
    affinity = node_name_affinity(ZONE_AFFINITY, "n7")
    pod = {"spec": {"affinity": affinity}}
    assert affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n7"]}]}]}
    assert target_node_name(pod) == "n7"
    assert target_node_name({"spec": {"nodeName": "bound", "affinity": affinity}}) == "bound"
    assert ZONE_AFFINITY["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0][
        "matchExpressions"]  # the input is not modified
