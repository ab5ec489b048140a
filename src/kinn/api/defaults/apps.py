"""apps/v1 defaults, as pkg/apis/apps/v1/defaults.go (`SetObjectDefaults_<Kind>`).

What `kubectl get -o yaml` shows on a 1.32 cluster for a minimal manifest: a rolling update of
25%/25% for Deployments, 1/0 for DaemonSets, an ordered, partitioned roll for StatefulSets.
"""

from __future__ import annotations

from typing import Any, Callable

from kinn.api.defaults.core import default_pod_template_spec

Obj = dict[str, Any]

REVISION_HISTORY_LIMIT = 10


def _spec(obj: Obj) -> Obj:
    return obj.setdefault("spec", {})


def _default_template(spec: Obj) -> None:
    default_pod_template_spec(spec.setdefault("template", {}))


def _default_rolling_strategy(strategy: Obj, rolling_update: Obj) -> None:
    """Only a RollingUpdate strategy gets rolling parameters; each unset one is filled separately."""
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        for key, value in rolling_update.items():
            rolling.setdefault(key, value)


def default_deployment(obj: Obj) -> None:
    spec = _spec(obj)
    spec.setdefault("replicas", 1)
    _default_rolling_strategy(spec.setdefault("strategy", {}), {"maxUnavailable": "25%", "maxSurge": "25%"})
    spec.setdefault("revisionHistoryLimit", REVISION_HISTORY_LIMIT)
    spec.setdefault("progressDeadlineSeconds", 600)
    _default_template(spec)


def default_replica_set(obj: Obj) -> None:
    spec = _spec(obj)
    spec.setdefault("replicas", 1)
    _default_template(spec)


def default_daemon_set(obj: Obj) -> None:
    spec = _spec(obj)
    _default_rolling_strategy(spec.setdefault("updateStrategy", {}), {"maxUnavailable": 1, "maxSurge": 0})
    spec.setdefault("revisionHistoryLimit", REVISION_HISTORY_LIMIT)
    _default_template(spec)


def default_persistent_volume_claim_template(claim: Obj) -> None:
    """Claim templates are full PersistentVolumeClaims and are defaulted (and printed) as such."""
    claim.setdefault("apiVersion", "v1")
    claim.setdefault("kind", "PersistentVolumeClaim")
    claim.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
    claim.setdefault("status", {}).setdefault("phase", "Pending")


def default_stateful_set(obj: Obj) -> None:
    spec = _spec(obj)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
    policy = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
    policy.setdefault("whenDeleted", "Retain")
    policy.setdefault("whenScaled", "Retain")
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", REVISION_HISTORY_LIMIT)
    _default_template(spec)
    for claim in spec.get("volumeClaimTemplates") or []:
        default_persistent_volume_claim_template(claim)


DEFAULTERS: dict[str, Callable[[Obj], None]] = {
    "Deployment": default_deployment,
    "ReplicaSet": default_replica_set,
    "DaemonSet": default_daemon_set,
    "StatefulSet": default_stateful_set,
}
