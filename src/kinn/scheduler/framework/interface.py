"""Plugin interfaces, Status and CycleState (pkg/scheduler/framework/interface.go, types.go).

A plugin implements any of the extension points below; the runtime finds them by type. Statuses
carry upstream's codes: Unschedulable means "another node or preemption may help",
UnschedulableAndUnresolvable means "this node cannot host the pod whatever is evicted" (so the
preemption PostFilter skips such nodes), Skip from PreFilter/PreScore means "nothing to check for
this pod" and drops the plugin from the rest of the cycle — the main reason a Python scheduler
can keep up: a plain pod only pays for the few plugins that concern it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Hashable, Iterable, Mapping, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kinn.client.informer import Indexer
    from kinn.scheduler.framework.runtime import Framework
    from kinn.scheduler.nodeinfo import NodeInfo, PodInfo, Snapshot

Obj = dict[str, Any]
MAX_NODE_SCORE = 100


class Code(IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5


@dataclass(frozen=True, slots=True)
class Status:
    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @classmethod
    def unschedulable(cls, *reasons: str, plugin: str = "") -> "Status":
        return cls(Code.UNSCHEDULABLE, reasons, plugin)

    @classmethod
    def unresolvable(cls, *reasons: str, plugin: str = "") -> "Status":
        return cls(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, plugin)

    @classmethod
    def error(cls, message: str, plugin: str = "") -> "Status":
        return cls(Code.ERROR, (message,), plugin)

    @property
    def is_success(self) -> bool:
        return self.code is Code.SUCCESS

    @property
    def is_rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> "Status":
        return self if self.plugin == plugin else Status(self.code, self.reasons, plugin)


SUCCESS = Status()
SKIP = Status(Code.SKIP)


class CycleState(dict[str, Any]):
    """Per-cycle data plugins share between their extension points (keyed by plugin)."""

    def clone(self) -> "CycleState":
        return CycleState(self)


@dataclass(frozen=True)
class ClusterEvent:
    """A change that may make rejected pods schedulable (framework.ClusterEvent): resource + action."""

    resource: str
    action: str  # Add, Update, Delete


def cluster_events(resource: str, *actions: str) -> list[ClusterEvent]:
    return [ClusterEvent(resource, action) for action in actions]


NODE_ADD = ClusterEvent("Node", "Add")
NODE_UPDATE = ClusterEvent("Node", "Update")
ASSIGNED_POD_DELETE = ClusterEvent("Pod", "Delete")
ASSIGNED_POD_CHANGE = cluster_events("Pod", "Add", "Update", "Delete")

@dataclass
class Diagnosis:
    """Why a pod fits nowhere: each node's rejecting status, and the plugins that rejected it."""

    node_to_status: dict[str, Status] = field(default_factory=dict)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""


class FitError(Exception):
    """No node fits; the message is upstream's FitError.Error() aggregation, word for word."""

    def __init__(self, pod: Obj, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.pod, self.num_all_nodes, self.diagnosis = pod, num_all_nodes, diagnosis

    def __str__(self) -> str:
        return fit_error_message(self.num_all_nodes, self.diagnosis)


def fit_error_message(num_all_nodes: int, diagnosis: Diagnosis) -> str:
    """`0/N nodes are available: <histogram>. <post filter message>`

    The histogram counts each reason over nodes and sorts the "count reason" strings, as upstream
    does; a PreFilter rejection replaces it (every node carries the same status then). The PostFilter
    message is appended as is: preemption's own "0/N nodes…" text already ends with its period.
    """
    message = f"0/{num_all_nodes} nodes are available:"
    if diagnosis.pre_filter_msg:
        message += f" {diagnosis.pre_filter_msg}."
    else:
        histogram: dict[str, int] = {}
        for status in diagnosis.node_to_status.values():
            for reason in status.reasons:
                histogram[reason] = histogram.get(reason, 0) + 1
        if histogram:
            message += " " + ", ".join(sorted(f"{n} {r}" for r, n in histogram.items())) + "."
    if diagnosis.post_filter_msg:
        message += f" {diagnosis.post_filter_msg}"
    return message


def default_normalize_score(scores: list[int], reverse: bool = False) -> None:
    """Scale to 0..MAX_NODE_SCORE by the highest score, optionally reversed (helper.DefaultNormalizeScore)."""
    highest = max(scores, default=0)
    if highest == 0:
        if reverse:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        return
    for i, score in enumerate(scores):
        scaled = MAX_NODE_SCORE * score // highest
        scores[i] = MAX_NODE_SCORE - scaled if reverse else scaled


class Listers:
    """Read-only views of the informer caches plugins consult (PVCs, PVs, classes, namespaces, owners).

    Keyed by kind; in the scheduler they are the informers' indexers, in unit tests plain Indexers.
    """

    def __init__(self, indexers: Mapping[str, "Indexer"]) -> None:
        self._indexers = indexers

    def get(self, kind: str, key: str) -> Obj | None:
        indexer = self._indexers.get(kind)
        return indexer.get(key) if indexer is not None else None

    def in_namespace(self, kind: str, namespace: str) -> list[Obj]:
        indexer = self._indexers.get(kind)
        return indexer.by_index("namespace", namespace) if indexer is not None else []


@dataclass
class Handle:
    """What plugins may reach beyond their arguments (framework.Handle)."""

    listers: Listers
    snapshot: "Snapshot"
    framework: "Framework | None" = None
    nominator: "Nominator | None" = None
    client: Any = None  # the API client, for plugins that write (PreBind, preemption)
    recorder: Any = None  # EventRecorder of the scheduler
    scheduler_name: str = "default-scheduler"


class Nominator(Protocol):
    def nominated_pods_for_node(self, node_name: str) -> list["PodInfo"]: ...

    def nominated_nodes(self) -> Iterable[str]: ...


@runtime_checkable
class Plugin(Protocol):
    name: str

    def events_to_register(self) -> Iterable[ClusterEvent]: ...


@runtime_checkable
class PreFilterPlugin(Protocol):
    def pre_filter(self, state: CycleState, pod: "PodInfo") -> Status: ...


@runtime_checkable
class FilterPlugin(Protocol):
    def filter(self, state: CycleState, pod: "PodInfo", node: "NodeInfo") -> Status: ...


@runtime_checkable
class SignPlugin(Protocol):
    """A Filter whose verdict on a node depends on nothing but that node (its object and its pods)
    and the part of the pod `sign` returns. When every filter of a cycle signs, the verdicts are
    remembered per node under the pod's signature (Framework.run_filters_remembered), as upstream's
    equivalence cache once did and its pod signatures (KEP-5598) do again: the pods of one
    ReplicaSet ask every node the same question, and only the node that took the last one has a
    new answer."""

    def sign(self, pod: "PodInfo") -> Hashable: ...


@runtime_checkable
class PostFilterPlugin(Protocol):
    def post_filter(self, state: CycleState, pod: "PodInfo", statuses: dict[str, Status]) -> "PostFilterResult": ...


@runtime_checkable
class PreScorePlugin(Protocol):
    def pre_score(self, state: CycleState, pod: "PodInfo", nodes: list["NodeInfo"]) -> Status: ...


@runtime_checkable
class ScorePlugin(Protocol):
    """Scores every feasible node in one call, in the order given. Upstream's Score takes one node
    and the framework fans the nodes out over 16 goroutines; in Python the call per node is itself
    the cost (420 nodes × 4 plugins per pod at 1,000 nodes), so a plugin walks the list itself and
    hoists what all nodes share."""

    def score(self, state: CycleState, pod: "PodInfo", nodes: list["NodeInfo"]) -> list[int]: ...


@runtime_checkable
class NormalizeScorePlugin(Protocol):
    def normalize_score(self, state: CycleState, pod: "PodInfo", nodes: list["NodeInfo"], scores: list[int]) -> None: ...


@runtime_checkable
class PreBindPlugin(Protocol):
    async def pre_bind(self, state: CycleState, pod: "PodInfo", node_name: str) -> Status: ...


@dataclass
class PostFilterResult:
    """A PostFilter's outcome: the node nominated (if any), pods to evict for it, and the status."""

    status: Status
    nominated_node: str = ""
    victims: list["PodInfo"] = field(default_factory=list)
    prepare: Callable[[], Awaitable[None]] | None = None  # API writes that make room (evict victims)
