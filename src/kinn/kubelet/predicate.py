"""Pod admission: the kubelet's last check before it runs a pod bound to its node
(pkg/kubelet/lifecycle/predicate.go).

The scheduler already checked the pod against the node, but a pod created with `spec.nodeName`
never met the scheduler, and the node can change in between. So the kubelet re-runs the
scheduler's own filters (`admission_check`) against the pods it runs, plus the checks only a
node can make (its OS, NoExecute taints). A pod that fails is never started: it is Failed with
the first failure as its reason (`OutOfcpu`, `NodeAffinity`, …), as `kubectl get pods` shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from kinn.api.taints import find_untolerated_taint
from kinn.kubelet.static_pods import is_static_pod
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo
from kinn.scheduler.schedule_one import AdmissionResult, admission_check

Obj = dict[str, Any]
NODE_OS = "linux"
LABEL_OS = "kubernetes.io/os"
TAINT_TOLERATION = "TaintToleration"
ERR_REASON_UNTOLERATED = "node(s) had untolerated taint"
# Upstream names the reason after the resource, except for these four (OutOfCPU …).
OUT_OF = {"cpu": "OutOfcpu", "memory": "OutOfmemory", "ephemeral-storage": "OutOfephemeral-storage",
          "pods": "OutOfpods"}


@dataclass(frozen=True)
class Rejection:
    """Why the kubelet will not run a pod: an event reason and its message."""

    reason: str
    message: str

    def status(self, pod: Obj, start_time: str) -> Obj:
        """The status of a rejected pod (rejectPod): Failed, never started; the scheduler's
        condition and the QoS class stay as they were."""
        reported = pod.get("status") or {}
        status = {"phase": "Failed", "reason": self.reason, "message": f"Pod was rejected: {self.message}",
                  "startTime": start_time,
                  "conditions": [dict(c) for c in reported.get("conditions") or () if c.get("type") == "PodScheduled"],
                  "qosClass": reported.get("qosClass")}
        return {key: value for key, value in status.items() if value is not None}


def _rejection(result: AdmissionResult) -> Rejection:
    lacking = result.insufficient_resource
    if lacking is None:
        return Rejection(result.name, f"Predicate {result.name} failed: {result.reason}")
    return Rejection(OUT_OF.get(lacking.resource_name, f"OutOf{lacking.resource_name}"),
                     f"Node didn't have enough resource: {lacking.resource_name}, requested: {lacking.requested}, "
                     f"used: {lacking.used}, capacity: {lacking.capacity}")


def admit(pod: Obj, node: Obj, active_pods: Iterable[Obj]) -> Rejection | None:
    """None if the node can run `pod` beside `active_pods` (those it already admitted and has not
    finished), else the first reason it cannot (predicateAdmitHandler.Admit). Static pods skip
    the taint check: a node runs its own manifests whatever its taints."""
    if (pod["metadata"].get("labels") or {}).get(LABEL_OS, NODE_OS) != NODE_OS:
        return Rejection("PodOSSelectorNodeLabelDoesNotMatch",
                         f"Failed to admit pod as the `{LABEL_OS}` label doesn't match node label")
    if ((pod["spec"].get("os") or {}).get("name") or NODE_OS) != NODE_OS:
        return Rejection("PodOSNotSupported", "Failed to admit pod as the OS field doesn't match node OS")
    info = NodeInfo(node)
    for other in active_pods:
        info.add_pod(PodInfo(other))
    failures = admission_check(PodInfo(pod), info)
    if failures:
        return _rejection(failures[0])
    tolerations = pod["spec"].get("tolerations") or []
    if not is_static_pod(pod) and find_untolerated_taint(info.taints, tolerations, ("NoExecute",)) is not None:
        return Rejection(TAINT_TOLERATION, f"Predicate {TAINT_TOLERATION} failed: {ERR_REASON_UNTOLERATED}")
    return None
