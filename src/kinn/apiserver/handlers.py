"""REST handlers for resource requests: the verbs of the Kubernetes API over the registries.

One handler serves every resource, as upstream's generic endpoint installer does; what differs
per kind lives in the registry strategies and in `subresources`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import yaml
from aiohttp import web
from multidict import MultiMapping

from kinn.api import errors, field
from kinn.api.decoding import check_fields, field_validation
from kinn.api.openapi import schemas
from kinn.api.patch.apply import server_side_apply
from kinn.api.patch.json_patch import apply_json_patch
from kinn.api.patch.merge_patch import apply_merge_patch
from kinn.api.patch.strategic import apply_strategic_merge_patch
from kinn.api.resources import TABLE, split_api_version
from kinn.api.timestamps import rfc3339
from kinn.apiserver import encoding, negotiation, reviews
from kinn.apiserver.proxy import KubeletDialer
from kinn.apiserver.registry import Registries
from kinn.apiserver.registry.fieldmanager import manager_name
from kinn.apiserver.registry.generic import DeleteOptions, Registry, RequestContext, dry_run
from kinn.apiserver.requestinfo import RequestInfo, int_parameter
from kinn.apiserver.selection import Selection
from kinn.apiserver.serviceaccount.jwt import TokenGenerator
from kinn.apiserver.subresources import binding, handle_subresource
from kinn.apiserver.watch import WatchStream
from kinn.storage.interface import CompactedError, StoredObject

Obj = dict[str, Any]


# The options each write's query parameters decode into (their errors name it).
_WRITE_OPTIONS = {"create": "CreateOptions", "update": "UpdateOptions", "patch": "PatchOptions"}


def request_context(request: web.BaseRequest, info: RequestInfo) -> RequestContext:
    """The request's context. A delete's dry run comes with its DeleteOptions (`DeleteOptions.context`)."""
    query = request.query
    options = _WRITE_OPTIONS.get(info.verb)
    return RequestContext(
        namespace=info.namespace if info.resource != "namespaces" else "",
        user=request.get("user", ""),
        groups=tuple(request.get("groups", ())),
        dry_run=dry_run(query.getall("dryRun", []), options) if options else False,
        field_manager=query.get("fieldManager", ""),
        user_agent=request.headers.get("User-Agent", ""),
    )


FIELD_MANAGER_MAX_LENGTH = 128
RESOURCE_VERSION_MATCHES = ("Exact", "NotOlderThan", "")


def check_list_options(query: MultiMapping[str]) -> None:
    """Upstream's ValidateListOptions for a list (a watch has its own): resourceVersionMatch needs a
    resourceVersion, no continue token, and is not Exact at "0"; sendInitialEvents is for watches."""
    match, version = query.get("resourceVersionMatch", ""), query.get("resourceVersion", "")
    errs = []
    if match:
        path = "resourceVersionMatch"
        if not version:
            errs.append(field.forbidden(path, "resourceVersionMatch is forbidden unless resourceVersion is provided"))
        if query.get("continue"):
            errs.append(field.forbidden(path, "resourceVersionMatch is forbidden when continue is provided"))
        if match not in RESOURCE_VERSION_MATCHES:
            errs.append(field.not_supported(path, match, list(RESOURCE_VERSION_MATCHES)))
        if match == "Exact" and version == "0":
            errs.append(field.forbidden(path, 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
    if "sendInitialEvents" in query:
        errs.append(field.forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    if errs:
        raise errors.invalid("ListOptions", "meta.k8s.io", "", errs)


def check_patch_options(patch_type: str, query: MultiMapping[str]) -> None:
    """Upstream's ValidatePatchOptions: `force` belongs to apply only, and apply must name its manager."""
    manager = query.get("fieldManager", "")
    errs = []
    if patch_type != negotiation.APPLY_PATCH:
        if "force" in query:
            errs.append(field.forbidden("force", "may not be specified for non-apply patch"))
    elif not manager:
        errs.append(field.required("fieldManager", "is required for apply patch"))
    if len(manager) > FIELD_MANAGER_MAX_LENGTH:
        errs.append(field.too_long("fieldManager", FIELD_MANAGER_MAX_LENGTH))
    if errs:
        raise errors.invalid("PatchOptions", "meta.k8s.io", "", errs)


class ResourceHandler:
    def __init__(self, registries: Registries, tokens: TokenGenerator, kubelets: KubeletDialer) -> None:
        self.registries = registries
        self.tokens = tokens  # signs what `serviceaccounts/<name>/token` returns
        self.kubelets = kubelets  # pods/log, exec, attach and portforward reach the kubelets through it

    async def handle(self, request: web.BaseRequest, info: RequestInfo) -> web.StreamResponse:
        registry = self.registries.get(info.group, info.version, info.resource)
        if registry is None:
            raise errors.no_such_route()
        resource = registry.resource
        subresource, _, path = info.subresource.partition("/")  # only proxy takes a path: `web:80/proxy/a.html`
        if subresource and (subresource not in resource.subresources or path and subresource != "proxy"):
            raise errors.no_such_route()
        if info.verb not in resource.verbs and not info.subresource:
            raise errors.method_not_supported(resource.plural, resource.group, info.verb)
        if info.verb in ("update", "patch") and not info.name:  # no PUT or PATCH route on a collection
            raise errors.method_not_supported(resource.plural, resource.group, info.verb)
        ctx = request_context(request, info)
        if resource.namespaced and not ctx.namespace and info.verb not in ("list", "watch"):
            raise errors.no_such_route()  # e.g. POST /api/v1/pods: namespaced writes need a namespace
        if info.subresource:
            return await handle_subresource(self, request, info, registry, ctx)
        verb_handler = getattr(self, "_" + info.verb, None)
        if verb_handler is None:
            raise errors.method_not_supported(resource.plural, resource.group, info.verb)
        return await verb_handler(request, info, registry, ctx)

    # -- reads -----------------------------------------------------------------------------

    async def _get(self, request: web.BaseRequest, info: RequestInfo, registry: Registry, ctx: RequestContext) -> web.Response:
        fmt = negotiation.negotiate_object(request.headers.get("Accept"), request.query.get("includeObject", ""))
        stored = await registry.get(ctx, info.name)
        return self.respond_stored(registry, stored, fmt)

    def respond_stored(self, registry: Registry, stored: StoredObject, fmt: negotiation.ResponseFormat) -> web.Response:
        return encoding.respond(encoding.object_body(registry.resource, registry.external(stored), fmt), fmt)

    def respond_object(
        self, registry: Registry, obj: Obj, fmt: negotiation.ResponseFormat, status: int, ctx: RequestContext
    ) -> web.Response:
        served = encoding.Served(registry.strategy.to_external(obj) or obj)
        body = encoding.object_body(registry.resource, served, fmt)
        return encoding.respond(body, fmt, status, ctx.warnings)

    async def _list(self, request: web.BaseRequest, info: RequestInfo, registry: Registry, ctx: RequestContext) -> web.Response:
        query = request.query
        fmt = negotiation.negotiate_object(request.headers.get("Accept"), query.get("includeObject", ""))
        selection = Selection.from_query(query, registry.resource)
        items, list_meta = await self.select(registry, ctx, selection, query)
        served = [registry.external(stored) for stored in items]
        return encoding.respond(encoding.list_body(registry.resource, served, list_meta, fmt), fmt)

    async def select(
        self, registry: Registry, ctx: RequestContext, selection: Selection, query: Any
    ) -> tuple[list[StoredObject], Obj]:
        """The objects a list request returns, and its ListMeta (resourceVersion, continue)."""
        store = registry.store
        prefix = registry.prefix(ctx.namespace)
        check_list_options(query)
        token = query.get("continue", "")
        rv_param = query.get("resourceVersion", "")
        match = query.get("resourceVersionMatch", "")
        try:
            given = int(rv_param) if rv_param not in ("", "0") else None  # "0": any revision will do
            if given is not None and given > store.revision:
                raise errors.resource_version_too_large(given, store.revision)
            if token:
                revision, start = encoding.decode_continue(token)
                objects = await store.list_at(prefix, revision)
                objects = [o for o in objects if o.key[len(prefix):] >= start]
            elif given is not None and (match == "Exact" or not match and int_parameter(query, "limit")):
                # A page at a given revision is that revision's, as upstream's legacy paging reads it.
                revision = given
                objects = await store.list_at(prefix, revision)
            else:
                revision = store.revision
                name = selection.exact_name()
                if name is not None and (registry.resource.namespaced is False or ctx.namespace):
                    one = await store.get(registry.key(ctx.namespace, name))
                    objects = [one] if one else []
                else:
                    objects = await store.list(prefix)
        except CompactedError:
            if token:
                raise errors.expired(
                    "The provided continue parameter is too old to display a consistent list result. "
                    "You can start a new list without the continue parameter."
                ) from None
            raise errors.resource_version_too_old(int(rv_param), store.oldest_revision) from None
        except ValueError:
            raise errors.bad_request(f'invalid resource version "{rv_param}"') from None
        if not selection.empty:
            decode = registry.decode_external
            objects = [o for o in objects if selection.matches(o, decode)]
        list_meta: Obj = {"resourceVersion": str(revision)}
        limit = int_parameter(query, "limit") or 0
        if limit > 0 and len(objects) > limit:
            rest = len(objects) - limit
            objects = objects[:limit]
            list_meta["continue"] = encoding.encode_continue(revision, objects[-1].key[len(prefix):] + "\x00")
            if selection.empty:
                list_meta["remainingItemCount"] = rest
        return objects, list_meta

    async def _watch(self, request: web.BaseRequest, info: RequestInfo, registry: Registry, ctx: RequestContext) -> web.StreamResponse:
        fmt = negotiation.negotiate_object(request.headers.get("Accept"), request.query.get("includeObject", ""))
        selection = Selection.from_query(request.query, registry.resource)
        if info.name:
            selection = Selection.from_query({**request.query, "fieldSelector": f"metadata.name={info.name}"}, registry.resource)
        return await WatchStream(registry, ctx, selection, fmt, request.query).serve(request)

    # -- writes ----------------------------------------------------------------------------

    async def read_object(self, request: web.BaseRequest, registry: Registry, ctx: RequestContext) -> Obj:
        """Decode, type-check and prune a body of this endpoint's kind (fieldValidation applies)."""
        raw = await encoding.read_body(request)
        obj = encoding.decode_body(raw, request.content_type if request.headers.get("Content-Type") else None,
                                   registry.resource.kind)
        self.check_kind(registry, obj)
        ctx.warnings.extend(self.check_fields(registry, obj, request))
        return dict(obj)

    @staticmethod
    def check_kind(registry: Registry, obj: Obj) -> None:
        resource = registry.resource
        kind, api_version = obj.get("kind") or resource.kind, obj.get("apiVersion") or resource.api_version
        # transformDecodeError's wording for a body the endpoint's kind cannot be decoded from.
        group, version = split_api_version(api_version)
        if TABLE.for_kind(group, version, kind) is None:
            raise errors.bad_request(
                f'{kind} in version "{version}" cannot be handled as a {resource.kind}: no kind "{kind}" is '
                f'registered for version "{api_version}" in scheme "k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"'
            )
        if kind != resource.kind:
            internal = resource.group.split(".")[0] if resource.group not in ("", "events.k8s.io") else "core"
            raise errors.bad_request(
                f'{kind} in version "{version}" cannot be handled as a {resource.kind}: '
                f"converting ({version}.{kind}) to ({internal}.{resource.kind}): unknown conversion"
            )
        if api_version != resource.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({resource.api_version})"
            )
        obj["kind"], obj["apiVersion"] = resource.kind, resource.api_version

    @staticmethod
    def check_fields(registry: Registry, obj: Obj, request: web.BaseRequest, checked: Obj | None = None) -> list[str]:
        resource = registry.resource
        mode = field_validation(request.query.get("fieldValidation"))
        if mode not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(
                f'fieldValidation parameter unsupported: "{mode}" (supported values: "Ignore", "Warn", "Strict")'
            )
        return check_fields(obj, resource.group, resource.version, resource.kind, mode, checked)

    async def _create(self, request: web.BaseRequest, info: RequestInfo, registry: Registry, ctx: RequestContext) -> web.Response:
        fmt = negotiation.negotiate_object(request.headers.get("Accept"))
        if info.name:
            raise errors.method_not_supported(registry.resource.plural, registry.resource.group, "create")
        if registry.resource.plural == "bindings":
            return await binding(request, info, self.registries.core("pods"), ctx, fmt)
        if registry.resource.group in reviews.GROUPS:
            review = reviews.answer(registry.resource.kind, await self.read_object(request, registry, ctx), ctx)
            return self.respond_object(registry, review, fmt, 201, ctx)
        obj = await self.read_object(request, registry, ctx)
        created = await registry.create(ctx, obj)
        return self.respond_object(registry, created, fmt, 201, ctx)

    async def _update(self, request: web.BaseRequest, info: RequestInfo, registry: Registry, ctx: RequestContext) -> web.Response:
        fmt = negotiation.negotiate_object(request.headers.get("Accept"))
        obj = await self.read_object(request, registry, ctx)
        result, created = await registry.update(ctx, info.name, obj, info.subresource)
        return self.respond_object(registry, result, fmt, 201 if created else 200, ctx)

    async def _patch(self, request: web.BaseRequest, info: RequestInfo, registry: Registry, ctx: RequestContext) -> web.Response:
        fmt = negotiation.negotiate_object(request.headers.get("Accept"))
        result, created = await self.patch(request, info, registry, ctx)
        return self.respond_object(registry, result, fmt, 201 if created else 200, ctx)

    async def patch(
        self, request: web.BaseRequest, info: RequestInfo, registry: Registry, ctx: RequestContext
    ) -> tuple[Obj, bool]:
        patch_type = negotiation.body_type(request.headers.get("Content-Type"))
        if patch_type not in negotiation.PATCH_TYPES:
            raise errors.unsupported_media_type(patch_type, negotiation.PATCH_TYPES)
        check_patch_options(patch_type, request.query)
        raw = await encoding.read_body(request)
        resource = registry.resource
        if patch_type == negotiation.APPLY_PATCH:
            return await self.apply(request, info, registry, ctx, raw)
        try:
            patch = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise errors.bad_request(f"error decoding patch: {e}") from None
        schema = schemas.for_kind(resource.group, resource.version, resource.kind)

        def mutate(current: Obj) -> Obj:
            external = registry.strategy.to_external(current) or current
            if patch_type == negotiation.JSON_PATCH:
                patched = apply_json_patch(external, patch)
            elif patch_type == negotiation.MERGE_PATCH:
                patched = apply_merge_patch(external, patch)
            else:
                patched = apply_strategic_merge_patch(external, patch, schema)
            self.check_kind(registry, patched)
            ctx.warnings[:] = self.check_fields(registry, patched, request, checked=external)
            return registry.strategy.to_internal(patched)

        return await registry.guaranteed_update(ctx, info.name, mutate, info.subresource), False

    async def apply(
        self, request: web.BaseRequest, info: RequestInfo, registry: Registry, ctx: RequestContext, raw: bytes
    ) -> tuple[Obj, bool]:
        """Server-side apply: create if absent, else merge the applied configuration as its manager."""
        resource = registry.resource
        try:
            applied = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as e:
            raise errors.bad_request(f"error decoding YAML: {e}") from None
        if not isinstance(applied, dict):
            raise errors.bad_request("error decoding YAML: the applied configuration is not an object")
        self.check_kind(registry, applied)
        ctx.warnings.extend(self.check_fields(registry, applied, request))
        force = request.query.get("force") in ("true", "1")
        schema = schemas.for_kind(resource.group, resource.version, resource.kind)
        manager = manager_name(ctx)
        now = rfc3339(ctx.now())
        existing = await registry.store.get(registry.key(ctx.namespace, info.name))
        if existing is None and not info.subresource:
            applied.setdefault("metadata", {})["name"] = info.name
            obj = server_side_apply(None, applied, manager, force, schema, resource.api_version, now)
            return await registry.create(ctx, obj, managed=False), True

        def mutate(current: Obj) -> Obj:
            return server_side_apply(current, applied, manager, force, schema, resource.api_version, now,
                                     subresource=info.subresource)

        return await registry.guaranteed_update(ctx, info.name, mutate, info.subresource, operation="Apply"), False

    async def _delete(self, request: web.BaseRequest, info: RequestInfo, registry: Registry, ctx: RequestContext) -> web.Response:
        fmt = negotiation.negotiate_object(request.headers.get("Accept"))
        options = DeleteOptions.from_body(await self.read_delete_options(request), request.query)
        ctx = options.context(ctx)
        result = await registry.delete(ctx, info.name, options)
        if result.deleted and registry.resource.plural not in _RETURNS_DELETED_OBJECT:
            meta = result.object.get("metadata", {})
            details = {"name": info.name, "kind": registry.resource.plural, "uid": meta.get("uid")}
            if registry.resource.group:
                details = {"name": info.name, "group": registry.resource.group,
                           "kind": registry.resource.plural, "uid": meta.get("uid")}
            return encoding.respond(orjson.dumps(encoding.success_status(details)), fmt, warnings=ctx.warnings)
        return self.respond_object(registry, result.object, fmt, 200, ctx)

    @staticmethod
    async def read_delete_options(request: web.BaseRequest) -> Obj | None:
        """The DeleteOptions body, if any, decoded as meta/v1 DeleteOptions (a value of the wrong
        type is a 400 naming the field, as the decoder words it; unknown fields are dropped)."""
        raw = await encoding.read_body(request)
        if not raw.strip():
            return None
        body = encoding.decode_body(raw, request.headers.get("Content-Type"))
        check_fields(body, "", "v1", "DeleteOptions", "Ignore")
        return dict(body)

    async def _deletecollection(
        self, request: web.BaseRequest, info: RequestInfo, registry: Registry, ctx: RequestContext
    ) -> web.Response:
        fmt = negotiation.negotiate_object(request.headers.get("Accept"))
        options = DeleteOptions.from_body(await self.read_delete_options(request), request.query)
        ctx = options.context(ctx)
        selection = Selection.from_query(request.query, registry.resource)
        items, _ = await self.select(registry, ctx, selection, {})
        by_namespace: dict[str, list[str]] = {}
        for o in items:
            meta = o.obj["metadata"]
            by_namespace.setdefault(meta.get("namespace", ""), []).append(meta["name"])
        deleted: list[Obj] = []
        for namespace, group_names in by_namespace.items():
            ns_ctx = dataclasses.replace(ctx, namespace=namespace)
            deleted.extend(await registry.delete_collection(ns_ctx, options, group_names))
        served = [encoding.Served(registry.strategy.to_external(obj) or obj) for obj in deleted]
        return encoding.respond(
            encoding.list_body(registry.resource, served, {"resourceVersion": str(registry.store.revision)}, fmt), fmt,
            warnings=ctx.warnings,
        )


# Kinds whose DELETE answers with the object rather than a Status (upstream ReturnDeletedObject).
_RETURNS_DELETED_OBJECT = frozenset({"pods", "services", "namespaces"})
