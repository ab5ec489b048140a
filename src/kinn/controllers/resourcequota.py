"""ResourceQuota status (pkg/controller/resourcequota): `status.hard` and `status.used` per quota.

A quota is recomputed whenever an object it may count changes in its namespace (the informers
below: the resources with their own evaluators and the commonly counted kinds), and every quota
is recomputed each `--resource-quota-sync-period` (5 min) for `count/<resource>.<group>` kinds
without an informer here, which are listed from the API server (upstream's generic evaluator).
"""

from __future__ import annotations

import asyncio
from typing import Any

from kinn.api.podresources import add
from kinn.api.resources import TABLE, Resource
from kinn.client.informer import EventHandler, SharedInformer
from kinn.client.rest import resource
from kinn.controllers.base import Controller, ControllerContext
from kinn.controllers.quotausage import STORAGE_CLASS_SUFFIX, Usage, scope_requirements, usage_of, \
    used_status

Obj = dict[str, Any]

QUOTAS = resource("v1", "resourcequotas")
WATCHED = ("pods", "services", "configmaps", "secrets", "persistentvolumeclaims", "replicationcontrollers",
           "resourcequotas")
RESYNC_PERIOD = 300.0  # --resource-quota-sync-period
_POD_RESOURCES = ("pods", "cpu", "memory", "ephemeral-storage")
_SERVICE_RESOURCES = ("services", "services.loadbalancers", "services.nodeports")


def evaluated_resource(name: str) -> tuple[str, str] | None:
    """The (plural, group) whose objects a quota resource name counts, or None if unknown."""
    if name.startswith("count/"):
        plural, _, group = name[len("count/"):].partition(".")
        return plural, group
    if name in _POD_RESOURCES or name.startswith(("requests.", "limits.")) and name != "requests.storage":
        return "pods", ""
    if name in _SERVICE_RESOURCES:
        return "services", ""
    if name in ("persistentvolumeclaims", "requests.storage") or STORAGE_CLASS_SUFFIX in name:
        return "persistentvolumeclaims", ""
    if name in WATCHED:
        return name, ""
    return None


def served(plural: str, group: str) -> Resource | None:
    return next((r for r in TABLE.resources if r.plural == plural and r.group == group and r.namespaced
                 and "list" in r.verbs), None)


class ResourceQuotaController(Controller):
    name = "resourcequota"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.quotas = self.informer(QUOTAS, self.enqueue_handler())
        self.watched: dict[str, SharedInformer] = {
            plural: self.informer(resource("v1", plural), self._namespace_handler()) for plural in WATCHED}

    def _namespace_handler(self) -> EventHandler:
        def changed(obj: Obj) -> None:
            for quota in self.quotas.indexer.by_index("namespace", obj["metadata"].get("namespace", "")):
                self.enqueue(quota)

        return EventHandler(on_add=changed, on_update=lambda old, new: changed(new), on_delete=changed)

    def background(self) -> list[Any]:
        return [self._resync()]

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(RESYNC_PERIOD)
            for quota in self.quotas.indexer.list():
                self.enqueue(quota)

    async def sync(self, key: str) -> None:
        quota = self.quotas.indexer.get(key)
        if quota is None:
            return
        hard = (quota.get("spec") or {}).get("hard") or {}
        usage = await self._usage(quota["metadata"]["namespace"], hard, scope_requirements(quota))
        status = {"hard": dict(hard), "used": used_status(hard, usage)}
        if status != {k: (quota.get("status") or {}).get(k) or {} for k in ("hard", "used")}:
            await self.client.update(QUOTAS, {**quota, "status": status}, "status")

    async def _usage(self, namespace: str, hard: dict[str, str], requirements: list[Obj]) -> Usage:
        kinds = {found for name in hard if (found := evaluated_resource(name)) is not None}
        total: Usage = {}
        for plural, group in sorted(kinds):
            objects = await self._objects(plural, group, namespace)
            add(total, usage_of(plural, group, objects, requirements))
        return total

    async def _objects(self, plural: str, group: str, namespace: str) -> list[Obj]:
        if not group and plural in self.watched:
            return self.watched[plural].indexer.by_index("namespace", namespace)
        r = served(plural, group)
        if r is None:
            return []
        return (await self.client.list_all(r, namespace)).get("items") or []
