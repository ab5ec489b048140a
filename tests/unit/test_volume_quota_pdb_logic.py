"""Pure rules of the PersistentVolume binder, ResourceQuota usage and PodDisruptionBudget arithmetic."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kinn.controllers.disruption import disruption_condition, expected_and_desired, live_disrupted_pods, needs_scale
from kinn.controllers.quotausage import scope_requirements, usage_of, used_status
from kinn.controllers.resourcequota import evaluated_resource
from kinn.controllers.volumematch import find_best_match


def pv(name, size, modes=("ReadWriteOnce",), cls="", labels=None, claim_ref=None, mode=None):
    spec = {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls}
    if claim_ref:
        spec["claimRef"] = claim_ref
    if mode:
        spec["volumeMode"] = mode
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def pvc(size, modes=("ReadWriteOnce",), cls="", selector=None, mode=None):
    spec = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}, "storageClassName": cls}
    if selector is not None:
        spec["selector"] = selector
    if mode:
        spec["volumeMode"] = mode
    return {"metadata": {"name": "c", "namespace": "ns", "uid": "u1"}, "spec": spec}


@pytest.mark.parametrize("volumes, claim, chosen", [
    ([pv("big", "10Gi"), pv("small", "2Gi"), pv("tiny", "500Mi")], pvc("1Gi"), "small"),
    ([pv("exact", "1Gi"), pv("more", "2Gi")], pvc("1Gi"), "exact"),
    ([pv("rwx", "1Gi", ("ReadWriteOnce", "ReadWriteMany")), pv("rwo", "5Gi")], pvc("1Gi"), "rwo"),
    ([pv("rwo", "5Gi")], pvc("1Gi", ("ReadWriteMany",)), None),
    ([pv("fast", "5Gi", cls="fast"), pv("plain", "5Gi")], pvc("1Gi", cls="fast"), "fast"),
    ([pv("block", "5Gi", mode="Block"), pv("fs", "9Gi")], pvc("1Gi"), "fs"),
    ([pv("block", "5Gi", mode="Block")], pvc("1Gi", mode="Block"), "block"),
    ([pv("a", "5Gi", labels={"tier": "a"}), pv("b", "2Gi")], pvc("1Gi", selector={"matchLabels": {"tier": "a"}}), "a"),
    ([pv("taken", "1Gi", claim_ref={"name": "other", "namespace": "ns", "uid": "x"})], pvc("1Gi"), None),
    ([pv("big", "1Gi"), pv("mine", "9Gi", claim_ref={"name": "c", "namespace": "ns"})], pvc("1Gi"), "mine"),
])
def test_claim_matches_the_smallest_suitable_volume(volumes, claim, chosen):
    found = find_best_match(volumes, claim)
    assert (found["metadata"]["name"] if found else None) == chosen


@pytest.mark.parametrize("spec, pods, scale, expected", [
    ({"minAvailable": 2}, 3, 0, (3, 2)),
    ({"minAvailable": "50%"}, 3, 5, (5, 3)),  # percentages round up
    ({"maxUnavailable": 1}, 3, 4, (4, 3)),
    ({"maxUnavailable": "25%"}, 3, 5, (5, 3)),  # 25% of 5 → 2 may be unavailable
    ({"maxUnavailable": "100%"}, 3, 3, (3, 0)),
    ({"maxUnavailable": 10}, 3, 3, (3, 0)),
])
def test_expected_and_desired_healthy(spec, pods, scale, expected):
    assert expected_and_desired(spec, pods, scale) == expected


@pytest.mark.parametrize("spec, scale_needed", [
    ({"minAvailable": 2}, False), ({"minAvailable": "10%"}, True), ({"maxUnavailable": 1}, True)])
def test_only_integer_min_available_ignores_controllers(spec, scale_needed):
    assert needs_scale(spec) is scale_needed


def test_disruption_condition_keeps_its_transition_time_until_it_flips():
    first = disruption_condition(1, [], 3, "t1")
    assert first == {"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods", "message": "",
                     "observedGeneration": 3, "lastTransitionTime": "t1"}
    assert disruption_condition(2, [first], 3, "t2")["lastTransitionTime"] == "t1"
    flipped = disruption_condition(0, [first], 3, "t3")
    assert (flipped["status"], flipped["reason"], flipped["lastTransitionTime"]) == ("False", "InsufficientPods", "t3")


def test_disrupted_pods_expire_when_gone_deleting_or_old():
    now = datetime(2024, 1, 1, 0, 10, tzinfo=timezone.utc)
    recent = (now - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    old = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pods = {"a": {"metadata": {}}, "b": {"metadata": {"deletionTimestamp": recent}}, "c": {"metadata": {}}}
    assert live_disrupted_pods({"a": recent, "b": recent, "c": old, "gone": recent}, pods, now) == {"a": recent}


def container(requests=None, limits=None):
    return {"name": "c", "resources": {"requests": requests or {}, "limits": limits or {}}}


def pod(phase="Running", cpu="100m", memory="64Mi", deadline=None):
    spec = {"containers": [container({"cpu": cpu, "memory": memory}, {"memory": "128Mi"})]}
    if deadline:
        spec["activeDeadlineSeconds"] = deadline
    return {"metadata": {"name": "p"}, "spec": spec, "status": {"phase": phase}}


def test_pod_usage_sums_active_pods_and_count_pods_counts_them_all():
    usage = usage_of("pods", "", [pod(), pod(cpu="1", memory="1Gi"), pod(phase="Succeeded")])
    hard = {"pods": "9", "count/pods": "9", "requests.cpu": "4", "cpu": "4", "requests.memory": "4Gi",
            "limits.memory": "4Gi", "limits.cpu": "4"}
    assert used_status(hard, usage) == {"pods": "2", "count/pods": "3", "requests.cpu": "1100m", "cpu": "1100m",
                                        "requests.memory": "1088Mi", "limits.memory": "256Mi", "limits.cpu": "0"}


@pytest.mark.parametrize("scopes, counted", [
    (["Terminating"], 1), (["NotTerminating"], 2), (["BestEffort"], 0), (["NotBestEffort"], 3)])
def test_quota_scopes_select_pods(scopes, counted):
    pods = [pod(), pod(), pod(deadline=60)]
    requirements = scope_requirements({"spec": {"scopes": scopes}})
    assert used_status({"pods": "9"}, usage_of("pods", "", pods, requirements)) == {"pods": str(counted)}


def test_a_scope_selector_counts_pods_by_priority_class_and_nothing_else():
    """scopeSelector as admission reads it: the controller must not count what admission would not charge."""
    quota = {"spec": {"scopeSelector": {"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}}
    high = pod()
    high["spec"]["priorityClassName"] = "high"
    requirements = scope_requirements(quota)
    assert used_status({"pods": "9"}, usage_of("pods", "", [high, pod(), pod()], requirements)) == {"pods": "1"}
    assert usage_of("services", "", [{"spec": {"type": "ClusterIP"}}], requirements) == {}


def test_services_claims_and_object_counts():
    services = [{"spec": {"type": "LoadBalancer", "ports": [{"port": 80, "nodePort": 30001},
                                                            {"port": 443, "nodePort": 30002}]}},
                {"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}]
    assert used_status({"services": "9", "services.loadbalancers": "9", "services.nodeports": "9"},
                       usage_of("services", "", services)) == {
        "services": "2", "services.loadbalancers": "1", "services.nodeports": "2"}
    claims = [{"spec": {"storageClassName": "gold", "resources": {"requests": {"storage": "1Gi"}}}},
              {"spec": {"resources": {"requests": {"storage": "512Mi"}}}}]
    assert used_status({"requests.storage": "9", "gold.storageclass.storage.k8s.io/requests.storage": "9",
                        "persistentvolumeclaims": "9"}, usage_of("persistentvolumeclaims", "", claims)) == {
        "requests.storage": "1536Mi", "gold.storageclass.storage.k8s.io/requests.storage": "1Gi",
        "persistentvolumeclaims": "2"}
    assert used_status({"count/deployments.apps": "9", "configmaps": "9"},
                       usage_of("deployments", "apps", [{}, {}, {}])) == {"count/deployments.apps": "3",
                                                                         "configmaps": "0"}


@pytest.mark.parametrize("name, kind", [
    ("pods", ("pods", "")), ("requests.cpu", ("pods", "")), ("limits.memory", ("pods", "")), ("cpu", ("pods", "")),
    ("requests.storage", ("persistentvolumeclaims", "")),
    ("gold.storageclass.storage.k8s.io/persistentvolumeclaims", ("persistentvolumeclaims", "")),
    ("services.nodeports", ("services", "")), ("secrets", ("secrets", "")),
    ("count/deployments.apps", ("deployments", "apps")), ("count/pods", ("pods", "")), ("bogus", None),
])
def test_quota_resource_names_map_to_the_objects_they_count(name, kind):
    assert evaluated_resource(name) == kind
