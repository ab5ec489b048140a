"""OOM score adjustments by QoS class (pkg/kubelet/qos/policy.go).

When a node runs out of memory, the kernel's OOM killer picks the process with the highest
oom_score, which `oom_score_adj` shifts. The kubelet sets it so that BestEffort pods die first,
Burstable ones next (the more memory they request, the later), and Guaranteed ones and the
sandboxes' pause processes last.
"""

from __future__ import annotations

from typing import Any

from kinn.api.qos import qos_class
from kinn.api.quantity import value
from kinn.kubelet.static_pods import is_mirror_pod, is_static_pod

Obj = dict[str, Any]
POD_INFRA_OOM_ADJ = -998  # pause: killing it would kill the whole pod
GUARANTEED_OOM_SCORE_ADJ = -997
BESTEFFORT_OOM_SCORE_ADJ = 1000
SYSTEM_CRITICAL_PRIORITY = 2_000_000_000
NODE_CRITICAL_CLASS = "system-node-critical"


def _is_node_critical(pod: Obj) -> bool:
    """IsNodeCriticalPod: critical (static, mirror or system priority) and of class system-node-critical."""
    spec = pod["spec"]
    critical = is_static_pod(pod) or is_mirror_pod(pod) or (spec.get("priority") or 0) >= SYSTEM_CRITICAL_PRIORITY
    return critical and spec.get("priorityClassName") == NODE_CRITICAL_CLASS


def container_oom_score_adjust(pod: Obj, container: Obj, memory_capacity: int) -> int:
    """GetContainerOOMScoreAdjust: -997 for Guaranteed (and node-critical) pods, 1000 for BestEffort;
    a Burstable container 1000 minus its memory request in thousandths of the node's memory, kept
    between 3 (above any Guaranteed container's score) and 999 (below BestEffort's)."""
    if _is_node_critical(pod):
        return GUARANTEED_OOM_SCORE_ADJ
    qos = qos_class(pod["spec"])
    if qos == "Guaranteed":
        return GUARANTEED_OOM_SCORE_ADJ
    if qos == "BestEffort":
        return BESTEFFORT_OOM_SCORE_ADJ
    request = value(str(((container.get("resources") or {}).get("requests") or {}).get("memory", 0)))
    adjust = 1000 - (1000 * request) // memory_capacity
    return min(max(adjust, 1000 + GUARANTEED_OOM_SCORE_ADJ), BESTEFFORT_OOM_SCORE_ADJ - 1)
