"""OOM score adjustments by QoS class (pkg/kubelet/qos/policy.go's table)."""

from __future__ import annotations

from typing import Any

import pytest

from kinn.kubelet import oom
from kinn.kubelet.qos import container_oom_score_adjust

GI = 2**30


def pod(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    container = {"name": "app", "resources": {"requests": requests or {}, "limits": limits or {}}}
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [container], **spec}}


@pytest.mark.parametrize("requests, limits, expected", [
    ({}, {}, 1000),  # BestEffort: first to go
    ({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}, -997),  # Guaranteed: last
    ({"memory": "1Gi"}, {}, 750),  # Burstable: 1000 - 1000 * 1Gi / 4Gi
    ({"cpu": "100m"}, {}, 999),  # Burstable without a memory request: just below BestEffort
    ({"memory": "4Gi"}, {"memory": "8Gi"}, 3),  # all the node's memory: still above Guaranteed
])
def test_the_score_follows_the_qos_class_and_the_memory_request(requests: dict[str, str], limits: dict[str, str],
                                                                 expected: int) -> None:
    spec = pod(requests, limits)
    assert container_oom_score_adjust(spec, spec["spec"]["containers"][0], 4 * GI) == expected


def test_a_node_critical_static_pod_is_protected_as_guaranteed() -> None:
    critical = pod(priorityClassName="system-node-critical", priority=2_000_001_000)
    assert container_oom_score_adjust(critical, critical["spec"]["containers"][0], 4 * GI) == -997
    named_only = pod(priorityClassName="system-node-critical")  # without the priority it is not critical
    assert container_oom_score_adjust(named_only, named_only["spec"]["containers"][0], 4 * GI) == 1000


def test_without_cap_sys_resource_no_score_goes_below_the_kubelets_own(monkeypatch: pytest.MonkeyPatch) -> None:
    own = int(open("/proc/self/oom_score_adj").read())
    monkeypatch.setattr(oom, "_may_lower", lambda: False)
    assert (oom.restrict_oom_score_adj(-997), oom.restrict_oom_score_adj(1000)) == (max(-997, own), 1000)
    monkeypatch.setattr(oom, "_may_lower", lambda: True)
    assert oom.restrict_oom_score_adj(-998) == -998
