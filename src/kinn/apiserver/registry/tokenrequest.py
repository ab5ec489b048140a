"""The `serviceaccounts/<name>/token` subresource: a TokenRequest in, a signed token out
(upstream pkg/registry/core/serviceaccount/storage/token.go). Nothing is stored.

`kubectl create token <sa>` and the kubelet (for projected serviceAccountToken volumes) call it.
A token may be bound to a Pod, Secret or Node; it then dies with that object.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kinn.api import errors
from kinn.api.field import Path, invalid
from kinn.apiserver.registry import Registries
from kinn.apiserver.registry.generic import RequestContext
from kinn.api.timestamps import rfc3339
from kinn.apiserver.serviceaccount.claims import claims
from kinn.apiserver.serviceaccount.jwt import TokenGenerator

Obj = dict[str, Any]

GROUP, VERSION, KIND = "authentication.k8s.io", "v1", "TokenRequest"
DEFAULT_EXPIRATION_SECONDS = 3600  # SetDefaults_TokenRequestSpec
MIN_EXPIRATION_SECONDS = 10 * 60
MAX_EXPIRATION_SECONDS = 1 << 32
# The kube-api-access volume asks for 3607 s; such pod-bound API tokens really last a year and
# only log a warning after 3607 s (--service-account-extend-token-expiration, on by default), so
# clients that never re-read the file keep working while the kubelet still rotates it hourly.
WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS = 3607
EXPIRATION_EXTENSION_SECONDS = 365 * 24 * 60 * 60


def _validate(request: Obj, name: str, namespace: str) -> None:
    meta, spec = request.get("metadata") or {}, request["spec"]
    if meta.get("name") and meta["name"] != name:
        raise errors.invalid(KIND, GROUP, name, [invalid(Path("metadata", "name"), meta["name"],
                                                         "must match the service account name if specified")])
    if meta.get("namespace") and meta["namespace"] != namespace:
        raise errors.invalid(KIND, GROUP, name, [invalid(Path("metadata", "namespace"), meta["namespace"],
                                                         "must match the service account namespace if specified")])
    seconds = spec["expirationSeconds"]
    if seconds < MIN_EXPIRATION_SECONDS:
        raise errors.invalid(KIND, GROUP, "", [invalid(Path("spec", "expirationSeconds"), seconds,
                                                       "may not specify a duration less than 10 minutes")])
    if seconds > MAX_EXPIRATION_SECONDS:
        raise errors.invalid(KIND, GROUP, "", [invalid(Path("spec", "expirationSeconds"), seconds,
                                                       "may not specify a duration larger than 2^32 seconds")])


async def _bound_objects(registries: Registries, ctx: RequestContext, account: str,
                         ref: Obj) -> dict[str, Obj]:
    """The object a token is bound to (and a pod's node), checked as upstream: kind, UID, account."""
    api_version, kind, name = ref.get("apiVersion", ""), ref.get("kind", ""), ref.get("name", "")
    group, _, version = api_version.rpartition("/")
    plural = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}.get(kind) if group == "" else None
    if plural is None:
        raise errors.bad_request(f"cannot bind token to object of type {group}/{version}, Kind={kind}")
    obj = (await registries.core(plural).get(ctx, name)).obj
    bound = {kind.lower(): obj}
    if kind == "Pod":
        if obj["spec"].get("serviceAccountName") != account:
            raise errors.bad_request(f'cannot bind token for serviceaccount "{account}" to pod running with different '
                                     "serviceaccount name.")
        nodes, node_name = registries.core("nodes"), obj["spec"].get("nodeName")
        node = await nodes.store.get(nodes.key("", node_name)) if node_name else None
        if node is not None:  # optional: a pod whose node is gone still gets a token
            bound["node"] = node.obj
    if ref.get("uid") and ref["uid"] != obj["metadata"]["uid"]:
        raise errors.conflict(kind, group, name, f"the UID in the bound object reference ({ref['uid']}) does not "
                              "match the UID in record. The object might have been deleted and then recreated")
    return bound


async def create_token(registries: Registries, generator: TokenGenerator, ctx: RequestContext, name: str,
                       request: Obj) -> Obj:
    """TokenREST.Create: default, validate, resolve the bound object, sign; returns the TokenRequest."""
    spec = request["spec"] = request.get("spec") or {}
    if spec.get("expirationSeconds") is None:
        spec["expirationSeconds"] = DEFAULT_EXPIRATION_SECONDS
    _validate(request, name, ctx.namespace)
    account = (await registries.core("serviceaccounts").get(ctx, name)).obj
    audiences = spec.get("audiences") or list(generator.api_audiences)
    spec["audiences"] = audiences
    now = ctx.now()
    bound = await _bound_objects(registries, ctx, name, spec["boundObjectRef"]) if spec.get("boundObjectRef") else {}
    spec.setdefault("boundObjectRef", None)
    expiration, warn_after = spec["expirationSeconds"], 0
    if "pod" in bound and expiration == WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS and \
            set(audiences) <= set(generator.api_audiences):
        expiration, warn_after = EXPIRATION_EXTENSION_SECONDS, WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS
    token = generator.generate(claims(account, audiences, expiration, now, pod=bound.get("pod"),
                                      secret=bound.get("secret"), node=bound.get("node"),
                                      warn_after_seconds=warn_after))
    metadata = {"name": name, "namespace": ctx.namespace, "creationTimestamp": rfc3339(now)}
    return {"kind": KIND, "apiVersion": f"{GROUP}/{VERSION}", "metadata": metadata, "spec": spec,
            "status": {"token": token,
                       "expirationTimestamp": rfc3339(now + timedelta(seconds=spec["expirationSeconds"]))}}
