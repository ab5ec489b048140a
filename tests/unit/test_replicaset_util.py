"""ReplicaSet pure logic: which pod is deleted first (ActivePodsWithRanks), slow-start batches, status."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kinn.api.errors import StatusError
from kinn.controllers.replicaset_util import calculate_status, pods_to_delete, slow_start_batch

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, node: str = "n1", phase: str = "Running", ready: bool = True, ready_for: float = 3600,
        created: float = 7200, restarts: int = 0, cost: str | None = None, labels: dict | None = None) -> dict:
    meta: dict = {"name": name, "uid": f"uid-{name}", "creationTimestamp": ago(created),
                  "labels": labels or {"app": "web"}}
    if cost is not None:
        meta["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": cost}
    conditions = [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": ago(ready_for)}]
    return {"metadata": meta, "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conditions, "containerStatuses": [{"restartCount": restarts}]}}


# Each row: the pod that must be deleted before the other, and why (the rule number upstream gives).
@pytest.mark.parametrize("first, second", [
    pytest.param(pod("a", node=""), pod("b"), id="1 unassigned before assigned"),
    pytest.param(pod("a", phase="Pending", ready=False), pod("b", phase="Unknown", ready=False), id="2 pending before unknown"),
    pytest.param(pod("a", phase="Unknown"), pod("b"), id="2 unknown before running"),
    pytest.param(pod("a", ready=False), pod("b"), id="3 not ready before ready"),
    pytest.param(pod("a", cost="-5"), pod("b"), id="4 lower deletion cost first"),
    pytest.param(pod("a", cost="junk"), pod("b", cost="10"), id="4 an unreadable cost counts as 0"),
    pytest.param(pod("a", ready_for=10), pod("b", ready_for=3600), id="6 ready for less time first"),
    pytest.param(pod("a", restarts=3), pod("b"), id="7 more restarts first"),
    pytest.param(pod("a", created=60), pod("b"), id="8 newer first"),
])
def test_deletion_order(first, second):
    for pods in ([first, second], [second, first]):
        assert pods_to_delete(pods, pods, 1, NOW) == [first]


def test_doubled_up_nodes_lose_pods_first():
    crowded, alone = pod("a", node="n1"), pod("b", node="n2")
    sibling = pod("c", node="n1")  # of another ReplicaSet of the same Deployment
    assert pods_to_delete([alone, crowded], [alone, crowded, sibling], 1, NOW) == [crowded]


def test_times_in_the_same_power_of_two_bucket_tie_and_fall_to_uid():
    # 1000s and 600s ago share floor(log2(ns)): upstream orders by UID right there, before restarts.
    a, b = pod("a", ready_for=1000, restarts=0), pod("b", ready_for=600, restarts=5)
    assert pods_to_delete([b, a], [a, b], 1, NOW) == [a]  # uid-a < uid-b, though b is younger and restarts more
    c = pod("c", ready_for=4000)  # another bucket: the younger pod goes first
    assert pods_to_delete([c, b], [b, c], 1, NOW) == [b]


def test_deleting_all_returns_all_without_ranking():
    pods = [pod("a"), pod("b")]
    assert pods_to_delete(pods, pods, 5, NOW) == pods


async def test_slow_start_doubles_batches_and_stops_at_a_failing_batch():
    calls: list[int] = []

    async def ok() -> None:
        calls.append(1)

    assert await slow_start_batch(10, 1, ok) == (10, None)
    assert len(calls) == 10

    count = 0

    async def fourth_fails() -> None:
        nonlocal count
        count += 1
        if count == 4:
            raise StatusError(403, "Forbidden", "exceeded quota")

    done, error = await slow_start_batch(10, 1, fourth_fails)
    assert (count, done, error.code) == (7, 6, 403)  # batches 1, 2, 4; nothing after the failing one


def rs(replicas: int = 3, min_ready: int = 0, conditions: list | None = None) -> dict:
    return {"metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": replicas, "minReadySeconds": min_ready,
                     "template": {"metadata": {"labels": {"app": "web", "tier": "fe"}}}},
            "status": {"replicas": 0, "conditions": conditions or []}}


def test_status_counts_fully_labeled_ready_and_available():
    pods = [pod("a", labels={"app": "web", "tier": "fe"}, ready_for=5),
            pod("b", labels={"app": "web", "tier": "fe"}, ready_for=100),
            pod("c", labels={"app": "web"}, ready=False)]
    status = calculate_status(rs(min_ready=30), pods, 3, None)
    assert (status["replicas"], status["fullyLabeledReplicas"], status["readyReplicas"]) == (3, 2, 2)
    assert 1 <= status["availableReplicas"] <= 2 and "conditions" not in status


def test_replica_failure_is_set_on_error_and_cleared_after():
    error = StatusError(403, "Forbidden", 'pods "web-x" is forbidden: exceeded quota')
    status = calculate_status(rs(replicas=3), [pod("a")], 3, error)
    [c] = status["conditions"]
    assert (c["type"], c["status"], c["reason"], c["message"]) == (
        "ReplicaFailure", "True", "FailedCreate", 'pods "web-x" is forbidden: exceeded quota')
    assert calculate_status(rs(replicas=1, conditions=[c]), [pod("a"), pod("b")], 1, error)["conditions"] == [c]
    assert "conditions" not in calculate_status(rs(replicas=1, conditions=[c]), [pod("a")], 1, None)
