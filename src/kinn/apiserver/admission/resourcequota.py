"""ResourceQuota admission (staging/.../admission/plugin/resourcequota): the last validating plugin.

For every quota of the namespace that concerns the object (see quotaevaluator), the request is
refused if a container leaves out a tracked cpu or memory resource (`failed quota`), if the quota's
status does not yet count something it limits (`status unknown`), or if what is used plus what the
object adds would pass `status.hard` (`exceeded quota`). Otherwise the object's usage is added to
the quota's `status.used` before the object is stored, with the quota's resourceVersion as the
precondition: of two creates racing for the last unit, one write loses, is checked again against
the winner's total and refused. A quota is only published once the resourcequota controller has
written its status; until then nothing is enforced, as upstream. The controller keeps recounting,
which gives back what an admitted request that then failed to store was charged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Container

import orjson

from kinn.api import errors
from kinn.api.podresources import add, quantities
from kinn.api.quantity import Quantity
from kinn.api.resources import TABLE, Resource
from kinn.apiserver.admission import Operation
from kinn.apiserver.admission.lister import Lister
from kinn.apiserver.admission.quotaevaluator import Evaluator
from kinn.controllers.quotausage import Usage
from kinn.storage.interface import KeyNotFoundError, RevisionConflictError, Store, StoredObject

if TYPE_CHECKING:
    from kinn.apiserver.registry.generic import RequestContext

Obj = dict[str, Any]

_QUOTAS = TABLE.lookup("", "v1", "resourcequotas")
# Never counted (quota/v1/install): events have never been subject to quota.
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})
# checkQuotas' retries after a lost quota write, each against freshly read quotas.
QUOTA_WRITE_RETRIES = 3


class QuotaRefusal(Exception):
    """Why the request cannot be admitted; the plugin makes it the object's 403."""


def pretty(usage: Usage) -> str:
    """prettyPrint: `name=quantity` sorted by name, comma-separated."""
    return ",".join(f"{name}={usage[name]}" for name in sorted(usage))


def _masked(usage: Usage, names: Container[str]) -> Usage:
    return {name: amount for name, amount in usage.items() if name in names}


def delta_usage(evaluator: Evaluator, op: Operation, obj: Obj, old: Obj | None) -> Usage:
    """What the request adds: the object's usage, less the old object's on update (never below 0,
    SubtractWithNonNegativeResult), without the zeros."""
    usage = evaluator.usage(obj)
    previous = evaluator.usage(old) if op is Operation.UPDATE and old is not None else {}
    delta = {name: Quantity(amount.value - previous[name].value, amount.format) if name in previous else amount
             for name, amount in usage.items()}
    return {name: amount for name, amount in delta.items() if amount.value > 0}


def _concerned(quota: Obj, evaluator: Evaluator, obj: Obj) -> bool:
    """Whether the quota limits this object; refuses it if it cannot be judged against the quota."""
    if not evaluator.matches(quota, obj):
        return False
    name, status = quota["metadata"]["name"], quota.get("status") or {}
    restricted = evaluator.matching_resources(status.get("hard") or {})
    missing = evaluator.constraints(restricted, obj)
    if missing:
        raise QuotaRefusal(f"failed quota: {name}: {missing}")
    if any(resource not in (status.get("used") or {}) for resource in restricted):
        raise QuotaRefusal(f"status unknown for quota: {name}, resources: {','.join(restricted)}")
    return True


def _charged(quota: Obj, delta: Usage) -> Usage:
    """The quota's used plus the delta's share of it; refuses what would pass a hard limit."""
    status = quota.get("status") or {}
    hard, used = quantities(status.get("hard")), quantities(status.get("used"))
    requested = _masked(delta, hard)
    total = dict(used)
    add(total, requested)
    exceeded = sorted(name for name in requested if hard[name] < total[name])
    if exceeded:
        raise QuotaRefusal(f"exceeded quota: {quota['metadata']['name']}, requested: "
                           f"{pretty(_masked(requested, exceeded))}, used: {pretty(_masked(used, exceeded))}, "
                           f"limited: {pretty(_masked(hard, exceeded))}")
    return total


def check_request(quotas: list[Obj], evaluator: Evaluator, op: Operation, obj: Obj,
                  old: Obj | None) -> dict[str, dict[str, str]]:
    """CheckRequest: the new `status.used` of each quota whose usage the request changes, by name;
    raises QuotaRefusal with upstream's message if any quota refuses it."""
    concerned = [quota for quota in quotas if _concerned(quota, evaluator, obj)]
    delta = delta_usage(evaluator, op, obj, old)
    charged: dict[str, dict[str, str]] = {}
    if not delta:
        return charged
    for quota in concerned:
        used = _charged(quota, delta)
        if used != quantities((quota.get("status") or {}).get("used")):
            charged[quota["metadata"]["name"]] = {name: str(amount) for name, amount in used.items()}
    return charged


class ResourceQuota:
    def __init__(self, store: Store) -> None:
        assert _QUOTAS is not None
        self.store = store
        self.quotas = Lister(store, _QUOTAS)

    async def validate(
        self, op: Operation, resource: Resource, obj: Obj, old: Obj | None, ctx: "RequestContext"
    ) -> None:
        if not resource.namespaced or (resource.group, resource.plural) in IGNORED:
            return
        evaluator = Evaluator(resource.plural, resource.group)
        if not evaluator.handles(op):
            return
        quotas = await self.quotas.list(ctx.namespace)
        if not quotas:
            return
        for _ in range(QUOTA_WRITE_RETRIES + 1):
            try:
                charged = check_request([stored.obj for stored in quotas], evaluator, op, obj, old)
            except QuotaRefusal as refusal:
                raise errors.forbidden(resource.plural, resource.group, obj["metadata"].get("name", ""),
                                       str(refusal)) from None
            if ctx.dry_run:
                return
            lost = await self._charge(quotas, charged)
            if not lost:
                return
            # Only the quotas whose write lost are checked again, as upstream: the others are charged.
            quotas = [stored for key in lost if (stored := await self.store.get(key)) is not None]
        raise errors.stale_update("resourcequotas", "", lost[0].rpartition("/")[2])

    async def _charge(self, quotas: list[StoredObject], charged: dict[str, dict[str, str]]) -> list[str]:
        """Write each quota's new used under its resourceVersion; the keys of the writes that lost."""
        lost = []
        for stored in quotas:
            used = charged.get(stored.obj["metadata"]["name"])
            if used is None:
                continue
            quota = orjson.loads(stored.raw)
            quota.setdefault("status", {})["used"] = used
            try:
                await self.store.update(stored.key, quota, stored.mod_revision)
            except (RevisionConflictError, KeyNotFoundError):
                lost.append(stored.key)
        return lost
