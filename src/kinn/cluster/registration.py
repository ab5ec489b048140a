"""How `kinn up`'s nodes register: each kubelet's labels and taints, and the Nodes created ahead of them.

A node with a `podCIDR` in the cluster config must get exactly that subnet. The node IPAM controller
keeps the subnet a Node already holds and allocates only to Nodes without one, in the order they
appear; so `kinn up` creates those Nodes itself, spec.podCIDR set, before any kubelet starts, as an
admin may pre-create Nodes for a real cluster. Each kubelet then adopts its Node (the AlreadyExists
path of registerWithAPIServer), which keeps the spec and updates labels and status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kinn.api.taints import parse_taint
from kinn.cluster.config import ClusterSpec, NodeSpec
from kinn.loadbalancer.election import EXCLUDE_LABEL

Obj = dict[str, Any]
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"


@dataclass(frozen=True)
class Registration:
    """What a node's kubelet registers with beyond its defaults: --node-labels and --register-with-taints."""

    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[str, ...] = ()  # `key=value:Effect` or `key:Effect`, as the flag spells them

    def kubelet_flags(self) -> list[str]:
        flags = ["--node-labels", ",".join(f"{key}={value}" for key, value in self.labels.items())] \
            if self.labels else []
        return flags + (["--register-with-taints", ",".join(self.taints)] if self.taints else [])


def registration(spec: ClusterSpec, node: NodeSpec) -> Registration:
    """A control-plane node as kubeadm registers it, with the exclusion label too: load balancers (kinn's
    speakers as well) announce from workers. In a cluster without workers, the control plane is where
    everything runs: it is not tainted, as kind untaints a single-node cluster's, nor excluded, so that
    LoadBalancer addresses are announced (what kind's users do by hand for cloud-provider-kind)."""
    if not node.is_control_plane:
        return Registration()
    if all(other.is_control_plane for other in spec.nodes):
        return Registration(labels={CONTROL_PLANE_LABEL: ""})
    return Registration(labels={CONTROL_PLANE_LABEL: "", EXCLUDE_LABEL: ""},
                        taints=(f"{CONTROL_PLANE_LABEL}:NoSchedule",))


def preassigned_nodes(spec: ClusterSpec) -> list[Obj]:
    """The Nodes `kinn up` creates before the kubelets start: one per node with a configured podCIDR, with
    the labels and taints its kubelet would register (kubelets do not add taints to a Node they adopt)."""
    return [_node(spec, node) for node in spec.nodes if node.pod_cidr]


def _node(cluster: ClusterSpec, node: NodeSpec) -> Obj:
    # The kubelet's own label function, imported only here: the kubelet module is large, and `kinn up`
    # without configured podCIDRs (the usual case) should not pay for importing it.
    from kinn.kubelet.kubelet import KubeletConfig, node_labels

    own = registration(cluster, node)
    labels = node_labels(KubeletConfig(node_name=node.name, node_ip=node.ip, labels=own.labels))
    spec: Obj = {"podCIDR": str(node.pod_cidr), "podCIDRs": [str(node.pod_cidr)]}
    if own.taints:
        spec["taints"] = [parse_taint(taint) for taint in own.taints]
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node.name, "labels": labels}, "spec": spec}
