"""The generic registry: create, read, update, patch, delete and watch for any kind over a Store.

This mirrors k8s.io/apiserver/pkg/registry/generic/registry.Store: system metadata is filled in
here (uid, creationTimestamp, generateName, resourceVersion), then the kind's Strategy and the
admission chain shape and check the object, then the store writes it with a revision
precondition. Read-modify-write cycles retry on a lost race, as GuaranteedUpdate does, unless the
client itself named the resourceVersion it updates from — then a race is the client's 409.
"""

from __future__ import annotations

import inspect
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Sequence

import orjson
from multidict import MultiMapping

from kinn.api import errors
from kinn.api.field import not_supported, required
from kinn.api.resources import Resource
from kinn.api.timestamps import rfc3339
from kinn.apiserver.admission import AdmissionChain, Operation
from kinn.apiserver.encoding import Served
from kinn.apiserver.registry import fieldmanager
from kinn.apiserver.registry.strategy import Strategy, nothing_to_finish
from kinn.apiserver.requestinfo import int_parameter
from kinn.storage.interface import (
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
    Store,
    StoredObject,
)

Obj = dict[str, Any]

# GuaranteedUpdate retries a lost race this many times before reporting the conflict.
MAX_UPDATE_RETRIES = 16


@dataclass
class RequestContext:
    namespace: str = ""
    user: str = ""
    groups: tuple[str, ...] = ()
    dry_run: bool = False
    field_manager: str = ""
    user_agent: str = ""
    warnings: list[str] = field(default_factory=list)

    def now(self) -> datetime:
        return datetime.now(timezone.utc).replace(microsecond=0)


def dry_run(values: Sequence[str], options: str) -> bool:
    """Whether a write only pretends (`dryRun=All`). Any other value is refused, as upstream's
    ValidateDryRun does, rather than taken as a real write."""
    for value in values:
        if value != "All":
            raise errors.invalid(options, "meta.k8s.io", "", [not_supported("dryRun", value, ["All"])])
    return bool(values)


@dataclass
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    preconditions: Obj = field(default_factory=dict)
    dry_run: bool = False

    @classmethod
    def from_body(cls, body: Obj | None, query: MultiMapping[str]) -> "DeleteOptions":
        """The options from the DeleteOptions body (kubectl and client-go send one, dryRun
        included) or, without one, from the query."""
        body = body or {}
        grace = body.get("gracePeriodSeconds", int_parameter(query, "gracePeriodSeconds"))
        policy = body.get("propagationPolicy", query.get("propagationPolicy"))
        orphan = body.get("orphanDependents", query.get("orphanDependents"))
        if policy is None and orphan is not None:
            policy = "Orphan" if orphan in (True, "true") else "Background"
        if policy not in (None, "Foreground", "Background", "Orphan"):
            raise errors.invalid(
                "DeleteOptions", "", "", [not_supported("propagationPolicy", policy, ["Foreground", "Background", "Orphan"])]
            )
        dry = dry_run(body["dryRun"] if "dryRun" in body else query.getall("dryRun", []), "DeleteOptions")
        return cls(int(grace) if grace is not None else None, policy, body.get("preconditions") or {}, dry)

    def context(self, ctx: RequestContext) -> RequestContext:
        """The delete's context: a dry run when these options ask for one."""
        return replace(ctx, dry_run=True) if self.dry_run else ctx


@dataclass
class DeleteResult:
    object: Obj
    deleted: bool  # False while finalizers or a grace period keep the object around


Mutation = Callable[[Obj], Obj | Awaitable[Obj]]


class Registry:
    def __init__(self, resource: Resource, store: Store, strategy: Strategy, admission: AdmissionChain) -> None:
        self.resource = resource
        self.store = store
        self.strategy = strategy
        self.admission = admission

    # -- keys and errors -------------------------------------------------------------------

    def key(self, namespace: str, name: str) -> str:
        return self.resource.key(namespace if self.resource.namespaced else None, name)

    def prefix(self, namespace: str) -> str:
        return self.resource.key_prefix(namespace if self.resource.namespaced else None)

    def not_found(self, name: str) -> errors.StatusError:
        return errors.not_found(self.resource.plural, self.resource.group, name)

    def conflict(self, name: str) -> errors.StatusError:
        return errors.stale_update(self.resource.plural, self.resource.group, name)

    def invalid(self, name: str, errs: list[Any]) -> errors.StatusError:
        return errors.invalid(self.resource.kind, self.resource.group, name, errs)

    # -- reads -----------------------------------------------------------------------------

    async def get(self, ctx: RequestContext, name: str) -> StoredObject:
        stored = await self.store.get(self.key(ctx.namespace, name))
        if stored is None:
            raise self.not_found(name)
        return stored

    def external(self, stored: StoredObject) -> StoredObject | Served:
        """The object as this endpoint serves it: the stored revision itself unless the kind converts."""
        if not self.strategy.converts:
            return stored
        return Served(self.strategy.to_external(stored.obj) or stored.obj)

    def decode_external(self, stored: StoredObject) -> Obj:
        """The object as this endpoint serves it, decoded (what selectors match against)."""
        return self.external(stored).obj

    # -- create ----------------------------------------------------------------------------

    async def create(self, ctx: RequestContext, obj: Obj, managed: bool = True) -> Obj:
        """POST. `managed=False` when the caller already recorded managedFields (server-side apply)."""
        obj = self.strategy.to_internal(obj)
        meta = obj.setdefault("metadata", {})
        self._check_namespace(ctx, meta)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + random_suffix()
        now = ctx.now()
        for system_field in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "selfLink"):
            meta.pop(system_field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = rfc3339(now)
        self.strategy.prepare_for_create(obj)
        self.strategy.default(obj)
        if managed:
            # Recorded where upstream's create handler records it: the creator owns what it sent,
            # defaulted, not what the server adds next (a Job's selector, admission's token volume);
            # else kubectl's move to server-side apply would later prune those.
            fieldmanager.on_write(None, obj, ctx, self.resource, now)
        self.strategy.after_create(obj)
        key = self.key(ctx.namespace, meta["name"]) if meta.get("name") else ""
        # Allocations (service IPs, node ports) come first, as upstream's BeginCreate: validation
        # sees the allocated values, and `finish` gives them back unless the object is stored.
        finish = self.strategy.begin_create(obj)
        written = False
        try:
            await self.admission.admit(Operation.CREATE, self.resource, obj, None, ctx)
            errs = self.strategy.validate(obj)
            if errs:
                raise self.invalid(meta.get("name", ""), errs)
            await self.admission.validate(Operation.CREATE, self.resource, obj, None, ctx)
            if ctx.dry_run:
                if await self.store.get(key) is not None:
                    raise errors.already_exists(self.resource.plural, self.resource.group, meta["name"])
                return obj
            try:
                stored = await self.store.create(key, obj)
            except KeyExistsError:
                raise errors.already_exists(self.resource.plural, self.resource.group, meta["name"]) from None
            written = True
            return stored.obj
        finally:
            finish(written)

    def _check_namespace(self, ctx: RequestContext, meta: Obj) -> None:
        if not self.resource.namespaced:
            meta.pop("namespace", None)
            return
        given = meta.get("namespace")
        if given and given != ctx.namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = ctx.namespace

    # -- update and patch ------------------------------------------------------------------

    async def update(self, ctx: RequestContext, name: str, obj: Obj, subresource: str = "") -> tuple[Obj, bool]:
        """PUT: replace the object (or its status). Returns (object, created)."""
        obj = self.strategy.to_internal(obj)
        meta = obj.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        requested_rv = meta.get("resourceVersion") or None
        if requested_rv is None and not self.strategy.allow_unconditional_update:
            raise self.invalid(name, [required("metadata.resourceVersion", "must be specified for an update")])

        async def replace(current: Obj) -> Obj:
            return orjson.loads(orjson.dumps(obj))

        current = await self.store.get(self.key(ctx.namespace, name))
        if current is None:
            if self.strategy.allow_create_on_update and not subresource:
                return await self.create(ctx, obj), True
            raise self.not_found(name)
        return await self.guaranteed_update(ctx, name, replace, subresource, precondition=requested_rv), False

    async def guaranteed_update(
        self,
        ctx: RequestContext,
        name: str,
        mutate: Mutation,
        subresource: str = "",
        precondition: str | None = None,
        operation: str = "Update",
    ) -> Obj:
        """Apply `mutate` to the current object and write it, retrying lost races.

        `mutate` receives a private copy of the current object and returns the desired one. A
        resourceVersion in the result that differs from the current one is the client's
        optimistic-concurrency precondition (PUT bodies, patches that carry one) → 409.
        `operation` "Update" records the write in managedFields, "Apply" has recorded it already,
        and "" records nothing: pods/binding, which upstream writes to storage directly.
        """
        key = self.key(ctx.namespace, name)
        for _ in range(MAX_UPDATE_RETRIES):
            current = await self.store.get(key)
            if current is None:
                raise self.not_found(name)
            old = current.obj
            desired = mutate(orjson.loads(current.raw))
            if inspect.isawaitable(desired):
                desired = await desired
            rv = precondition or desired.get("metadata", {}).get("resourceVersion")
            if rv and rv != str(current.mod_revision):
                raise self.conflict(name)
            new = self._prepare_update(ctx, desired, old, subresource, operation)
            finish = self.strategy.begin_update(new, old) if subresource == "" else nothing_to_finish
            written = False
            try:
                if _unchanged(new, old):
                    return old
                await self.admission.admit(Operation.UPDATE, self.resource, new, old, ctx)
                errs = self._validate_update(new, old, subresource)
                if errs:
                    raise self.invalid(name, errs)
                await self.admission.validate(Operation.UPDATE, self.resource, new, old, ctx)
                if ctx.dry_run:
                    return new
                updated = await self.store.update(key, new, current.mod_revision)
                written = True
                if self.strategy.should_delete_during_update(new):
                    return await self._finish_deletion(key, updated)
                return updated.obj
            except RevisionConflictError:
                if precondition:
                    raise self.conflict(name) from None
            except KeyNotFoundError:
                raise self.not_found(name) from None
            finally:
                finish(written)
        raise self.conflict(name)

    async def _finish_deletion(self, key: str, updated: StoredObject) -> Obj:
        """Delete an object whose update removed its last finalizer, as upstream's store does: the
        update is written first (watchers see it MODIFIED, without its finalizers), then the
        object is deleted as last written, unless another request deleted or changed it since."""
        try:
            deleted = await self.store.delete(key, updated.mod_revision)
        except (KeyNotFoundError, RevisionConflictError):
            return updated.obj
        self.strategy.on_delete(deleted.obj)
        return deleted.obj

    def _prepare_update(self, ctx: RequestContext, new: Obj, old: Obj, subresource: str, operation: str) -> Obj:
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        for system_field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if system_field in old_meta:
                meta.setdefault(system_field, old_meta[system_field])
        # Clients cannot set or move deletion fields: only the delete path does.
        for system_field in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            if system_field in old_meta:
                meta[system_field] = old_meta[system_field]
            else:
                meta.pop(system_field, None)
        if self.resource.namespaced:
            meta.setdefault("namespace", old_meta.get("namespace"))
        # Validation sees the version being replaced (the precondition was checked already).
        meta["resourceVersion"] = old_meta.get("resourceVersion", "")
        new.setdefault("apiVersion", old.get("apiVersion"))
        new.setdefault("kind", old.get("kind"))
        if subresource == "":
            self.strategy.prepare_for_update(new, old)
            self.strategy.default(new)
        else:
            new = self.strategy.prepare_for_subresource_update(subresource, new, old)
        if subresource in ("", "scale"):
            # Specs compare once defaulted, as upstream's decoded objects do: a write that only
            # omits defaulted fields (`kubectl replace` of the original manifest) changes no spec.
            self.strategy.bump_generation(new, old)
        if operation == "Update":
            fieldmanager.on_write(old, new, ctx, self.resource, ctx.now(), subresource)
        return new

    def _validate_update(self, new: Obj, old: Obj, subresource: str) -> list[Any]:
        if subresource:
            return self.strategy.validate_subresource_update(subresource, new, old)
        return self.strategy.validate_update(new, old)

    # -- delete ----------------------------------------------------------------------------

    async def delete(self, ctx: RequestContext, name: str, options: DeleteOptions) -> DeleteResult:
        key = self.key(ctx.namespace, name)
        policy = options.propagation_policy or self.strategy.default_propagation
        warning = self.strategy.default_propagation_warning
        if options.propagation_policy is None and warning and warning not in ctx.warnings:
            ctx.warnings.append(warning)
        for _ in range(MAX_UPDATE_RETRIES):
            current = await self.store.get(key)
            if current is None:
                raise self.not_found(name)
            self._check_preconditions(name, current, options)
            obj = orjson.loads(current.raw)
            grace = self.strategy.grace_period(obj, options.grace_period_seconds)
            pending = self._mark_deleting(ctx, obj, grace, policy)
            if ctx.dry_run:
                return DeleteResult(obj, not pending)
            try:
                if pending:
                    stored = await self.store.update(key, obj, current.mod_revision)
                    return DeleteResult(stored.obj, False)
                deleted = await self.store.delete(key, current.mod_revision)
            except RevisionConflictError:
                continue
            except KeyNotFoundError:
                raise self.not_found(name) from None
            self.strategy.on_delete(deleted.obj)
            return DeleteResult(deleted.obj, True)
        raise self.conflict(name)

    def _check_preconditions(self, name: str, current: StoredObject, options: DeleteOptions) -> None:
        meta = current.obj["metadata"]
        uid = options.preconditions.get("uid")
        if uid and uid != meta.get("uid"):
            raise errors.conflict(
                self.resource.plural, self.resource.group, name,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta.get('uid')}",
            )
        rv = options.preconditions.get("resourceVersion")
        if rv and rv != meta.get("resourceVersion"):
            raise errors.conflict(
                self.resource.plural, self.resource.group, name,
                f"Precondition failed: ResourceVersion in precondition: {rv}, "
                f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
            )

    def _mark_deleting(self, ctx: RequestContext, obj: Obj, grace: int, policy: str | None) -> bool:
        """Record a graceful or finalized deletion on `obj`; True if the object must stay for now.

        Foreground and Orphan propagation are recorded as the finalizers the garbage collector
        acts on (`foregroundDeletion`, `orphan`), exactly as upstream's store does.
        """
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        gc_finalizer = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(policy or "")
        if gc_finalizer and gc_finalizer not in finalizers:
            finalizers = [f for f in finalizers if f not in ("foregroundDeletion", "orphan")] + [gc_finalizer]
        already = meta.get("deletionTimestamp")
        keep = self.strategy.keep_on_delete(obj)
        if not finalizers and grace == 0 and not keep:
            return False
        now = ctx.now()
        if not already or grace < (meta.get("deletionGracePeriodSeconds") or 0):
            meta["deletionTimestamp"] = rfc3339(now + timedelta(seconds=grace))
            meta["deletionGracePeriodSeconds"] = grace
        if finalizers:
            meta["finalizers"] = finalizers
        return True

    async def delete_collection(
        self, ctx: RequestContext, options: DeleteOptions, names: list[str]
    ) -> list[Obj]:
        deleted: list[Obj] = []
        for name in names:
            try:
                deleted.append((await self.delete(ctx, name, options)).object)
            except errors.StatusError as e:
                if e.code != 404:
                    raise
        return deleted


def _unchanged(new: Obj, old: Obj) -> bool:
    """A write that changes nothing is skipped: no new revision, no event. managedFields count, as
    upstream compares the stored bytes: a no-op write leaves them as they were, while kubectl's
    move of client-side apply's fields to its server-side manager changes them alone."""
    def essence(obj: Obj) -> Obj:
        meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
        return {**obj, "metadata": meta}

    return essence(new) == essence(old)


def random_suffix() -> str:
    """Five characters from the alphabet upstream's name generator uses (no vowels, no look-alikes)."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    raw = uuid.uuid4().int
    return "".join(alphabet[(raw >> (5 * i)) % len(alphabet)] for i in range(5))
