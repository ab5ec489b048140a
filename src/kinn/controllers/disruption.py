"""PodDisruptionBudget status (pkg/controller/disruption), which the eviction subresource obeys.

For each budget: the selected pods, how many are healthy (Ready and not being deleted, nor
recently evicted), how many should be (`desiredHealthy`), out of how many expected, and so how
many may be disrupted now. An integer minAvailable counts against the selected pods; a percentage,
or any maxUnavailable, counts against the scale of the pods' controllers (ReplicationController,
ReplicaSet, Deployment, StatefulSet), rounding the percentage up as upstream does.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

from kinn.api.selectors import SelectorError, label_selector_from_object
from kinn.client.informer import EventHandler, SharedInformer, object_key
from kinn.client.rest import resource
from kinn.controllers.base import Controller, ControllerContext
from kinn.api.timestamps import now_rfc3339
from kinn.controllers.podutil import controller_of, is_pod_ready, is_terminating, parse_time

Obj = dict[str, Any]

PDBS = resource("policy/v1", "poddisruptionbudgets")
PODS = resource("v1", "pods")
SCALABLE = {
    "ReplicationController": resource("v1", "replicationcontrollers"),
    "ReplicaSet": resource("apps/v1", "replicasets"),
    "Deployment": resource("apps/v1", "deployments"),
    "StatefulSet": resource("apps/v1", "statefulsets"),
}
# An evicted pod the budget still counts as disrupted until it is gone, at most this long (DeletionTimeout).
DELETION_TIMEOUT = timedelta(minutes=2)


class NoControllers(Exception):
    pass


def scaled_value(value: int | str, total: int) -> int:
    """IntOrString against a total, percentages rounded up (GetScaledValueFromIntOrPercent, roundUp)."""
    if isinstance(value, int):
        return value
    return math.ceil(int(value.rstrip("%")) * total / 100)


def needs_scale(spec: Obj) -> bool:
    """Only an integer minAvailable is judged against the pods alone."""
    return spec.get("maxUnavailable") is not None or not isinstance(spec.get("minAvailable"), int)


def expected_and_desired(spec: Obj, pod_count: int, scale: int) -> tuple[int, int]:
    """(expectedPods, desiredHealthy) of a budget spec (getExpectedPodCount)."""
    if spec.get("maxUnavailable") is not None:
        return scale, max(0, scale - scaled_value(spec["maxUnavailable"], scale))
    min_available = spec.get("minAvailable")
    if isinstance(min_available, int):
        return pod_count, min_available
    if min_available is None:
        return pod_count, 0
    return scale, scaled_value(min_available, scale)


def disruption_condition(allowed: int, previous: list[Obj], generation: int, now: str) -> Obj:
    """DisruptionAllowed, keeping lastTransitionTime unless the status flips (SetStatusCondition)."""
    status, reason = ("True", "SufficientPods") if allowed > 0 else ("False", "InsufficientPods")
    return _condition(status, reason, "", previous, generation, now)


def _condition(status: str, reason: str, message: str, previous: list[Obj], generation: int, now: str) -> Obj:
    old = next((c for c in previous if c.get("type") == "DisruptionAllowed"), None)
    since = old["lastTransitionTime"] if old and old.get("status") == status else now
    return {"type": "DisruptionAllowed", "status": status, "reason": reason, "message": message,
            "observedGeneration": generation, "lastTransitionTime": since}


def live_disrupted_pods(disrupted: dict[str, str], pods: dict[str, Obj], now: datetime) -> dict[str, str]:
    """Evictions still in flight: the pod exists, is not yet being deleted, and was evicted recently."""
    alive = {}
    for name, when in disrupted.items():
        pod, evicted = pods.get(name), parse_time(when)
        if pod is None or is_terminating(pod) or evicted is None or now - evicted > DELETION_TIMEOUT:
            continue
        alive[name] = when
    return alive


class DisruptionController(Controller):
    name = "disruption"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.recorder = ctx.recorder("controllermanager")
        self.pdbs = self.informer(PDBS, self.enqueue_handler())
        self.pods = self.informer(PODS, self._namespace_handler(match_pod=True))
        self.scalables: dict[str, SharedInformer] = {
            kind: self.informer(r, self._namespace_handler(match_pod=False)) for kind, r in SCALABLE.items()}

    def _namespace_handler(self, match_pod: bool) -> EventHandler:
        """Enqueue the budgets a changed pod (or any controller in its namespace) may affect."""
        def changed(obj: Obj) -> None:
            namespace = obj["metadata"].get("namespace", "")
            for pdb in self.pdbs.indexer.by_index("namespace", namespace):
                if not match_pod or _selects(pdb, obj):
                    self.enqueue(pdb)

        return EventHandler(on_add=changed, on_update=lambda old, new: changed(new), on_delete=changed)

    async def sync(self, key: str) -> None:
        pdb = self.pdbs.indexer.get(key)
        if pdb is None:
            return
        pods = [p for p in self.pods.indexer.by_index("namespace", pdb["metadata"]["namespace"]) if _selects(pdb, p)]
        if not pods:
            await self.recorder.event(pdb, "Normal", "NoPods", "No matching pods found")
        spec = pdb.get("spec") or {}
        try:
            scale = self._expected_scale(pods) if needs_scale(spec) else 0
        except NoControllers as e:
            await self.recorder.event(pdb, "Warning", "CalculateExpectedPodCountFailed",
                                      f"Failed to calculate the number of expected pods: {e}")
            await self._write_status(pdb, self._failed_status(pdb, str(e)))
            return
        expected, desired = expected_and_desired(spec, len(pods), scale)
        await self._write_status(pdb, self._status(pdb, pods, expected, desired))

    def _expected_scale(self, pods: list[Obj]) -> int:
        """The summed replicas of the pods' controllers (getExpectedScale)."""
        scales: dict[str, int] = {}
        for pod in pods:
            ref = controller_of(pod)
            if ref is None or ref["uid"] in scales:
                continue
            found = self._controller_scale(ref, pod["metadata"]["namespace"])
            if found is None:
                raise NoControllers(f'found no controllers for pod "{pod["metadata"]["name"]}"')
            scales[found[0]] = found[1]
        return sum(scales.values())

    def _controller_scale(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        """(uid, replicas) of the scalable controller in charge; a Deployment stands behind its ReplicaSet."""
        informer = self.scalables.get(ref.get("kind", ""))
        owner = informer.indexer.get(f"{namespace}/{ref['name']}") if informer else None
        if owner is None or owner["metadata"]["uid"] != ref["uid"]:
            return None
        parent = controller_of(owner)
        if ref["kind"] == "ReplicaSet" and parent is not None and parent.get("kind") == "Deployment":
            return self._controller_scale(parent, namespace)
        return owner["metadata"]["uid"], (owner.get("spec") or {}).get("replicas", 1)

    def _status(self, pdb: Obj, pods: list[Obj], expected: int, desired: int) -> Obj:
        previous = pdb.get("status") or {}
        now = datetime.now(timezone.utc)
        disrupted = live_disrupted_pods(previous.get("disruptedPods") or {},
                                        {p["metadata"]["name"]: p for p in pods}, now)
        healthy = sum(1 for p in pods if is_pod_ready(p) and not is_terminating(p)
                      and p["metadata"]["name"] not in disrupted)
        allowed = max(0, healthy - desired)
        generation = pdb["metadata"].get("generation", 0)
        status: Obj = {"observedGeneration": generation, "currentHealthy": healthy, "desiredHealthy": desired,
                       "expectedPods": expected, "disruptionsAllowed": allowed,
                       "conditions": [disruption_condition(allowed, previous.get("conditions") or [], generation,
                                                           now_rfc3339())]}
        if disrupted:
            status["disruptedPods"] = disrupted
        return status

    def _failed_status(self, pdb: Obj, message: str) -> Obj:
        """Fail safe: no disruptions while the budget cannot be computed (failSafe)."""
        previous = pdb.get("status") or {}
        generation = pdb["metadata"].get("generation", 0)
        return {**previous, "disruptionsAllowed": 0, "observedGeneration": generation,
                "conditions": [_condition("False", "SyncFailed", message, previous.get("conditions") or [],
                                          generation, now_rfc3339())]}

    async def _write_status(self, pdb: Obj, status: Obj) -> None:
        if status == (pdb.get("status") or {}):
            return
        await self.client.update(PDBS, {**pdb, "status": status}, "status")
        self.log.debug("pdb %s: %d disruptions allowed", object_key(pdb), status.get("disruptionsAllowed", 0))


def _selects(pdb: Obj, pod: Obj) -> bool:
    """policy/v1: an empty selector selects every pod of the namespace, a missing one none."""
    try:
        selector = label_selector_from_object((pdb.get("spec") or {}).get("selector"))
    except SelectorError:
        return False
    return selector.matches(pod["metadata"].get("labels") or {})
