"""Pure rules of node IPAM, node lifecycle and taint eviction."""

from __future__ import annotations

import math

import pytest

from kinn.controllers.nodehealth import NodeHealth, desired_taints, reconcile_taints, unknown_conditions
from kinn.controllers.nodeipam import CIDRRangeExhausted, CIDRSet, cidr_sets
from kinn.controllers.tainteviction import EvictionSchedule, toleration_time

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"


def test_cidr_set_hands_out_the_first_free_subnet_and_reuses_released_ones():
    cidrs = CIDRSet("10.244.0.0/16", 24)
    assert [cidrs.allocate_next() for _ in range(3)] == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]
    cidrs.release("10.244.1.0/24")
    assert cidrs.allocate_next() == "10.244.1.0/24"
    cidrs.occupy("10.244.3.0/24")
    assert cidrs.allocate_next() == "10.244.4.0/24"


@pytest.mark.parametrize("cidr, ours", [
    ("10.244.7.0/24", True),
    ("10.245.0.0/24", False),  # outside the cluster CIDR
    ("10.244.0.0/25", False),  # not a node-sized subnet
    ("fd00::/64", False),
])
def test_cidr_set_only_tracks_its_own_subnets(cidr, ours):
    assert CIDRSet("10.244.0.0/16", 24).contains(cidr) is ours


def test_cidr_set_exhaustion_is_upstreams_error():
    cidrs = CIDRSet("10.244.0.0/23", 24)
    cidrs.allocate_next(), cidrs.allocate_next()
    with pytest.raises(CIDRRangeExhausted, match="no remaining CIDRs left to allocate"):
        cidrs.allocate_next()


def test_dual_stack_cluster_cidr_gives_one_subnet_per_family():
    sets = cidr_sets("10.244.0.0/16,fd00:10:244::/56", 24)
    assert [s.allocate_next() for s in sets] == ["10.244.0.0/24", "fd00:10:244::/64"]


def ready_node(status: str | None, **spec) -> dict:
    conditions = [] if status is None else [
        {"type": "Ready", "status": status, "lastHeartbeatTime": "2024-01-01T00:00:00Z"}]
    return {"metadata": {"name": "n", "creationTimestamp": "2023-12-31T00:00:00Z"}, "spec": spec,
            "status": {"conditions": conditions}}


def test_silent_node_conditions_go_unknown_and_missing_ones_are_never_updated():
    conditions = unknown_conditions(ready_node("True"), "2024-01-01T00:01:00Z")
    by_type = {c["type"]: c for c in conditions}
    assert by_type["Ready"] == {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                                "message": "Kubelet stopped posting node status.",
                                "lastHeartbeatTime": "2024-01-01T00:00:00Z",
                                "lastTransitionTime": "2024-01-01T00:01:00Z"}
    assert by_type["MemoryPressure"]["reason"] == "NodeStatusNeverUpdated"
    assert by_type["MemoryPressure"]["lastHeartbeatTime"] == "2023-12-31T00:00:00Z"
    assert unknown_conditions({**ready_node("True"), "status": {"conditions": conditions}}, "later") is None


@pytest.mark.parametrize("status, spec, taints", [
    ("True", {}, set()),
    ("False", {}, {(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")}),
    ("Unknown", {}, {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}),
    (None, {}, {(UNREACHABLE, "NoExecute")}),
    ("True", {"unschedulable": True}, {("node.kubernetes.io/unschedulable", "NoSchedule")}),
])
def test_conditions_map_to_taints(status, spec, taints):
    assert desired_taints(ready_node(status, **spec)) == taints


def test_reconcile_keeps_foreign_taints_and_stamps_no_execute_ones():
    node = ready_node("Unknown", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                                         {"key": NOT_READY, "effect": "NoExecute", "timeAdded": "old"}])
    taints = reconcile_taints(node, "now")
    assert taints == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                      {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": "now"},
                      {"key": UNREACHABLE, "effect": "NoSchedule"}]
    assert reconcile_taints({**node, "spec": {"taints": taints}}, "later") is None


def test_node_health_probe_moves_on_heartbeat_or_lease_renewal_only():
    health = NodeHealth(0.0, None, None)
    node = ready_node("True")
    lease = {"spec": {"renewTime": "t1"}}
    health.observe(node, lease, 1.0)
    assert health.probe == 1.0
    health.observe(node, lease, 5.0)
    assert health.probe == 1.0  # nothing new heard
    health.observe(node, {"spec": {"renewTime": "t2"}}, 6.0)
    assert health.probe == 6.0


TAINT = {"key": UNREACHABLE, "effect": "NoExecute"}
OTHER = {"key": "maintenance", "effect": "NoExecute"}


@pytest.mark.parametrize("tolerations, taints, seconds", [
    ([], [TAINT], 0.0),
    ([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}], [TAINT], 300.0),
    ([{"key": UNREACHABLE, "operator": "Exists"}], [TAINT], math.inf),
    ([{"operator": "Exists", "tolerationSeconds": 30}], [TAINT, OTHER], 30.0),
    ([{"key": UNREACHABLE, "operator": "Exists", "tolerationSeconds": 5}], [TAINT, OTHER], 0.0),
    ([{"key": UNREACHABLE, "operator": "Exists", "tolerationSeconds": -3}], [TAINT], 0.0),
])
def test_toleration_time(tolerations, taints, seconds):
    assert toleration_time(tolerations, taints) == seconds


def test_eviction_clock_starts_when_the_pod_is_first_seen_under_taints():
    schedule = EvictionSchedule()
    assert schedule.due_in("uid", 10, now=100.0) == 10
    assert schedule.due_in("uid", 10, now=108.0) == 2
    assert schedule.cancel("uid") and not schedule.cancel("uid")
    assert schedule.due_in("uid", 10, now=200.0) == 10
