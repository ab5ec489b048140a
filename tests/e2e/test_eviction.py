"""pods/eviction honours PodDisruptionBudgets: an allowed eviction spends the budget, the next is refused."""

from __future__ import annotations

import json

import kubernetes
import pytest


def running_pod(core, name: str) -> None:
    core.create_namespaced_pod("default", {
        "metadata": {"name": name, "labels": {"app": "guarded"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    })
    core.patch_namespaced_pod_status(name, "default", {"status": {"phase": "Running"}})


def evict(core, name: str) -> None:
    core.create_namespaced_pod_eviction(name, "default", {
        "apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "default"},
    })


def test_eviction_spends_the_budget_then_is_refused(apiserver):
    api = apiserver.api_client()
    core, policy = kubernetes.client.CoreV1Api(api), kubernetes.client.PolicyV1Api(api)
    policy.create_namespaced_pod_disruption_budget("default", {
        "metadata": {"name": "guard"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}},
    })
    # What the disruption controller would report for two healthy pods and minAvailable 1.
    policy.patch_namespaced_pod_disruption_budget_status("guard", "default", {"status": {
        "observedGeneration": 1, "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2,
        "disruptionsAllowed": 1}})
    running_pod(core, "guarded-a")
    running_pod(core, "guarded-b")

    evict(core, "guarded-a")
    status = policy.read_namespaced_pod_disruption_budget_status("guard", "default").status
    assert status.disruptions_allowed == 0 and "guarded-a" in status.disrupted_pods
    with pytest.raises(kubernetes.client.ApiException) as refused:
        evict(core, "guarded-b")
    assert refused.value.status == 429
    body = json.loads(refused.value.body)
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["details"]["causes"] == [{"reason": "DisruptionBudget",
                                          "message": "The disruption budget guard needs 1 healthy pods and has 2 currently"}]
    assert core.read_namespaced_pod("guarded-b", "default").metadata.deletion_timestamp is None
