"""Which Nodes `kinn up` creates before the kubelets, and the flags those kubelets register with."""

from __future__ import annotations

from kinn.api.taints import parse_taint
from kinn.cluster import config
from kinn.cluster.registration import preassigned_nodes, registration
from kinn.kubelet.kubelet import KubeletConfig, node_labels

SEED_003 = {"networking": {"podSubnet": "10.200.0.0/16"},
            "nodes": [{"name": "controller-0", "role": "control-plane"},
                      {"name": "worker-0", "podCIDR": "10.200.0.0/24"}, {"name": "worker-1", "podCIDR": "10.200.1.0/24"}]}


def test_no_node_with_a_pod_cidr_means_no_node_created_ahead() -> None:
    assert preassigned_nodes(config.parse(config.default_document())) == []


def test_nodes_with_a_pod_cidr_are_created_with_exactly_it() -> None:
    nodes = preassigned_nodes(config.parse(SEED_003))
    assert [(n["metadata"]["name"], n["spec"]) for n in nodes] == [
        ("worker-0", {"podCIDR": "10.200.0.0/24", "podCIDRs": ["10.200.0.0/24"]}),
        ("worker-1", {"podCIDR": "10.200.1.0/24", "podCIDRs": ["10.200.1.0/24"]})]
    assert nodes[0]["metadata"]["labels"]["kubernetes.io/hostname"] == "worker-0"


def test_a_preassigned_control_plane_carries_what_its_kubelet_registers_with() -> None:
    """The Node holds the labels and taints the kubelet's flags give it: an adopting kubelet adds no taints."""
    doc = {**SEED_003, "nodes": [{"name": "controller-0", "role": "control-plane", "podCIDR": "10.200.9.0/24"},
                                 *SEED_003["nodes"][1:]]}
    spec = config.parse(doc)
    node = preassigned_nodes(spec)[0]
    flags = registration(spec, spec.control_plane).kubelet_flags()
    assert flags == ["--node-labels", "node-role.kubernetes.io/control-plane=,"
                     "node.kubernetes.io/exclude-from-external-load-balancers=",
                     "--register-with-taints", "node-role.kubernetes.io/control-plane:NoSchedule"]
    kubelet = KubeletConfig(node_name="controller-0", node_ip=spec.control_plane.ip,
                            labels=dict(pair.split("=") for pair in flags[1].split(",")))
    assert node["metadata"]["labels"] == node_labels(kubelet)
    assert node["spec"]["taints"] == [parse_taint(flags[3])] == [
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    assert registration(config.parse(SEED_003), config.parse(SEED_003).nodes[0]).kubelet_flags() == flags
    assert registration(config.parse(SEED_003), config.parse(SEED_003).nodes[1]).kubelet_flags() == []


def test_a_cluster_without_workers_runs_pods_on_its_control_plane() -> None:
    """As kind untaints a single-node cluster; and its speaker may announce LoadBalancer addresses."""
    spec = config.parse(config.default_document("solo", 0))
    assert registration(spec, spec.control_plane).kubelet_flags() == [
        "--node-labels", "node-role.kubernetes.io/control-plane="]
