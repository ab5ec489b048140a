"""Score plugins rank nodes as upstream does; the total is the weighted sum of normalized scores."""

from __future__ import annotations

import pytest

from kinn.scheduler.framework.interface import CycleState, default_normalize_score
from kinn.scheduler.nodeinfo import PodInfo
from kinn.scheduler.plugins.balancedallocation import BalancedAllocation
from kinn.scheduler.plugins.noderesources import NodeResourcesFit, least_allocated
from scheduler_util import Harness, node, pod


@pytest.mark.parametrize("scores, reverse, expected", [
    ([0, 5, 10], False, [0, 50, 100]),
    ([0, 5, 10], True, [100, 50, 0]),
    ([0, 0], True, [100, 100]),
    ([0, 0], False, [0, 0]),
])
def test_default_normalize_score(scores: list, reverse: bool, expected: list) -> None:
    default_normalize_score(scores, reverse)
    assert scores == expected


@pytest.mark.parametrize("requested, capacity, score", [(0, 4000, 100), (1000, 4000, 75), (4000, 4000, 0),
                                                        (5000, 4000, 0), (1, 0, 0)])
def test_least_allocated(requested: int, capacity: int, score: int) -> None:
    assert least_allocated(requested, capacity) == score


def _plugin_score(plugin_type: type, nodes: list, pods: list, pending: dict) -> dict[str, int]:
    harness = Harness(nodes, pods)
    plugin = plugin_type(harness.handle)
    nodes = harness.snapshot.node_infos
    return dict(zip((n.name for n in nodes), plugin.score(CycleState(), PodInfo(pending), nodes)))


def test_least_allocated_counts_defaults_for_best_effort_pods() -> None:
    scores = _plugin_score(NodeResourcesFit, [node("a", cpu="1", memory="1000Mi"), node("b", cpu="1", memory="1000Mi")],
                           [pod("x", node_name="a")], pod("p"))
    # a already holds 100m + 200Mi of defaults: (800/1000 + 600/1000)/2; b: (900 + 800)/2
    assert scores == {"a": 70, "b": 85}


def test_balanced_allocation_prefers_even_use() -> None:
    scores = _plugin_score(BalancedAllocation, [node("a", cpu="4", memory="4Gi"), node("b", cpu="4", memory="4Gi")],
                           [pod("x", cpu="2", node_name="a"), pod("y", memory="2Gi", node_name="b")],
                           pod("p", cpu="1", memory="1Gi"))
    assert scores == {"a": 75, "b": 75}  # fractions 0.75 and 0.25: std 0.25
    scores = _plugin_score(BalancedAllocation, [node("a", cpu="4", memory="4Gi"), node("b", cpu="4", memory="4Gi")],
                           [pod("x", cpu="1", memory="1Gi", node_name="a"), pod("y", cpu="2", node_name="b")],
                           pod("p", cpu="1", memory="1Gi"))
    assert scores == {"a": 100, "b": 75}


@pytest.mark.parametrize("plugin_type", [NodeResourcesFit, BalancedAllocation])
def test_a_remembered_score_is_forgotten_when_the_node_changes(plugin_type: type) -> None:
    """Scores are remembered per node (NodeInfo.memo): a pod added or removed, or new allocatable,
    must give the node its new score at once."""
    harness = Harness([node("a", cpu="4", memory="4Gi")])
    plugin, pending = plugin_type(harness.handle), PodInfo(pod("p", cpu="1", memory="1Gi"))
    nodes = harness.snapshot.node_infos

    def score() -> int:
        return plugin.score(CycleState(), pending, nodes)[0]

    empty = score()
    harness.bind(pod("x", cpu="2", node_name="a"), "a")
    busy = score()
    assert busy != empty
    nodes[0].remove_pod("default/x")
    assert score() == empty
    nodes[0].set_node(node("a", cpu="8", memory="4Gi"))
    assert score() != empty


def test_default_spreading_counts_zones_once_a_node_has_one() -> None:
    """The system default's zone constraint scores nothing while no node carries a zone, and counts
    as soon as one does (Snapshot.label_keys follows node updates)."""
    zone = "topology.kubernetes.io/zone"
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": "default"},
          "spec": {"selector": {"matchLabels": {"app": "web"}}}}
    running = [pod("w1", node_name="a", labels={"app": "web"}), pod("w2", node_name="b", labels={"app": "web"})]
    harness = Harness([node("a"), node("b"), node("c")], running, {"ReplicaSet": [rs]})
    plugin, pending = harness.framework.plugin("PodTopologySpread"), PodInfo(pod("p", labels={"app": "web"}))

    def normalized() -> dict[str, int]:
        state, nodes = CycleState(), harness.snapshot.node_infos
        plugin.pre_score(state, pending, nodes)
        scores = plugin.score(state, pending, nodes)
        plugin.normalize_score(state, pending, nodes, scores)
        return dict(zip((n.name for n in nodes), scores))

    assert zone not in harness.snapshot.label_keys
    # hostname only: raw 1×ln 5 + 2 for a and b (rounded to 4), 2 for c
    assert normalized() == {"a": 50, "b": 50, "c": 100}
    for name, where in (("a", "z1"), ("b", "z2"), ("c", "z1")):
        harness.snapshot.set_node(node(name, labels={zone: where}))
    assert zone in harness.snapshot.label_keys
    # + zone (one pod in each): 1×ln 4 + 4 everywhere, so a and b 9, c 7
    assert normalized() == {"a": 77, "b": 77, "c": 100}


def test_spread_constraints_score_zero_on_nodes_without_their_key() -> None:
    """With constraints of its own, a node lacking a topology key is ignored: 0, and left out of the
    min/max that normalizes the others (a: one matching pod in z1, b: none in z2)."""
    zone = "topology.kubernetes.io/zone"
    web = {"app": "web"}
    harness = Harness([node("a", labels={zone: "z1"}), node("b", labels={zone: "z2"}), node("c")],
                      [pod("w1", node_name="a", labels=web)])
    pending = PodInfo(pod("p", labels=web, topologySpreadConstraints=[
        {"maxSkew": 1, "topologyKey": zone, "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchLabels": web}}]))
    plugin, state, nodes = harness.framework.plugin("PodTopologySpread"), CycleState(), harness.snapshot.node_infos
    plugin.pre_score(state, pending, nodes)
    scores = plugin.score(state, pending, nodes)
    plugin.normalize_score(state, pending, nodes, scores)
    assert dict(zip((n.name for n in nodes), scores)) == {"a": 0, "b": 100, "c": 0}


def _best(harness: Harness, pending: dict) -> set[str]:
    scores = harness.scores(pending)
    top = max(scores.values())
    return {name for name, score in scores.items() if score == top}


PREFER = {"key": "spot", "effect": "PreferNoSchedule"}


@pytest.mark.parametrize("nodes, pods, pending, best", [
    pytest.param([node("a", taints=[PREFER]), node("b")], [], pod("p"), {"b"}, id="prefer-no-schedule"),
    pytest.param([node("a", taints=[PREFER]), node("b")], [],
                 pod("p", tolerations=[{"key": "spot", "operator": "Exists"}]), {"a", "b"}, id="prefer-tolerated"),
    pytest.param([node("a", labels={"disk": "ssd"}), node("b")], [],
                 pod("p", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                     {"weight": 10, "preference": {"matchExpressions": [
                         {"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}}), {"a"}, id="preferred-node-affinity"),
    pytest.param([node("a"), node("b")], [pod("db", node_name="b", labels={"app": "db"})],
                 pod("p", affinity={"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                     {"weight": 50, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "db"}},
                                                        "topologyKey": "kubernetes.io/hostname"}}]}}),
                 {"b"}, id="preferred-pod-affinity"),
    pytest.param([node("a"), node("b")], [pod("w", node_name="a", labels={"app": "web"})],
                 pod("p", labels={"app": "web"}, affinity={"podAntiAffinity": {
                     "preferredDuringSchedulingIgnoredDuringExecution": [
                         {"weight": 50, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}},
                                                            "topologyKey": "kubernetes.io/hostname"}}]}}),
                 {"b"}, id="preferred-pod-anti-affinity"),
    pytest.param([node("a"), node("b"), node("c")],
                 [pod("w1", node_name="a", labels={"app": "web"}), pod("w2", node_name="b", labels={"app": "web"})],
                 pod("p", labels={"app": "web"}, topologySpreadConstraints=[{
                     "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
                     "labelSelector": {"matchLabels": {"app": "web"}}}]), {"c"}, id="soft-topology-spread"),
])
def test_scores(nodes: list, pods: list, pending: dict, best: set) -> None:
    assert _best(Harness(nodes, pods), pending) == best


def test_pods_of_a_service_spread_by_default() -> None:
    """No constraints on the pod: the system default spreads the pods its Service selects (SelectorSpread)."""
    service = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}}}
    pods = [pod("w1", node_name="a", labels={"app": "web"}), pod("w2", node_name="b", labels={"app": "web"}),
            pod("other", node_name="c", labels={"app": "db"})]
    harness = Harness([node("a"), node("b"), node("c")], pods, {"Service": [service]})
    assert _best(harness, pod("p", labels={"app": "web"})) == {"c"}
