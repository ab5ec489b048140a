"""Each filter plugin rejects exactly the nodes it should, with upstream's reason (table-driven)."""

from __future__ import annotations

import pytest

from scheduler_util import Harness, node, pod

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
ZONE = "topology.kubernetes.io/zone"


def affinity(kind: str, selector: dict, key: str = "kubernetes.io/hostname") -> dict:
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": selector}, "topologyKey": key}]}}


CASES = [
    pytest.param(
        [node("a", cpu="1"), node("b", cpu="2")], [pod("x", cpu="600m", node_name="b")], pod("p", cpu="1500m"),
        {"a": "Insufficient cpu", "b": "Insufficient cpu"}, id="insufficient-cpu"),
    pytest.param(
        [node("a", memory="1Gi"), node("b")], [], pod("p", memory="2Gi"), {"a": "Insufficient memory"},
        id="insufficient-memory"),
    pytest.param(
        [node("a", pods=1), node("b", pods=2)], [pod("x", node_name="a"), pod("y", node_name="b")], pod("p"),
        {"a": "Too many pods"}, id="too-many-pods"),
    pytest.param(
        [node("a", cpu="1", memory="1Gi")], [], pod("p", cpu="2", memory="2Gi"),
        {"a": "Insufficient cpu, Insufficient memory"}, id="all-reasons-kept"),
    pytest.param(
        [node("a"), node("b")], [], pod("p", containers=[{
            "name": "c", "image": "i", "resources": {"requests": {"ephemeral-storage": "20Gi"}}}]),
        {"a": "Insufficient ephemeral-storage", "b": "Insufficient ephemeral-storage"}, id="ephemeral-storage"),
    pytest.param(
        [node("a"), node("b")], [], pod("p", nodeName="b"), {"a": "node(s) didn't match the requested node name"},
        id="node-name"),
    pytest.param(
        [node("a", unschedulable=True), node("b")], [], pod("p"), {"a": "node(s) were unschedulable"},
        id="unschedulable"),
    pytest.param(
        [node("a", unschedulable=True)], [], pod("p", tolerations=[
            {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]), {},
        id="unschedulable-tolerated"),
    pytest.param(
        [node("cp", taints=[CP_TAINT]), node("w")], [], pod("p"),
        {"cp": "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"}, id="taint"),
    pytest.param(
        [node("a", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}])], [], pod("p"),
        {"a": "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"}, id="not-ready"),
    pytest.param(
        [node("a", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]),
         node("b", taints=[{"key": "soft", "effect": "PreferNoSchedule"}])], [],
        pod("p"), {"a": "node(s) had untolerated taint {dedicated: gpu}"}, id="taint-value-and-prefer-ignored"),
    pytest.param(
        [node("a", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])], [],
        pod("p", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu"}]), {}, id="tolerated"),
    pytest.param(
        [node("a", labels={"disk": "ssd"}), node("b")], [], pod("p", nodeSelector={"disk": "ssd"}),
        {"b": "node(s) didn't match Pod's node affinity/selector"}, id="node-selector"),
    pytest.param(
        [node("a", labels={"gen": "3"}), node("b", labels={"gen": "5"})], [],
        pod("p", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]}]}}}),
        {"a": "node(s) didn't match Pod's node affinity/selector"}, id="node-affinity-gt"),
    pytest.param(
        [node("a"), node("b")], [],
        pod("p", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}}),
        {"a": "node(s) didn't match Pod's node affinity/selector"}, id="node-affinity-match-fields"),
    pytest.param(
        [node("a"), node("b")], [pod("x", node_name="a", ports=[{"containerPort": 80, "hostPort": 8080}])],
        pod("p", ports=[{"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.1"}]),
        {"a": "node(s) didn't have free ports for the requested pod ports"}, id="host-port"),
    pytest.param(
        [node("a")], [pod("x", node_name="a", ports=[{"containerPort": 80, "hostPort": 8080}])],
        pod("p", ports=[{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}]), {}, id="host-port-other-protocol"),
    pytest.param(
        [node("a"), node("b")], [pod("db", node_name="a", labels={"app": "db"})],
        pod("p", affinity=affinity("podAffinity", {"app": "db"})),
        {"b": "node(s) didn't match pod affinity rules"}, id="pod-affinity"),
    pytest.param(
        [node("a"), node("b")], [], pod("p", labels={"app": "web"}, affinity=affinity("podAffinity", {"app": "web"})),
        {}, id="pod-affinity-first-of-its-group"),
    pytest.param(
        [node("a"), node("b")], [pod("w1", node_name="a", labels={"app": "web"})],
        pod("p", labels={"app": "web"}, affinity=affinity("podAntiAffinity", {"app": "web"})),
        {"a": "node(s) didn't match pod anti-affinity rules"}, id="pod-anti-affinity"),
    pytest.param(
        [node("a", labels={ZONE: "z1"}), node("b", labels={ZONE: "z1"}), node("c", labels={ZONE: "z2"})],
        [pod("w1", node_name="a", labels={"app": "web"}, affinity=affinity("podAntiAffinity", {"app": "web"}, ZONE))],
        pod("p", labels={"app": "web"}),
        {"a": "node(s) didn't satisfy existing pods anti-affinity rules",
         "b": "node(s) didn't satisfy existing pods anti-affinity rules"}, id="existing-anti-affinity-zone"),
    pytest.param(
        [node("a", labels={ZONE: "z1"}), node("b", labels={ZONE: "z2"}), node("c")],
        [pod("w1", node_name="a", labels={"app": "web"}), pod("w2", node_name="a", labels={"app": "web"})],
        pod("p", labels={"app": "web"}, topologySpreadConstraints=[{
            "maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}}}]),
        {"a": "node(s) didn't match pod topology spread constraints",
         "c": "node(s) didn't match pod topology spread constraints (missing required label)"}, id="topology-spread"),
]


@pytest.mark.parametrize("nodes, pods, pending, rejected", CASES)
def test_filter(nodes: list, pods: list, pending: dict, rejected: dict) -> None:
    assert Harness(nodes, pods).reasons(pending) == rejected


CLAIM = {"metadata": {"name": "data", "namespace": "default"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
BOUND = {"metadata": {"name": "data", "namespace": "default"}, "spec": {"volumeName": "pv1"}}
LOCAL_PV = {"metadata": {"name": "pv1"}, "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["b"]}]}]}}}}
RWOP = {"metadata": {"name": "data", "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOncePod"], "volumeName": "pv2"}}
WFFC = {"metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer"}
WFFC_CLAIM = {"metadata": {"name": "data", "namespace": "default"},
              "spec": {"storageClassName": "local", "accessModes": ["ReadWriteOnce"],
                       "resources": {"requests": {"storage": "1Gi"}}}}
AVAILABLE_PV = {"metadata": {"name": "pv3"}, "status": {"phase": "Available"},
                "spec": {"storageClassName": "local", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "5Gi"},
                         **LOCAL_PV["spec"]}}
VOLUME = [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]


@pytest.mark.parametrize("objects, pods, rejected", [
    pytest.param({}, [], {"a": 'persistentvolumeclaim "data" not found', "b": 'persistentvolumeclaim "data" not found'},
                 id="claim-missing"),
    pytest.param({"PersistentVolumeClaim": [CLAIM]}, [],
                 {"a": "pod has unbound immediate PersistentVolumeClaims",
                  "b": "pod has unbound immediate PersistentVolumeClaims"}, id="unbound-immediate"),
    pytest.param({"PersistentVolumeClaim": [BOUND], "PersistentVolume": [LOCAL_PV]}, [],
                 {"a": "node(s) had volume node affinity conflict"}, id="bound-local-volume"),
    pytest.param({"PersistentVolumeClaim": [WFFC_CLAIM], "StorageClass": [WFFC], "PersistentVolume": [AVAILABLE_PV]},
                 [], {"a": "node(s) didn't find available persistent volumes to bind"}, id="wait-for-first-consumer"),
    pytest.param({"PersistentVolumeClaim": [RWOP], "PersistentVolume": [{"metadata": {"name": "pv2"}, "spec": {}}]},
                 [pod("other", node_name="b", volumes=VOLUME)],
                 {"a": "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode",
                  "b": "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"},
                 id="read-write-once-pod"),
])
def test_volume_filters(objects: dict, pods: list, rejected: dict) -> None:
    harness = Harness([node("a"), node("b")], pods, objects)
    assert harness.reasons(pod("p", volumes=VOLUME)) == rejected
