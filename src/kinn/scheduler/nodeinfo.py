"""NodeInfo, PodInfo and the Snapshot plugins read (pkg/scheduler/framework/types.go, internal/cache/snapshot.go).

Everything a filter needs is pre-computed once per pod or kept up to date incrementally as pods
come and go — requests in integer millicores and bytes, host ports, affinity terms — so that
checking a node is a handful of integer comparisons, never a walk over its pods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, TypeVar

from kinn.api import podresources
from kinn.api.podresources import integers
from kinn.api.selectors import LabelSelector

Obj = dict[str, Any]

# Requests assumed for containers that set none, so best-effort pods still spread (util.GetNonzeroRequests).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
_NON_ZERO = {"cpu": DEFAULT_MILLI_CPU_REQUEST, "memory": DEFAULT_MEMORY_REQUEST}
LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_ZONE = "topology.kubernetes.io/zone"


@dataclass(slots=True)
class Resource:
    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    allowed_pod_number: int = 0
    scalar: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_list(cls, resources: Obj | None) -> "Resource":
        """From a ResourceList (a node's allocatable)."""
        return cls.from_amounts(integers(resources))

    @classmethod
    def from_amounts(cls, amounts: dict[str, int]) -> "Resource":
        """From integer amounts (millicores for cpu), as kinn.api.podresources adds them up."""
        result = cls()
        for name, amount in amounts.items():
            if name == "cpu":
                result.milli_cpu = amount
            elif name == "memory":
                result.memory = amount
            elif name == "ephemeral-storage":
                result.ephemeral_storage = amount
            elif name == "pods":
                result.allowed_pod_number = amount
            else:
                result.scalar[name] = amount
        return result

    def add(self, other: "Resource", sign: int = 1) -> None:
        self.milli_cpu += sign * other.milli_cpu
        self.memory += sign * other.memory
        self.ephemeral_storage += sign * other.ephemeral_storage
        for name, amount in other.scalar.items():
            self.scalar[name] = self.scalar.get(name, 0) + sign * amount

    def copy(self) -> "Resource":
        return Resource(self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pod_number,
                        dict(self.scalar))


def pod_requests(spec: Obj, non_zero: bool = False) -> Resource:
    """The pod's effective requests (PodRequests); `non_zero` substitutes the defaults for unset
    cpu/memory, as the scheduler's scoring does (NonMissingContainerRequests)."""
    return Resource.from_amounts(podresources.pod_requests(spec, defaults=_NON_ZERO if non_zero else None))


def host_ports(spec: Obj) -> list[tuple[str, str, int]]:
    """(hostIP, protocol, hostPort) of every container port that claims a host port."""
    ports = []
    for container in list(spec.get("initContainers") or ()) + list(spec.get("containers") or ()):
        for port in container.get("ports") or ():
            if port.get("hostPort"):
                ports.append((port.get("hostIP") or "0.0.0.0", port.get("protocol") or "TCP", port["hostPort"]))
    return ports


def pod_priority(pod: Obj) -> int:
    return (pod.get("spec") or {}).get("priority") or 0


class PodInfo:
    """A pod with the parts scheduling reads parsed once (framework.PodInfo)."""

    __slots__ = ("pod", "key", "uid", "namespace", "name", "labels", "priority", "requests", "non_zero",
                 "ports", "affinity", "anti_affinity", "preferred_affinity", "preferred_anti_affinity",
                 "claims", "terminating", "parsed_terms")

    def __init__(self, pod: Obj) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        self.pod = pod
        self.namespace = meta.get("namespace", "")
        self.name = meta["name"]
        self.key = f"{self.namespace}/{self.name}"
        self.uid = meta.get("uid", "")
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.priority = spec.get("priority") or 0
        self.requests = pod_requests(spec)
        self.non_zero = pod_requests(spec, non_zero=True)
        self.ports = host_ports(spec)
        affinity = spec.get("affinity") or {}
        pod_affinity = affinity.get("podAffinity") or {}
        pod_anti = affinity.get("podAntiAffinity") or {}
        self.affinity: list[Obj] = pod_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or []
        self.anti_affinity: list[Obj] = pod_anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []
        self.preferred_affinity: list[Obj] = pod_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        self.preferred_anti_affinity: list[Obj] = pod_anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        self.claims = claim_names(pod)
        self.terminating = bool(meta.get("deletionTimestamp"))
        self.parsed_terms: object = None  # InterPodAffinity's resolved terms, filled on first use

    @property
    def has_affinity(self) -> bool:
        return bool(self.affinity or self.anti_affinity or self.preferred_affinity or self.preferred_anti_affinity)

    def __repr__(self) -> str:
        return f"PodInfo({self.key})"


T = TypeVar("T")


def memoized(nodes: list["NodeInfo"], key: Hashable, compute: Callable[["NodeInfo"], T]) -> list[T]:
    """`compute(node)` for each node, taken from the node's memo where it is already known. `key`
    names the question and everything it depends on besides the node (the pod's requests …);
    an answer is never None. The known answers are gathered in one pass and only the few unknown
    ones (None) are looked for and computed: a cycle usually finds one. The key is looked up as its
    repr: a tuple is hashed anew at every lookup, a string once."""
    key = repr(key)
    answers: list[T | None] = [node.memo.get(key) for node in nodes]
    i = 0
    try:
        while True:
            i = answers.index(None, i)
            node = nodes[i]
            answers[i] = node.memo[key] = compute(node)
    except ValueError:  # no unknown answer left
        return answers  # type: ignore[return-value]


def claim_names(pod: Obj) -> list[str]:
    """PVC names a pod uses; a generic ephemeral volume's claim is `<pod>-<volume>`, as upstream names it."""
    names = []
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        if volume.get("persistentVolumeClaim"):
            names.append(volume["persistentVolumeClaim"]["claimName"])
        elif volume.get("ephemeral"):
            names.append(f"{pod['metadata']['name']}-{volume['name']}")
    return names


class NodeInfo:
    """A node, the pods on it, their summed requests and the host ports they hold (framework.NodeInfo).

    `memo` keeps answers derived from the node and its pods (a score, a count of matching pods)
    until either changes. Every cycle for one workload's pods asks every node the same questions,
    and only the node that took the last pod has new answers: at 1,000 nodes, recomputing them
    was most of the time a cycle spent scoring.
    """

    __slots__ = ("node", "name", "labels", "taints", "unschedulable", "allocatable", "pods", "requested",
                 "non_zero_requested", "used_ports", "pods_with_affinity", "pods_with_required_anti_affinity",
                 "memo")

    def __init__(self, node: Obj | None = None, name: str = "") -> None:
        self.pods: dict[str, PodInfo] = {}
        self.requested = Resource()
        self.non_zero_requested = Resource()
        self.used_ports: list[tuple[str, str, int]] = []
        self.pods_with_affinity = 0
        self.pods_with_required_anti_affinity = 0
        self.memo: dict[Hashable, Any] = {}
        self.node: Obj | None = None
        self.name = name
        self.labels: dict[str, str] = {}
        self.taints: list[Obj] = []
        self.unschedulable = False
        self.allocatable = Resource()
        if node is not None:
            self.set_node(node)

    def set_node(self, node: Obj) -> None:
        spec, status = node.get("spec") or {}, node.get("status") or {}
        self.node = node
        self.name = node["metadata"]["name"]
        self.labels = node["metadata"].get("labels") or {}
        self.taints = spec.get("taints") or []
        self.unschedulable = bool(spec.get("unschedulable"))
        self.allocatable = Resource.from_list(status.get("allocatable") or status.get("capacity"))
        self.memo = {}

    def add_pod(self, info: PodInfo) -> None:
        self.pods[info.key] = info
        self._account(info, 1)

    def remove_pod(self, key: str) -> PodInfo | None:
        info = self.pods.pop(key, None)
        if info is not None:
            self._account(info, -1)
        return info

    def _account(self, info: PodInfo, sign: int) -> None:
        self.requested.add(info.requests, sign)
        self.non_zero_requested.add(info.non_zero, sign)
        if sign > 0:
            self.used_ports.extend(info.ports)
        else:
            for port in info.ports:
                self.used_ports.remove(port)
        if info.has_affinity:
            self.pods_with_affinity += sign
        if info.anti_affinity:
            self.pods_with_required_anti_affinity += sign
        self.memo = {}

    def count_matching(self, selector: LabelSelector, namespace: str) -> int:
        """Pods of `namespace` that `selector` matches, not terminating (countPodsMatchSelector);
        remembered in `memo`."""
        key = ("count_matching", selector.key, namespace)
        count = self.memo.get(key)
        if count is None:
            count = self.memo[key] = sum(
                1 for p in self.pods.values() if p.namespace == namespace and not p.terminating
                and selector.matches(p.labels))
        return count

    def clone(self) -> "NodeInfo":
        """A copy whose pods can be removed/added (preemption's dry run) without touching the cache."""
        copy = NodeInfo.__new__(NodeInfo)
        for slot in NodeInfo.__slots__:
            setattr(copy, slot, getattr(self, slot))
        copy.pods = dict(self.pods)
        copy.requested = self.requested.copy()
        copy.non_zero_requested = self.non_zero_requested.copy()
        copy.used_ports = list(self.used_ports)
        copy.memo = {}
        return copy

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)})"


class Snapshot:
    """The nodes one cycle sees: NodeInfos in a zone-interleaved order (the upstream nodeTree), plus the
    lists InterPodAffinity walks and PVC users VolumeRestrictions checks. The cache keeps one alive and
    updates it in place between cycles; a cycle runs without yielding, so it never sees a half-update."""

    def __init__(self) -> None:
        self.infos: dict[str, NodeInfo] = {}
        self.claim_users: dict[str, set[str]] = {}
        self._order: list[NodeInfo] | None = None
        self._label_keys: set[str] | None = None
        # The nodes with pods that have (anti-)affinity terms, which InterPodAffinity walks every
        # cycle: recomputed only after such a pod or a node came or went, not per cycle.
        self._with_affinity: list[NodeInfo] | None = None
        self._with_required_anti_affinity: list[NodeInfo] | None = None

    @classmethod
    def from_objects(cls, nodes: Iterable[Obj], pods: Iterable[Obj] = ()) -> "Snapshot":
        snapshot = cls()
        for node in nodes:
            snapshot.set_node(node)
        for pod in pods:
            snapshot.add_pod(PodInfo(pod), pod["spec"]["nodeName"])
        return snapshot

    # -- reads -----------------------------------------------------------------------------------

    def get(self, name: str) -> NodeInfo | None:
        info = self.infos.get(name)
        return info if info is not None and info.node is not None else None

    @property
    def node_infos(self) -> list[NodeInfo]:
        if self._order is None:
            self._order = _interleave_zones([i for i in self.infos.values() if i.node is not None])
        return self._order

    @property
    def label_keys(self) -> set[str]:
        """Every label key some node carries: a topology key that none has (a zone, on most kinn
        clusters) is known absent without asking each node."""
        if self._label_keys is None:
            self._label_keys = {key for info in self.node_infos for key in info.labels}
        return self._label_keys

    def have_pods_with_affinity(self) -> list[NodeInfo]:
        if self._with_affinity is None:
            self._with_affinity = [i for i in self.node_infos if i.pods_with_affinity]
        return self._with_affinity

    def have_pods_with_required_anti_affinity(self) -> list[NodeInfo]:
        if self._with_required_anti_affinity is None:
            self._with_required_anti_affinity = [i for i in self.node_infos if i.pods_with_required_anti_affinity]
        return self._with_required_anti_affinity

    def _forget_affinity_nodes(self) -> None:
        self._with_affinity = self._with_required_anti_affinity = None

    def with_node(self, replacement: NodeInfo) -> "Snapshot":
        """A view identical to this one except for one node (preemption evaluates victims on clones)."""
        view = Snapshot()
        view.infos = {**self.infos, replacement.name: replacement}
        view.claim_users = self.claim_users
        return view

    # -- writes (from the cache) -----------------------------------------------------------------

    def set_node(self, node: Obj) -> NodeInfo:
        name = node["metadata"]["name"]
        self._label_keys = None
        self._forget_affinity_nodes()
        info = self.infos.get(name)
        if info is None:
            info = self.infos[name] = NodeInfo(node)
            self._order = None
        else:
            had_node, old_zone = info.node is not None, info.labels.get(LABEL_ZONE)
            info.set_node(node)
            if not had_node or old_zone != info.labels.get(LABEL_ZONE):
                self._order = None
        return info

    def remove_node(self, name: str) -> None:
        info = self.infos.get(name)
        if info is None:
            return
        self._order, self._label_keys = None, None
        self._forget_affinity_nodes()
        if info.pods:
            info.node = None  # keep accounting for pods whose deletion has not arrived yet
        else:
            del self.infos[name]

    def add_pod(self, info: PodInfo, node_name: str) -> None:
        node = self.infos.get(node_name)
        if node is None:
            node = self.infos[node_name] = NodeInfo(name=node_name)
        node.add_pod(info)
        if info.has_affinity:
            self._forget_affinity_nodes()
        for claim in info.claims:
            self.claim_users.setdefault(f"{info.namespace}/{claim}", set()).add(info.key)

    def remove_pod(self, key: str, node_name: str) -> None:
        node = self.infos.get(node_name)
        if node is None:
            return
        info = node.remove_pod(key)
        if info is not None and info.has_affinity:
            self._forget_affinity_nodes()
        if info is not None:
            for claim in info.claims:
                users = self.claim_users.get(f"{info.namespace}/{claim}")
                if users is not None:
                    users.discard(key)
                    if not users:
                        del self.claim_users[f"{info.namespace}/{claim}"]
        if node.node is None and not node.pods:
            del self.infos[node_name]


def _interleave_zones(infos: list[NodeInfo]) -> list[NodeInfo]:
    """One node of each zone in turn, so a sampled prefix of the list still spans zones (nodeTree)."""
    zones: dict[str, list[NodeInfo]] = {}
    for info in infos:
        zones.setdefault(info.labels.get(LABEL_ZONE, ""), []).append(info)
    if len(zones) <= 1:
        return infos
    ordered: list[NodeInfo] = []
    columns = list(zones.values())
    for i in range(max(len(c) for c in columns)):
        ordered.extend(c[i] for c in columns if i < len(c))
    return ordered
