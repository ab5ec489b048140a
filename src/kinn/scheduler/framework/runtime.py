"""The framework runtime (pkg/scheduler/framework/runtime/framework.go): plugins run in order per point.

PreFilter/PreScore may answer Skip, which removes the plugin's Filter/Score from this cycle. Filters
stop at the first rejection for a node (so a node is reported under one reason, as upstream). Score
totals are the weighted sum of each plugin's normalized 0..100 score.
"""

from __future__ import annotations

from typing import Any

from kinn.scheduler.framework.interface import (
    Code, CycleState, FilterPlugin, Handle, NormalizeScorePlugin, PostFilterPlugin, PostFilterResult, PreBindPlugin,
    PreFilterPlugin, PreScorePlugin, ScorePlugin, SignPlugin, Status, SUCCESS,
)
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo

_FILTERS = "framework/filters"
_SIGNATURE = "framework/signature"
_SCORERS = "framework/scorers"


class Framework:
    def __init__(self, plugins: list[Any], weights: dict[str, int], handle: Handle) -> None:
        self.plugins = plugins
        self.weights = weights
        self.handle = handle
        handle.framework = self
        self.pre_filter_plugins = [p for p in plugins if isinstance(p, PreFilterPlugin)]
        self.filter_plugins = [p for p in plugins if isinstance(p, FilterPlugin)]
        self.post_filter_plugins = [p for p in plugins if isinstance(p, PostFilterPlugin)]
        self.pre_score_plugins = [p for p in plugins if isinstance(p, PreScorePlugin)]
        self.score_plugins = [p for p in plugins if isinstance(p, ScorePlugin) and weights.get(p.name, 0) > 0]
        self.pre_bind_plugins = [p for p in plugins if isinstance(p, PreBindPlugin)]
        # Protocol isinstance checks are slow: resolve the per-plugin capabilities once.
        self._normalizers = {p.name for p in self.score_plugins if isinstance(p, NormalizeScorePlugin)}
        self._signers = {p.name for p in self.filter_plugins if isinstance(p, SignPlugin)}

    def plugin(self, name: str) -> Any:
        return next(p for p in self.plugins if p.name == name)

    # -- filtering -------------------------------------------------------------------------------

    def run_pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        skipped: set[str] = set()
        for plugin in self.pre_filter_plugins:
            status = plugin.pre_filter(state, pod)
            if status.code is Code.SKIP:
                skipped.add(plugin.name)
            elif not status.is_success:
                return status.with_plugin(plugin.name)
        filters = state[_FILTERS] = [p for p in self.filter_plugins if p.name not in skipped]
        signable = all(p.name in self._signers for p in filters)
        state[_SIGNATURE] = repr(("filters", *(p.sign(pod) for p in filters))) if signable else None
        return SUCCESS

    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        for plugin in state[_FILTERS]:
            status = plugin.filter(state, pod, node)
            if status is not SUCCESS:
                return status.with_plugin(plugin.name)
        return SUCCESS

    def remembered_verdicts(self, state: CycleState, nodes: list[NodeInfo], crowded: set[str]) -> list[Status | None]:
        """Each node's remembered filter verdict for this cycle's pod, None where there is none (or
        where pods nominated to the node make the remembered answer beside the point)."""
        signature = state[_SIGNATURE]
        if signature is None:
            return [None] * len(nodes)
        if crowded:
            return [None if node.name in crowded else node.memo.get(signature) for node in nodes]
        return [node.memo.get(signature) for node in nodes]

    def run_filters_remembered(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        """`run_filters`, answered from the node's memo when this cycle's filters all sign the pod
        and a pod with the same signature asked the node since it last changed (see SignPlugin)."""
        signature = state[_SIGNATURE]
        if signature is None:
            return self.run_filters(state, pod, node)
        status = node.memo.get(signature)
        if status is None:
            status = self.run_filters(state, pod, node)
            if status is SUCCESS or status.is_rejected:  # an error is not an answer to keep
                node.memo[signature] = status
        return status

    def run_filters_with_nominated_pods(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        """Filter as if pods nominated to this node with at least our priority were already there, then
        without them (either may be what happens), so preemptors keep the room they made."""
        nominator = self.handle.nominator
        nominated = [p for p in nominator.nominated_pods_for_node(node.name)
                     if p.priority >= pod.priority and p.uid != pod.uid] if nominator else []
        if nominated:
            crowded = node.clone()
            for other in nominated:
                crowded.add_pod(other)
            status = self.run_filters(state, pod, crowded)
            if not status.is_success:
                return status
        return self.run_filters(state, pod, node)

    def run_post_filter(self, state: CycleState, pod: PodInfo, statuses: dict[str, Status]) -> PostFilterResult:
        result = PostFilterResult(Status.unschedulable())
        for plugin in self.post_filter_plugins:
            result = plugin.post_filter(state, pod, statuses)
            if result.status.is_success or not result.status.is_rejected:
                return result
        return result

    # -- scoring ---------------------------------------------------------------------------------

    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        skipped: set[str] = set()
        for plugin in self.pre_score_plugins:
            status = plugin.pre_score(state, pod, nodes)
            if status.code is Code.SKIP:
                skipped.add(plugin.name)
            elif not status.is_success:
                return status.with_plugin(plugin.name)
        state[_SCORERS] = [p for p in self.score_plugins if p.name not in skipped]
        return SUCCESS

    def run_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        totals = [0] * len(nodes)
        for plugin in state[_SCORERS]:
            scores = plugin.score(state, pod, nodes)
            if plugin.name in self._normalizers:
                plugin.normalize_score(state, pod, nodes, scores)
            weight = self.weights[plugin.name]
            totals = [total + score * weight for total, score in zip(totals, scores)]
        return totals
