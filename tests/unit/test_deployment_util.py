"""Deployment arithmetic against upstream's tables: fenceposts, new-set growth, scale-down budgets,
proportional scaling, annotations, conditions and the pod-template-hash."""

from __future__ import annotations

import pytest

from kinn.controllers import deployment_util as du


def deployment(replicas: int, surge: int | str = "25%", unavailable: int | str = "25%", strategy: str = "RollingUpdate",
               status_replicas: int = 0) -> dict:
    spec: dict = {"replicas": replicas, "strategy": {"type": strategy}, "template": {"metadata": {"labels": {"a": "b"}}}}
    if strategy == "RollingUpdate":
        spec["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"metadata": {"name": "web", "generation": 1, "annotations": {}}, "spec": spec,
            "status": {"replicas": status_replicas}}


def rs(name: str, replicas: int, available: int = 0, created: str = "2024-01-01T00:00:00Z",
       max_replicas: int | None = None) -> dict:
    annotations = {} if max_replicas is None else {du.MAX_REPLICAS_ANNOTATION: str(max_replicas)}
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": created, "annotations": annotations},
            "spec": {"replicas": replicas}, "status": {"replicas": replicas, "availableReplicas": available}}


@pytest.mark.parametrize("surge, unavailable, desired, want", [
    ("25%", "25%", 4, (1, 1)),
    ("25%", "25%", 10, (3, 2)),   # surge rounds up, unavailable down
    ("25%", "25%", 1, (1, 0)),
    ("30%", "30%", 3, (1, 0)),
    (0, 0, 5, (0, 1)),            # both zero would never progress
    ("0%", "0%", 3, (0, 1)),
    (1, "50%", 3, (1, 1)),
    (2, 0, 0, (2, 0)),
])
def test_resolve_fenceposts(surge, unavailable, desired, want):
    assert du.resolve_fenceposts(surge, unavailable, desired) == want


@pytest.mark.parametrize("value, total, round_up, want", [
    (3, 10, True, 3), ("10%", 15, True, 2), ("10%", 15, False, 1), ("100%", 7, False, 7), ("0%", 7, True, 0),
])
def test_scaled_value(value, total, round_up, want):
    assert du.scaled_value(value, total, round_up) == want


def test_scaled_value_rejects_a_plain_string():
    with pytest.raises(ValueError, match="string is not a percentage"):
        du.scaled_value("5", 10, True)


@pytest.mark.parametrize("d, want_surge, want_unavailable", [
    (deployment(3, 1, 5), 1, 3),                       # maxUnavailable never exceeds replicas
    (deployment(0, "25%", "25%"), 0, 0),
    (deployment(4, strategy="Recreate"), 0, 0),
])
def test_max_surge_and_unavailable(d, want_surge, want_unavailable):
    assert (du.max_surge(d), du.max_unavailable(d)) == (want_surge, want_unavailable)


@pytest.mark.parametrize("d, old, new, want", [
    (deployment(3), [rs("v1", 3)], rs("v2", 0), 1),                 # 3 + surge 1 = 4 pods at most
    (deployment(10), [rs("v1", 10)], rs("v2", 0), 3),
    (deployment(10), [rs("v1", 8)], rs("v2", 5), 5),                 # 13 = 10 + 3: no room
    (deployment(10), [rs("v1", 2)], rs("v2", 9), 10),                # never beyond replicas
    (deployment(4, strategy="Recreate"), [rs("v1", 4)], rs("v2", 0), 4),
])
def test_new_rs_new_replicas(d, old, new, want):
    assert du.new_rs_new_replicas(d, [*old, new], new) == want


def test_scale_down_budget_counts_unavailable_new_pods():
    d = deployment(10, 3, 2)
    old, new = rs("v1", 10, available=10), rs("v2", 3, available=0)
    assert du.max_scaled_down([old, new], new, d) == 2          # 13 - 8 - 3
    assert du.unhealthy_cleanup_plan([old], 2) == []
    [(target, size)] = du.rolling_scale_down_plan([old, new], [old], d)
    assert (target["metadata"]["name"], size) == ("v1", 8)


def test_scale_down_counts_no_more_available_pods_than_a_set_wants():
    """The old set was just scaled 4 -> 3 and its status still shows 4 available: it has at most 3."""
    d = deployment(4, 1, 1)
    old, new = rs("v1", 3, available=4), rs("v2", 2, available=1)
    assert du.max_scaled_down([old, new], new, d) == 1
    [(target, size)] = du.rolling_scale_down_plan([old, new], [old], d)
    assert (target["metadata"]["name"], size) == ("v1", 2)   # 2 + 1 available = replicas - maxUnavailable


def test_unhealthy_old_replicas_go_first_and_oldest_set_first():
    older = rs("v0", 2, available=1, created="2024-01-01T00:00:00Z")
    old = rs("v1", 6, available=3, created="2024-01-02T00:00:00Z")
    plan = du.unhealthy_cleanup_plan([old, older], 3)
    assert [(r["metadata"]["name"], size) for r, size in plan] == [("v0", 1), ("v1", 4)]


def test_no_scale_down_at_minimum_availability():
    d = deployment(10, 3, 2)
    old, new = rs("v1", 8, available=8), rs("v2", 5, available=0)
    assert du.rolling_scale_down_plan([old, new], [old], d) == []


# Upstream TestScale's proportional cases (maxSurge 0, max-replicas annotated from the old size).
@pytest.mark.parametrize("size, old_size, sets, want, operation", [
    (10, 5, [("v1", 3, "2024-01-01"), ("v2", 2, "2024-01-02")], {"v1": 6, "v2": 4}, "up"),
    (3, 5, [("v1", 3, "2024-01-01"), ("v2", 2, "2024-01-02")], {"v1": 2, "v2": 1}, "down"),
    (4, 9, [("v1", 1, "2024-01-01"), ("v2", 8, "2024-01-02")], {"v1": 0, "v2": 4}, "down"),
    (10, 7, [("v0", 2, "2024-01-01"), ("v1", 3, "2024-01-02"), ("v2", 2, "2024-01-03")],
     {"v0": 3, "v1": 4, "v2": 3}, "up"),
    (8, 13, [("v0", 3, "2024-01-01"), ("v1", 8, "2024-01-02"), ("v2", 2, "2024-01-03")],
     {"v0": 2, "v1": 5, "v2": 1}, "down"),
])
def test_proportional_scaling(size, old_size, sets, want, operation):
    d = deployment(size, 0, 1)
    live = [rs(name, n, created=f"{day}T00:00:00Z", max_replicas=old_size) for name, n, day in sets]
    sizes, op = du.proportional_sizes(d, live)
    assert (sizes, op) == (want, operation)
    assert sum(sizes.values()) == size


def test_rounding_leftovers_go_to_the_first_set():
    """4 from 3 equal sets: every share rounds to 0, so the newest of the largest takes the one left over."""
    d = deployment(4, 0, 1)
    live = [rs(f"v{i}", 1, created=f"2024-01-0{i + 1}T00:00:00Z", max_replicas=3) for i in range(3)]
    assert du.proportional_sizes(d, live) == ({"v2": 2, "v1": 1, "v0": 1}, "up")


def test_find_active_or_latest():
    new = rs("v2", 0, created="2024-01-02T00:00:00Z")
    old = [rs("v1", 0, created="2024-01-01T00:00:00Z"), rs("v0", 0, created="2023-01-01T00:00:00Z")]
    assert du.find_active_or_latest(new, old) is new
    assert du.find_active_or_latest(None, old)["metadata"]["name"] == "v1"   # the latest old one
    assert du.find_active_or_latest(new, [rs("v1", 2)])["metadata"]["name"] == "v1"
    assert du.find_active_or_latest(rs("v2", 1), [rs("v1", 2)]) is None      # mid-rollout


def test_new_replica_set_annotations_record_revision_history():
    d = deployment(3)
    d["metadata"]["annotations"] = {"kubernetes.io/change-cause": "kubectl set image",
                                    du.REVISION_ANNOTATION: "4",
                                    "kubectl.kubernetes.io/last-applied-configuration": "{}"}
    target = rs("v1", 3)
    target["metadata"]["annotations"] = {du.REVISION_ANNOTATION: "1"}
    assert du.set_new_replica_set_annotations(d, target, 3, exists=True)
    assert target["metadata"]["annotations"] == {du.REVISION_ANNOTATION: "3", du.REVISION_HISTORY_ANNOTATION: "1",
                                                 "kubernetes.io/change-cause": "kubectl set image"}
    assert du.set_new_replica_set_annotations(d, target, 5, exists=True)
    assert target["metadata"]["annotations"][du.REVISION_HISTORY_ANNOTATION] == "1,3"
    fresh = rs("v9", 0)
    du.set_new_replica_set_annotations(d, fresh, 1, exists=False)
    assert fresh["metadata"]["annotations"][du.DESIRED_REPLICAS_ANNOTATION] == "3"
    assert fresh["metadata"]["annotations"][du.MAX_REPLICAS_ANNOTATION] == "4"


def test_equal_ignore_hash_and_find_new():
    d = deployment(1)
    template = {"metadata": {"labels": {"a": "b", du.POD_TEMPLATE_HASH_LABEL: "abc"}}}
    other = {"metadata": {"labels": {"a": "c", du.POD_TEMPLATE_HASH_LABEL: "abc"}}}
    sets = [{**rs("x", 1, created="2024-01-02T00:00:00Z"), "spec": {"template": template}},
            {**rs("y", 1, created="2024-01-03T00:00:00Z"), "spec": {"template": other}}]
    assert du.find_new_replica_set(d, sets)["metadata"]["name"] == "x"
    assert [r["metadata"]["name"] for r in du.find_old_replica_sets(d, sets)] == ["y"]


def test_pod_template_hash_is_stable_and_moves_with_template_and_collisions():
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    reordered = {"spec": {"containers": [{"image": "i", "name": "c"}]}, "metadata": {"labels": {"app": "web"}}}
    h = du.compute_hash(template, None)
    assert h == du.compute_hash(reordered, None)
    assert h != du.compute_hash(template, 1) != du.compute_hash(template, 2)
    assert h != du.compute_hash({**template, "spec": {"containers": [{"name": "c", "image": "j"}]}}, None)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789") and 6 <= len(h) <= 10


def test_conditions_keep_transition_time_for_same_status():
    status: dict = {}
    du.set_condition(status, {**du.new_condition("Progressing", "True", "A", "m"), "lastTransitionTime": "t0"})
    du.set_condition(status, {**du.new_condition("Progressing", "True", "B", "n"), "lastTransitionTime": "t1"})
    [c] = status["conditions"]
    assert (c["reason"], c["lastTransitionTime"]) == ("B", "t0")
    du.set_condition(status, {**du.new_condition("Progressing", "True", "B", "other"), "lastTransitionTime": "t2"})
    assert status["conditions"][0]["message"] == "n"       # same status and reason: unchanged


@pytest.mark.parametrize("available, want", [(3, ("True", du.MIN_AVAILABLE_REASON)),
                                             (2, ("False", du.MIN_UNAVAILABLE_REASON))])
def test_calculate_status_availability(available, want):
    d = deployment(4, 1, 1)
    new = rs("v2", 4, available=available)
    status = du.calculate_status([new], new, d)
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"],
            status["unavailableReplicas"]) == (4, 4, available, 4 - available)
    [c] = status["conditions"]
    assert (c["type"], c["status"], c["reason"]) == ("Available", *want)


def test_progress_and_completion():
    d = deployment(2)
    d["status"] = {"replicas": 3, "updatedReplicas": 1, "availableReplicas": 2}
    assert du.deployment_progressing(d, {"replicas": 3, "updatedReplicas": 2, "availableReplicas": 2})
    assert not du.deployment_progressing(d, {"replicas": 3, "updatedReplicas": 1, "availableReplicas": 2})
    done = {"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2, "observedGeneration": 1}
    assert du.deployment_complete(d, done)
    d["spec"]["progressDeadlineSeconds"] = 10
    d["status"]["conditions"] = [du.new_condition("Progressing", "True", du.RS_UPDATED_REASON, "m")]
    d["status"]["conditions"][0]["lastUpdateTime"] = "2024-01-01T00:00:00Z"
    assert du.deployment_timed_out(d, now=2e9)
    assert not du.deployment_timed_out(d, now=1704067205.0)
