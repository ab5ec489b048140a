"""DefaultPreemption (PostFilter): make room for a pod that fits nowhere by evicting lower-priority pods.

For every node where eviction might help (not rejected as UnschedulableAndUnresolvable), remove
all lower-priority pods from a copy of the node, check the pod fits, then reprieve the victims from
the most important down while it still fits: what remains are the victims. The node is chosen by
upstream's ordering (fewest PDB violations, lowest highest-victim priority, lowest priority sum,
fewest victims, latest start of the highest-priority victims). The pod is nominated to it; the
victims get a DisruptionTarget condition, a `Preempted` event and are deleted.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from kinn.api.errors import StatusError
from kinn.api.timestamps import now_rfc3339
from kinn.client.rest import resource
from kinn.scheduler.framework.interface import (
    Code, CycleState, Diagnosis, Handle, PostFilterResult, SUCCESS, Status, fit_error_message,
)
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "DefaultPreemption"
PODS = resource("v1", "pods")
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100
log = logging.getLogger("kinn.scheduler.preemption")


class Candidate(NamedTuple):
    node: str
    victims: list[PodInfo]  # most important first


def start_time(pod: PodInfo) -> str:
    return pod.pod.get("status", {}).get("startTime") or pod.pod["metadata"].get("creationTimestamp") or ""


def importance(pod: PodInfo) -> tuple[int, str]:
    """Sort key putting more important pods first (util.MoreImportantPod): priority, then older start."""
    return (-pod.priority, start_time(pod))


def terminating_by_preemption(pod: PodInfo) -> bool:
    conditions = pod.pod.get("status", {}).get("conditions") or ()
    return pod.terminating and any(c.get("type") == "DisruptionTarget" and c.get("reason") == "PreemptionByScheduler"
                                   for c in conditions)


def pick_one_node(candidates: list[Candidate]) -> Candidate:
    """upstream pickOneNodeForPreemption; no PDB accounting yet, so every candidate ties on violations."""
    for candidate in candidates:
        if not candidate.victims:
            return candidate

    def key(c: Candidate) -> tuple[int, int, int, str]:
        highest = c.victims[0].priority
        earliest_of_highest = min(start_time(v) for v in c.victims if v.priority == highest)
        total = sum(v.priority + 2**31 for v in c.victims)  # offset keeps negative priorities ordered
        return (highest, total, len(c.victims), _inverted(earliest_of_highest))

    return min(candidates, key=key)


def _inverted(timestamp: str) -> str:
    """Sorts later timestamps first (same-format RFC 3339 strings compare chronologically)."""
    return "".join(chr(0x10FFFF - ord(ch)) for ch in timestamp)


class DefaultPreemption:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def events_to_register(self) -> list[Any]:
        return []

    def post_filter(self, state: CycleState, pod: PodInfo, statuses: dict[str, Status]) -> PostFilterResult:
        eligible, why = self.eligible(pod, statuses)
        if not eligible:
            return PostFilterResult(Status.unschedulable(f"preemption: {why}", plugin=NAME))
        candidates, node_statuses = self.find_candidates(state, pod, statuses)
        if not candidates:
            message = fit_error_message(len(node_statuses), Diagnosis(node_to_status=node_statuses))
            return PostFilterResult(Status.unschedulable(f"preemption: {message}", plugin=NAME))
        best = pick_one_node(candidates)
        return PostFilterResult(SUCCESS, best.node, best.victims, lambda: self.prepare_candidate(best, pod))

    def eligible(self, pod: PodInfo, statuses: dict[str, Status]) -> tuple[bool, str]:
        """PodEligibleToPreemptOthers: not with preemptionPolicy Never, nor while a victim of an earlier
        preemption is still terminating on the nominated node."""
        if pod.pod.get("spec", {}).get("preemptionPolicy") == "Never":
            return False, "not eligible due to preemptionPolicy=Never."
        nominated = pod.pod.get("status", {}).get("nominatedNodeName")
        if nominated:
            status = statuses.get(nominated)
            if status is not None and status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return True, ""
            node = self.handle.snapshot.get(nominated)
            if node is not None and any(p.priority < pod.priority and terminating_by_preemption(p)
                                        for p in node.pods.values()):
                return False, "not eligible due to a terminating pod on the nominated node."
        return True, ""

    def find_candidates(self, state: CycleState, pod: PodInfo,
                        statuses: dict[str, Status]) -> tuple[list[Candidate], dict[str, Status]]:
        node_statuses: dict[str, Status] = {}
        potential: list[NodeInfo] = []
        for node in self.handle.snapshot.node_infos:
            status = statuses.get(node.name)
            if status is not None and status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                node_statuses[node.name] = Status.unresolvable(NOT_HELPFUL, plugin=NAME)
            else:
                potential.append(node)
        wanted = min(len(potential), max(len(potential) * MIN_CANDIDATE_NODES_PERCENTAGE // 100,
                                         MIN_CANDIDATE_NODES_ABSOLUTE))
        candidates: list[Candidate] = []
        for node in potential:
            victims, status = self.select_victims_on_node(state, pod, node)
            if victims is None:
                node_statuses[node.name] = status
                continue
            candidates.append(Candidate(node.name, victims))
            if len(candidates) >= wanted:
                break
        return candidates, node_statuses

    def select_victims_on_node(self, state: CycleState, pod: PodInfo,
                               node: NodeInfo) -> tuple[list[PodInfo] | None, Status]:
        room = node.clone()
        lower = [p for p in room.pods.values() if p.priority < pod.priority]
        if not lower:
            return None, Status.unresolvable(NO_VICTIMS, plugin=NAME)
        for victim in lower:
            room.remove_pod(victim.key)
        status = self._fits(pod, room)
        if not status.is_success:
            return None, status
        victims = []
        for candidate in sorted(lower, key=importance):
            room.add_pod(candidate)
            if not self._fits(pod, room).is_success:
                room.remove_pod(candidate.key)
                victims.append(candidate)
        return victims, SUCCESS

    def _fits(self, pod: PodInfo, room: NodeInfo) -> Status:
        """Run PreFilter and Filter as if `room` replaced its node (plugins read the handle's snapshot)."""
        framework = self.handle.framework
        assert framework is not None
        real = self.handle.snapshot
        self.handle.snapshot = real.with_node(room)
        try:
            state = CycleState()
            status = framework.run_pre_filter(state, pod)
            if not status.is_success:
                return status
            return framework.run_filters_with_nominated_pods(state, pod, room)
        finally:
            self.handle.snapshot = real

    async def prepare_candidate(self, candidate: Candidate, pod: PodInfo) -> None:
        """Evict the victims (condition, event, delete) and take the node back from lower-priority nominees."""
        client, recorder = self.handle.client, self.handle.recorder
        now = now_rfc3339()
        for victim in candidate.victims:
            condition = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                         "message": f"{self.handle.scheduler_name}: preempting to accommodate a higher priority pod",
                         "lastTransitionTime": now}
            try:
                await client.patch(PODS, victim.name, {"status": {"conditions": [condition]}}, victim.namespace,
                                   patch_type="strategic", subresource="status")
                await client.delete(PODS, victim.name, victim.namespace)
            except StatusError as e:
                if e.code != 404:
                    raise
            if recorder is not None:
                await recorder.event(victim.pod, "Normal", "Preempted",
                                     f"Preempted by pod {pod.uid} on node {candidate.node}")
        nominator = self.handle.nominator
        for other in nominator.nominated_pods_for_node(candidate.node) if nominator else ():
            if other.priority < pod.priority:
                try:
                    await client.patch(PODS, other.name, {"status": {"nominatedNodeName": None}}, other.namespace,
                                       subresource="status")
                except StatusError as e:
                    log.info("clearing nomination of %s: %s", other.key, e.message)
