"""One scheduling cycle's algorithm (schedule_one.go): filter a sample of nodes, score, pick.

Synchronous on purpose: the cycle reads the cache's snapshot without yielding to the event loop,
so no informer update can change it halfway — the guarantee upstream buys by copying a snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from kinn.scheduler.framework.interface import CycleState, Diagnosis, FitError, Status, SUCCESS
from kinn.scheduler.framework.runtime import Framework
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo, Snapshot
from kinn.scheduler.plugins import nodeaffinity, nodename, nodeports, noderesources
from kinn.scheduler.plugins.noderesources import InsufficientResource

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5


class SchedulingError(Exception):
    """A plugin failed (not a rejection): the pod is retried with back-off, reason SchedulerError."""


class NoNodesAvailable(SchedulingError):
    def __str__(self) -> str:
        return "no nodes available to schedule pods"


@dataclass
class ScheduleResult:
    node: str
    evaluated: int
    feasible: int


@dataclass(frozen=True)
class AdmissionResult:
    """One failed check of `admission_check`: a resource the node lacks, or a plugin's name and reason."""

    name: str = ""
    reason: str = ""
    insufficient_resource: InsufficientResource | None = None


def admission_check(pod: PodInfo, node: NodeInfo) -> list[AdmissionResult]:
    """Every way the pod fails the filters a kubelet re-runs before it admits a pod bound to its
    node (AdmissionCheck): resources, required node affinity, node name, host ports, in that order.
    The kubelet needs them because a pod can be bound without the scheduler (spec.nodeName), or
    the node can change between scheduling and admission."""
    results = [AdmissionResult(insufficient_resource=lacking) for lacking in noderesources.fits(pod, node)]
    for plugin, reason in ((nodeaffinity, nodeaffinity.ERR_REASON_POD), (nodename, nodename.ERR_REASON),
                           (nodeports, nodeports.ERR_REASON)):
        if not plugin.fits(pod, node):
            results.append(AdmissionResult(plugin.NAME, reason))
    return results


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes are enough (percentageOfNodesToScore; 0 = adaptive: 50% − nodes/125, ≥ 5%)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


class Algorithm:
    def __init__(self, framework: Framework, snapshot: Snapshot, percentage_of_nodes_to_score: int = 0) -> None:
        self.framework = framework
        self.snapshot = snapshot
        self.percentage = percentage_of_nodes_to_score
        self.next_start_node_index = 0  # filtering resumes where the last cycle stopped, spreading the sample
        self.last_node_index = 0  # round-robin among equally good nodes

    def schedule(self, state: CycleState, pod: PodInfo) -> ScheduleResult:
        nodes = self.snapshot.node_infos
        if not nodes:
            raise NoNodesAvailable()
        feasible, diagnosis = self.find_nodes_that_fit(state, pod, nodes)
        if not feasible:
            raise FitError(pod.pod, len(nodes), diagnosis)
        evaluated = len(diagnosis.node_to_status) + len(feasible)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        scores = self.prioritize(state, pod, feasible)
        return ScheduleResult(self.select_host(feasible, scores), evaluated, len(feasible))

    def find_nodes_that_fit(self, state: CycleState, pod: PodInfo,
                            nodes: list[NodeInfo]) -> tuple[list[NodeInfo], Diagnosis]:
        diagnosis = Diagnosis()
        framework = self.framework
        status = framework.run_pre_filter(state, pod)
        if not status.is_success:
            if not status.is_rejected:
                raise SchedulingError(status.message)
            diagnosis.node_to_status = {n.name: status for n in nodes}
            diagnosis.pre_filter_msg = status.message
            diagnosis.unschedulable_plugins.add(status.plugin)
            return [], diagnosis
        nominated = self._evaluate_nominated_node(state, pod)
        if nominated is not None:
            return [nominated], diagnosis
        nominator = framework.handle.nominator
        crowded = set(nominator.nominated_nodes()) if nominator is not None else set()
        wanted = num_feasible_nodes_to_find(len(nodes), self.percentage)
        count, start = len(nodes), self.next_start_node_index % len(nodes)
        order = nodes[start:] + nodes[:start]
        feasible: list[NodeInfo] = []
        processed = 0
        while processed < count and len(feasible) < wanted:
            run = order[processed:processed + wanted]
            processed += self._filter_run(state, pod, run, crowded, wanted, feasible, diagnosis)
        self.next_start_node_index = (start + processed) % count
        return feasible, diagnosis

    def _filter_run(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], crowded: set[str], wanted: int,
                    feasible: list[NodeInfo], diagnosis: Diagnosis) -> int:
        """Filter `nodes` in order into `feasible` (rejections into `diagnosis`) until it holds
        `wanted`; returns how many nodes were processed. Stretches of nodes already known to fit
        are taken whole; each other node is filtered, or its remembered rejection read, in turn."""
        verdicts = self.framework.remembered_verdicts(state, nodes, crowded)
        position = 0
        for stop in [i for i, verdict in enumerate(verdicts) if verdict is not SUCCESS] + [len(nodes)]:
            taken = nodes[position:min(stop, position + wanted - len(feasible))]
            feasible.extend(taken)
            if len(feasible) >= wanted or stop == len(nodes):
                return position + len(taken)
            node, status = nodes[stop], verdicts[stop]
            if status is None:
                status = self._filter(state, pod, node, node.name in crowded)
            if status is SUCCESS:
                feasible.append(node)
                if len(feasible) >= wanted:
                    return stop + 1
            elif status.is_rejected:
                diagnosis.node_to_status[node.name] = status
                diagnosis.unschedulable_plugins.add(status.plugin)
            else:
                raise SchedulingError(status.message)
            position = stop + 1
        return len(nodes)

    def _filter(self, state: CycleState, pod: PodInfo, node: NodeInfo, crowded: bool) -> Status:
        if crowded:
            return self.framework.run_filters_with_nominated_pods(state, pod, node)
        return self.framework.run_filters_remembered(state, pod, node)

    def _evaluate_nominated_node(self, state: CycleState, pod: PodInfo) -> NodeInfo | None:
        """A pod that preempted tries its nominated node first (evaluateNominatedNode)."""
        name = pod.pod.get("status", {}).get("nominatedNodeName")
        node = self.snapshot.get(name) if name else None
        if node is None:
            return None
        return node if self.framework.run_filters_with_nominated_pods(state, pod, node).is_success else None

    def prioritize(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        status: Status = self.framework.run_pre_score(state, pod, nodes)
        if not status.is_success:
            raise SchedulingError(status.message)
        return self.framework.run_score(state, pod, nodes)

    def select_host(self, nodes: list[NodeInfo], scores: list[int]) -> str:
        best = max(scores)
        ties = [node for node, score in zip(nodes, scores) if score == best]
        chosen = ties[self.last_node_index % len(ties)]
        self.last_node_index += 1
        return chosen.name
