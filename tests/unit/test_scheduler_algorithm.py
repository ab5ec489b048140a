"""The cycle: the exact FailedScheduling aggregation, round-robin among equal nodes, sampling, preemption."""

from __future__ import annotations

import pytest

from kinn.scheduler.framework.interface import CycleState, Diagnosis, FitError, Status, fit_error_message
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo
from kinn.scheduler.plugins.noderesources import NodeResourcesFit
from kinn.scheduler.schedule_one import num_feasible_nodes_to_find
from scheduler_util import Harness, node, pod

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def failure(harness: Harness, pending: dict) -> str:
    """What the scheduler writes into FailedScheduling and PodScheduled=False: FitError + PostFilter."""
    info, state = PodInfo(pending), CycleState()
    with pytest.raises(FitError) as raised:
        harness.algorithm.schedule(state, info)
    error = raised.value
    error.diagnosis.post_filter_msg = harness.framework.run_post_filter(state, info, error.diagnosis.node_to_status).status.message
    return str(error)


@pytest.mark.parametrize("nodes, pods, pending, message", [
    pytest.param(
        [node("cp", taints=[CP_TAINT]), node("w1", cpu="1"), node("w2", cpu="1")],
        [pod("a", cpu="800m", node_name="w1"), pod("b", cpu="800m", node_name="w2")], pod("p", cpu="500m"),
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod.", id="brief-example"),
    pytest.param(
        [node("w1", cpu="1"), node("w2", cpu="1")], [], pod("p", cpu="2"),
        "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: "
        "2 Preemption is not helpful for scheduling.", id="larger-than-any-node"),
    pytest.param(
        [node("w1", cpu="1"), node("w2", cpu="1")], [pod("a", cpu="800m", node_name="w1", priority=10)],
        pod("p", cpu="500m", priority=5, nodeSelector={"x": "y"}),
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: "
        "0/2 nodes are available: 2 Preemption is not helpful for scheduling.", id="selector"),
    pytest.param(
        [node("w1", cpu="1")], [pod("a", cpu="800m", node_name="w1")], pod("p", cpu="500m", preemptionPolicy="Never",
                                                                          priority=100),
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.",
        id="preemption-never"),
    pytest.param(
        [node("w1", cpu="1"), node("w2", cpu="1")], [pod("a", cpu="800m", node_name="w1", priority=10),
                                                    pod("b", cpu="800m", node_name="w2", priority=10)],
        pod("p", cpu="500m", priority=5, volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "gone"}}]),
        '0/2 nodes are available: persistentvolumeclaim "gone" not found. preemption: 0/2 nodes are available: '
        "2 Preemption is not helpful for scheduling.", id="pre-filter"),
])
def test_failed_scheduling_message(nodes: list, pods: list, pending: dict, message: str) -> None:
    assert failure(Harness(nodes, pods), pending) == message


def test_histogram_is_sorted_as_strings() -> None:
    statuses = {f"n{i}": Status.unschedulable("Insufficient cpu") for i in range(10)}
    statuses["m"] = Status.unresolvable("node(s) were unschedulable")
    assert fit_error_message(11, Diagnosis(node_to_status=statuses)) == (
        "0/11 nodes are available: 1 node(s) were unschedulable, 10 Insufficient cpu.")


def test_equal_nodes_receive_pods_round_robin() -> None:
    harness = Harness([node(f"n{i}") for i in range(3)], [])
    chosen = [harness.algorithm.select_host(harness.snapshot.node_infos, [7, 7, 7]) for _ in range(6)]
    assert chosen == ["n0", "n1", "n2", "n0", "n1", "n2"]
    assert harness.algorithm.select_host(harness.snapshot.node_infos, [1, 9, 9]) in {"n1", "n2"}


def test_pods_spread_over_equal_nodes() -> None:
    harness = Harness([node(f"n{i}") for i in range(4)], [])
    placed = []
    for i in range(8):
        pending = pod(f"p{i}", cpu="100m", memory="100Mi")
        result = harness.algorithm.schedule(CycleState(), PodInfo(pending))
        harness.bind(pending, result.node)
        placed.append(result.node)
    assert sorted(placed) == ["n0", "n0", "n1", "n1", "n2", "n2", "n3", "n3"]


@pytest.mark.parametrize("nodes, percentage, wanted", [
    (50, 0, 50), (100, 0, 100), (1000, 0, 420), (5000, 0, 500), (10000, 0, 500), (1000, 50, 500), (150, 10, 100)])
def test_num_feasible_nodes_to_find(nodes: int, percentage: int, wanted: int) -> None:
    assert num_feasible_nodes_to_find(nodes, percentage) == wanted


def test_large_cluster_filters_a_sample_and_moves_on() -> None:
    harness = Harness([node(f"n{i:04}") for i in range(1000)], [])
    first = harness.algorithm.schedule(CycleState(), PodInfo(pod("p")))
    assert first.feasible == 420 and first.evaluated == 420
    assert harness.algorithm.next_start_node_index == 420
    harness.bind(pod("p"), first.node)
    # The next pods of the same signature read their verdicts from memory: the same sample size,
    # moving on around the ring.
    for start in (840, 260):
        harness.algorithm.schedule(CycleState(), PodInfo(pod("q")))
        assert harness.algorithm.next_start_node_index == start


def test_a_sample_counts_remembered_rejections_as_evaluated() -> None:
    """Of 200 nodes, every other one is cordoned: 100 fit. The second pod reads its verdicts
    from memory; it starts where the first stopped, at the last cordoned node."""
    nodes = [node(f"n{i:03}", unschedulable=i % 2 == 1) for i in range(200)]
    harness = Harness(nodes, [])
    results = [harness.algorithm.schedule(CycleState(), PodInfo(pod(name))) for name in ("p", "q")]
    assert [(r.feasible, r.evaluated) for r in results] == [(100, 199), (100, 200)]


def test_a_pod_that_tolerates_what_the_last_did_not_is_not_answered_from_memory() -> None:
    """Tolerating the cordon is part of the signature: the second pod is not refused from memory."""
    harness = Harness([node("cordoned", unschedulable=True)], [])
    with pytest.raises(FitError):
        harness.algorithm.schedule(CycleState(), PodInfo(pod("plain")))
    tolerant = pod("tolerant", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                             "effect": "NoSchedule"}])
    assert harness.algorithm.schedule(CycleState(), PodInfo(tolerant)).node == "cordoned"


def counting_filter_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The nodes NodeResourcesFit is asked about, in order (it runs in every cycle of these tests)."""
    asked: list[str] = []
    original = NodeResourcesFit.filter

    def counted(self: NodeResourcesFit, state: CycleState, pending: PodInfo, info: NodeInfo) -> Status:
        asked.append(info.name)
        return original(self, state, pending, info)

    monkeypatch.setattr(NodeResourcesFit, "filter", counted)
    return asked


def test_filter_verdicts_are_remembered_per_node_for_pods_of_one_signature(monkeypatch) -> None:
    """Pods alike in all the node-local filters read (requests, tolerations …) ask a node that did
    not change for nothing: its verdict is remembered, until a pod lands on it."""
    asked = counting_filter_calls(monkeypatch)
    harness = Harness([node("full", cpu="1"), node("a"), node("b")], [pod("hog", cpu="1", node_name="full")])
    first = harness.algorithm.schedule(CycleState(), PodInfo(pod("p0", cpu="500m")))
    assert sorted(asked) == ["a", "b", "full"]
    harness.bind(pod("p0", cpu="500m"), first.node)
    asked.clear()
    second = harness.algorithm.schedule(CycleState(), PodInfo(pod("p1", cpu="500m")))
    assert asked == [first.node] and second.feasible == 2  # "full" is still rejected, from memory
    with pytest.raises(FitError) as raised:
        harness.algorithm.schedule(CycleState(), PodInfo(pod("big", cpu="8")))  # another signature
    assert raised.value.diagnosis.node_to_status["full"].message == "Insufficient cpu"


def test_a_cycle_with_a_filter_that_cannot_sign_remembers_nothing(monkeypatch) -> None:
    """PodTopologySpread's verdict depends on pods of other nodes: no memo while it filters."""
    asked = counting_filter_calls(monkeypatch)
    harness = Harness([node("a"), node("b")], [])
    spread = {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                             "whenUnsatisfiable": "DoNotSchedule",
                                             "labelSelector": {"matchLabels": {"app": "x"}}}]}
    for name in ("p0", "p1"):
        harness.algorithm.schedule(CycleState(), PodInfo(pod(name, cpu="100m", labels={"app": "x"}, **spread)))
    assert sorted(asked) == ["a", "a", "b", "b"]


# -- preemption ----------------------------------------------------------------------------------------

def test_preemption_picks_node_with_lowest_priority_victims() -> None:
    pods = [pod("low", cpu="800m", node_name="w1", priority=1), pod("mid", cpu="800m", node_name="w2", priority=5)]
    harness = Harness([node("w1", cpu="1"), node("w2", cpu="1")], pods)
    info, state = PodInfo(pod("p", cpu="500m", priority=10)), CycleState()
    with pytest.raises(FitError) as raised:
        harness.algorithm.schedule(state, info)
    result = harness.framework.run_post_filter(state, info, raised.value.diagnosis.node_to_status)
    assert result.status.is_success
    assert result.nominated_node == "w1"
    assert [v.name for v in result.victims] == ["low"]


def test_preemption_evicts_as_few_pods_as_possible() -> None:
    pods = [pod("a", cpu="300m", node_name="w1", priority=1), pod("b", cpu="300m", node_name="w1", priority=2),
            pod("c", cpu="300m", node_name="w1", priority=3)]
    harness = Harness([node("w1", cpu="1")], pods)
    info = PodInfo(pod("p", cpu="400m", priority=10))
    victims, status = harness.framework.plugin("DefaultPreemption").select_victims_on_node(
        CycleState(), info, harness.snapshot.get("w1"))
    assert status.is_success
    assert [v.name for v in victims] == ["a"]  # the most important pods are reprieved first


def test_nominated_pod_keeps_its_room() -> None:
    harness = Harness([node("w1", cpu="1")], [])
    preemptor = PodInfo(pod("big", cpu="800m", priority=10))
    harness.queue.add_nominated_pod(preemptor, "w1")
    statuses = harness.filter_statuses(pod("small", cpu="500m", priority=1))
    assert statuses == {"w1": Status.unschedulable("Insufficient cpu", plugin="NodeResourcesFit")}
    assert harness.feasible(pod("important", cpu="500m", priority=20)) == ["w1"]


def test_node_info_clone_is_independent() -> None:
    info = NodeInfo(node("w1"))
    info.add_pod(PodInfo(pod("a", cpu="1", node_name="w1")))
    copy = info.clone()
    copy.remove_pod("default/a")
    assert info.requested.milli_cpu == 1000 and copy.requested.milli_cpu == 0 and "default/a" in info.pods
