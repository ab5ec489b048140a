"""Which nodes a DaemonSet runs on, and the pod it puts there (pkg/controller/daemon/util).

Pure functions over plain objects, so node eligibility is unit-tested without a server.
"""

from __future__ import annotations

import copy
from typing import Any

from kinn.api.nodeaffinity import pod_matches_node
from kinn.api.taints import DO_NOT_SCHEDULE_EFFECTS, find_untolerated_taint
from kinn.controllers.history import REVISION_HASH_LABEL

Obj = dict[str, Any]
TEMPLATE_GENERATION_LABEL = "pod-template-generation"

# Every DaemonSet pod tolerates these, so node conditions never keep a daemon (often the very
# network or storage agent the node needs to recover) off its node (AddOrUpdateDaemonPodTolerations).
DAEMON_POD_TOLERATIONS: tuple[tuple[str, str], ...] = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
HOST_NETWORK_TOLERATION = ("node.kubernetes.io/network-unavailable", "NoSchedule")


def add_daemon_tolerations(spec: Obj) -> None:
    """Append the automatic tolerations a DaemonSet pod spec does not already carry."""
    wanted = list(DAEMON_POD_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(HOST_NETWORK_TOLERATION)
    tolerations = spec.setdefault("tolerations", [])
    for key, effect in wanted:
        toleration = {"key": key, "operator": "Exists", "effect": effect}
        if toleration not in tolerations:
            tolerations.append(toleration)


def pod_template(ds: Obj, hash_: str) -> Obj:
    """The template daemon pods are made from: tolerations plus generation and revision-hash labels."""
    template = copy.deepcopy(ds["spec"]["template"])
    add_daemon_tolerations(template.setdefault("spec", {}))
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    labels[TEMPLATE_GENERATION_LABEL] = str(ds["metadata"].get("generation", 1))
    labels[REVISION_HASH_LABEL] = hash_
    return template


def node_name_affinity(affinity: Obj | None, node_name: str) -> Obj:
    """Pin a pod to `node_name` by required node affinity, replacing any required terms
    (ReplaceDaemonSetPodNodeNameNodeAffinity: the node already passed them; the scheduler binds it)."""
    affinity = copy.deepcopy(affinity) if affinity else {}
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}
    return affinity


def target_node_name(pod: Obj) -> str | None:
    """The node a daemon pod is for: spec.nodeName once bound, else its single matchFields name."""
    spec = pod.get("spec", {})
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or []:
        for requirement in term.get("matchFields") or []:
            if (requirement.get("key") == "metadata.name" and requirement.get("operator") == "In"
                    and len(requirement.get("values") or []) == 1):
                return requirement["values"][0]
    return None


def node_should_run_daemon_pod(node: Obj, ds: Obj) -> tuple[bool, bool]:
    """(shouldRun, shouldContinueRunning) as NodeShouldRunDaemonPod.

    A node that fails the selector or affinity gets no pod and loses any it has; a NoSchedule taint
    only keeps new pods off, while a NoExecute taint also evicts a running one.
    """
    spec = copy.deepcopy(ds["spec"]["template"].get("spec") or {})
    add_daemon_tolerations(spec)
    node_name = node["metadata"]["name"]
    if spec.get("nodeName") and spec["nodeName"] != node_name:
        return False, False
    if not pod_matches_node(spec, node):
        return False, False
    taints = node.get("spec", {}).get("taints") or []
    tolerations = spec.get("tolerations") or []
    if find_untolerated_taint(taints, tolerations, DO_NOT_SCHEDULE_EFFECTS) is not None:
        return False, find_untolerated_taint(taints, tolerations, ("NoExecute",)) is None
    return True, True
