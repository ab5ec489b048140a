"""Subresources: status, scale, pods/binding, pods/eviction, pods/ephemeralcontainers, namespaces/finalize,
serviceaccounts/token.

`status` and `pods/ephemeralcontainers` are the object through another door (only status, or only
the ephemeral containers, may change); `scale` is an autoscaling/v1 Scale view of a workload's
replicas; `binding` is how the scheduler assigns a node; `eviction` is a delete that respects
PodDisruptionBudgets; `token` issues a TokenRequest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from multidict import MultiDict

from kinn.api import errors
from kinn.api.field import Path, invalid
from kinn.api.openapi import schemas
from kinn.api.patch.json_patch import apply_json_patch
from kinn.api.patch.merge_patch import apply_merge_patch
from kinn.api.patch.strategic import apply_strategic_merge_patch
from kinn.api.selectors import format_label_selector, label_selector_from_object
from kinn.api.timestamps import rfc3339
from kinn.apiserver import encoding, negotiation, proxy, resourceproxy
from kinn.apiserver.registry.generic import DeleteOptions, Registry, RequestContext
from kinn.apiserver.registry.namespaces import finalize
from kinn.apiserver.registry.pods import EPHEMERAL_CONTAINERS, bind
from kinn.apiserver.registry.tokenrequest import create_token
from kinn.apiserver.requestinfo import RequestInfo

if TYPE_CHECKING:
    from kinn.apiserver.handlers import ResourceHandler

Obj = dict[str, Any]

# Subresources that read and write the whole object, the registry's strategy deciding what may change.
_OBJECT_DOORS = ("status", EPHEMERAL_CONTAINERS)


async def handle_subresource(
    handler: "ResourceHandler", request: web.BaseRequest, info: RequestInfo, registry: Registry, ctx: RequestContext
) -> web.StreamResponse:
    sub, verb = info.subresource, info.verb
    if registry.resource.plural == "pods" and sub in ("log", "exec", "attach", "portforward"):
        return await _kubelet_subresource(handler, request, info, registry, ctx)
    if sub.partition("/")[0] == "proxy" and registry.resource.plural in ("pods", "services"):
        return await _proxy(handler, request, info, registry, ctx)
    fmt = negotiation.negotiate_object(request.headers.get("Accept"))
    if sub in _OBJECT_DOORS:
        if verb == "get":
            return handler.respond_stored(registry, await registry.get(ctx, info.name), fmt)
        if verb == "update":
            obj = await handler.read_object(request, registry, ctx)
            result, _ = await registry.update(ctx, info.name, obj, sub)
            return handler.respond_object(registry, result, fmt, 200, ctx)
        if verb == "patch":
            result, _ = await handler.patch(request, info, registry, ctx)
            return handler.respond_object(registry, result, fmt, 200, ctx)
    elif sub == "scale":
        return await _scale(handler, request, info, registry, ctx, fmt)
    elif sub == "binding" and verb == "create":
        return await binding(request, info, registry, ctx, fmt)
    elif sub == "eviction" and verb == "create":
        return await _eviction(handler, request, info, registry, ctx)
    elif sub == "finalize" and verb == "update":
        body = dict(encoding.decode_body(await encoding.read_body(request), request.headers.get("Content-Type")))
        result = await registry.guaranteed_update(ctx, info.name, lambda ns: finalize(ns, body), "finalize")
        return handler.respond_object(registry, result, fmt, 200, ctx)
    elif sub == "token" and verb == "create":
        body = dict(encoding.decode_body(await encoding.read_body(request), request.headers.get("Content-Type")))
        token_request = await create_token(handler.registries, handler.tokens, ctx, info.name, body)
        return encoding.respond(orjson.dumps(token_request), fmt, 201)
    raise errors.method_not_supported(f"{registry.resource.plural}/{sub}", registry.resource.group, verb)


async def _kubelet_subresource(
    handler: "ResourceHandler", request: web.BaseRequest, info: RequestInfo, registry: Registry, ctx: RequestContext
) -> web.StreamResponse:
    """pods/log (get), pods/exec, attach and portforward (get or create): served by the pod's kubelet."""
    if info.subresource == "log" and info.verb == "get":
        return await proxy.pod_log(request, handler.kubelets, registry, handler.registries, ctx, info.name)
    if info.subresource in ("exec", "attach") and info.verb in ("get", "create"):
        return await proxy.pod_stream(request, handler.kubelets, registry, handler.registries, ctx, info.name,
                                      info.subresource)
    if info.subresource == "portforward" and info.verb in ("get", "create"):
        return await proxy.pod_port_forward(request, handler.kubelets, registry, handler.registries, ctx, info.name)
    raise errors.method_not_supported(f"pods/{info.subresource}", "", info.verb)


async def _proxy(
    handler: "ResourceHandler", request: web.BaseRequest, info: RequestInfo, registry: Registry, ctx: RequestContext
) -> web.StreamResponse:
    """pods/proxy and services/proxy, any method: the rest of the URL after `proxy/` is the target's path."""
    if registry.resource.plural == "pods":
        location = await resourceproxy.pod_location(registry, ctx, info.name)
    else:
        location = await resourceproxy.service_location(handler.registries, registry, ctx, info.name)
    path = info.subresource.partition("/")[2]
    if path and request.path.endswith("/"):
        path += "/"
    return await resourceproxy.forward(request, handler.kubelets, location, path)


# -- scale -------------------------------------------------------------------------------

_SCALE_SCHEMA = schemas.for_kind("autoscaling", "v1", "Scale")


def scale_of(obj: Obj) -> Obj:
    """The autoscaling/v1 Scale view: replicas and the selector as a string (for HPA)."""
    meta = obj["metadata"]
    selector = obj.get("spec", {}).get("selector")
    if obj.get("kind") == "ReplicationController":
        selector_text = ",".join(f"{k}={v}" for k, v in (selector or {}).items())
    else:
        selector_text = format_label_selector(selector) if selector else ""
    scale_meta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta}
    status: Obj = {"replicas": obj.get("status", {}).get("replicas", 0)}
    if selector_text:
        status["selector"] = selector_text
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_meta,
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)}, "status": status,
    }


async def _scale(
    handler: "ResourceHandler", request: web.BaseRequest, info: RequestInfo, registry: Registry, ctx: RequestContext,
    fmt: negotiation.ResponseFormat,
) -> web.Response:
    if info.verb == "get":
        stored = await registry.get(ctx, info.name)
        return encoding.respond(orjson.dumps(scale_of(stored.obj)), fmt)
    if info.verb not in ("update", "patch"):
        raise errors.method_not_supported(f"{registry.resource.plural}/scale", registry.resource.group, info.verb)
    raw = await encoding.read_body(request)
    patch_type = negotiation.body_type(request.headers.get("Content-Type"))

    def mutate(current: Obj) -> Obj:
        scale = scale_of(current)
        if info.verb == "update":
            desired = dict(encoding.decode_body(raw, request.headers.get("Content-Type")))
        else:
            desired = _patch_scale(scale, raw, patch_type)
        replicas = (desired.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid("Scale", "autoscaling", info.name, [
                invalid(Path("spec", "replicas"), replicas, "must be greater than or equal to 0")
            ])
        rv = (desired.get("metadata") or {}).get("resourceVersion")
        if rv:
            current["metadata"]["resourceVersion"] = rv
        current.setdefault("spec", {})["replicas"] = replicas
        return current

    result = await registry.guaranteed_update(ctx, info.name, mutate, "scale")
    return encoding.respond(orjson.dumps(scale_of(result)), fmt)


def _patch_scale(scale: Obj, raw: bytes, patch_type: str) -> Obj:
    patch = orjson.loads(raw)
    if patch_type == negotiation.JSON_PATCH:
        return apply_json_patch(scale, patch)
    if patch_type == negotiation.MERGE_PATCH:
        return apply_merge_patch(scale, patch)
    if patch_type == negotiation.STRATEGIC_MERGE_PATCH:
        return apply_strategic_merge_patch(scale, patch, _SCALE_SCHEMA)
    raise errors.unsupported_media_type(patch_type, negotiation.PATCH_TYPES)


# -- pods/binding and pods/eviction -------------------------------------------------------


async def binding(
    request: web.BaseRequest, info: RequestInfo, pods: Registry, ctx: RequestContext, fmt: negotiation.ResponseFormat
) -> web.Response:
    """Assign a pod to a node: `pods/{name}/binding`, or the `bindings` collection naming the pod."""
    body = dict(encoding.decode_body(await encoding.read_body(request), request.headers.get("Content-Type")))
    name = (body.get("metadata") or {}).get("name") or info.name
    now = rfc3339(ctx.now())
    # As upstream's BindingREST, which updates the pod in storage without the field manager: no
    # managedFields entry for the scheduler's spec.nodeName (nor its cost, on every pod).
    await pods.guaranteed_update(ctx, name, lambda pod: bind(pod, body, now), "binding", operation="")
    return encoding.respond(orjson.dumps(encoding.success_status(code=201)), fmt, 201)


async def _eviction(
    handler: "ResourceHandler", request: web.BaseRequest, info: RequestInfo, registry: Registry, ctx: RequestContext
) -> web.Response:
    """Evict unless a PodDisruptionBudget forbids it (429), as upstream's eviction REST.

    An allowed eviction of a running pod spends one of the budget's `disruptionsAllowed` and
    records the pod in `disruptedPods` (a status write with a revision precondition) before the
    pod is deleted, so two evictions racing for the last allowed disruption cannot both win.
    """
    fmt = negotiation.negotiate_object(request.headers.get("Accept"))
    eviction = dict(encoding.decode_body(await encoding.read_body(request), request.headers.get("Content-Type")))
    if eviction.get("metadata", {}).get("name", info.name) != info.name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    options = DeleteOptions.from_body(eviction.get("deleteOptions"), MultiDict())
    ctx = options.context(ctx)
    pod = (await registry.get(ctx, info.name)).obj
    if pod.get("status", {}).get("phase") == "Running":
        pdbs = handler.registries.get("policy", "v1", "poddisruptionbudgets")
        assert pdbs is not None
        budgets = [stored.obj["metadata"]["name"] for stored in await pdbs.store.list(pdbs.prefix(ctx.namespace))
                   if label_selector_from_object(stored.obj.get("spec", {}).get("selector"))
                   .matches(pod["metadata"].get("labels"))]
        if len(budgets) > 1:
            raise errors.internal_error("This pod has more than one PodDisruptionBudget, which the eviction "
                                        "subresource does not support.")
        now = rfc3339(ctx.now())
        for budget in budgets:
            await pdbs.guaranteed_update(ctx, budget, lambda pdb: _spend_disruption(pdb, pod["metadata"]["name"], now),
                                         "status")
    await registry.delete(ctx, info.name, options)
    return encoding.respond(orjson.dumps(encoding.success_status(code=201)), fmt, 201)


def _spend_disruption(pdb: Obj, pod_name: str, now: str) -> Obj:
    status = pdb.setdefault("status", {})
    name = pdb["metadata"]["name"]
    if status.get("observedGeneration", 0) < pdb["metadata"].get("generation", 0):
        raise errors.too_many_requests(
            f"Cannot evict pod as it would violate the pod's disruption budget. The disruption budget {name} "
            "is still being processed by the server."
        )
    if status.get("disruptionsAllowed", 0) < 1:
        raise errors.StatusError(
            429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
            {"causes": [{
                "reason": "DisruptionBudget",
                "message": f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} healthy pods "
                           f"and has {status.get('currentHealthy', 0)} currently",
            }]},
        )
    status["disruptionsAllowed"] -= 1
    status.setdefault("disruptedPods", {})[pod_name] = now
    return pdb
