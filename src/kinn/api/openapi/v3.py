"""The OpenAPI v3 documents served at `/openapi/v3` and `/openapi/v3/<group-version path>`.

kubectl reads them for three things: `create/apply/replace -f` look for a PATCH operation tagged
with the object's `x-kubernetes-group-version-kind` that takes a `fieldValidation` parameter (then
the server validates fields, else kubectl falls back to `/openapi/v2`); `kubectl explain` reads
`components.schemas` found by the same extension; and the index's `?hash=` lets it cache documents.
The documents are built like kube-apiserver's (k8s.io/kube-openapi builder3): one path item per
collection, object, subresource and deprecated watch path, operations named `listAppsV1Namespaced
Deployment` etc., schemas converted from the vendored v2 definitions with `$ref` siblings wrapped in
`allOf`. Serialized bytes and hashes are computed once per process.
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import lru_cache
from typing import Any, Iterator

from kinn.api.openapi import schemas
from kinn.api.resources import TABLE, Resource

Schema = dict[str, Any]

INFO = {"title": "Kubernetes", "version": "unversioned"}  # the `info` of every OpenAPI document
_V2_REF = "#/definitions/"
_V3_REF = "#/components/schemas/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_MEDIA_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
_WATCH_MEDIA_TYPES = _MEDIA_TYPES + ("application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json",
                "application/apply-patch+yaml")  # in upstream's order, which v2's `consumes` keeps
_LIST_PARAMETERS = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
                    "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch")
_WRITE_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation")
_DELETE_PARAMETERS = ("dryRun", "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential",
                      "orphanDependents", "propagationPolicy")
_DELETECOLLECTION_PARAMETERS = tuple(sorted(set(_DELETE_PARAMETERS + _LIST_PARAMETERS) - {"allowWatchBookmarks", "watch"}))

# Stores that hand the deleted object back (graceful deletion or finalizers) document it as the
# DELETE response; the rest answer with a Status.
_DELETE_RETURNS_OBJECT = frozenset({("", "persistentvolumeclaims"), ("", "pods"), ("", "podtemplates"),
                                    ("", "resourcequotas"), ("", "serviceaccounts"), ("", "services"),
                                    ("", "persistentvolumes"), ("storage.k8s.io", "storageclasses")})

# Connect subresources: the options kind upstream tags them with, their HTTP methods and query parameters.
_CONNECT = {
    "attach": ("AttachOptions", ("get", "post"), ("container", "stderr", "stdin", "stdout", "tty")),
    "exec": ("ExecOptions", ("get", "post"), ("command", "container", "stderr", "stdin", "stdout", "tty")),
    "portforward": ("PortForwardOptions", ("get", "post"), ("ports",)),
    "proxy": ("ProxyOptions", ("delete", "get", "head", "options", "patch", "post", "put"), ("path",)),
}
_LOG_PARAMETERS = ("container", "follow", "insecureSkipTLSVerifyBackend", "limitBytes", "previous", "sinceSeconds",
                   "tailLines", "timestamps")

# Body kinds of the create-only subresources: (subresource, group, version, kind).
_CREATE_SUBRESOURCES = {
    "binding": ("", "v1", "Binding"),
    "eviction": ("policy", "v1", "Eviction"),
    "token": ("authentication.k8s.io", "v1", "TokenRequest"),
}

# Definitions every built-in API server has but the vendored set, cut to served kinds, lacks.
EXTRA_DEFINITIONS: dict[str, Schema] = {
    _META + "Patch": {
        "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.",
        "type": "object",
    },
    _META + "WatchEvent": {
        "description": "Event represents a single event to a watched resource.",
        "properties": {
            "object": {
                "$ref": _V2_REF + "io.k8s.apimachinery.pkg.runtime.RawExtension",
                "description": "Object is:\n * If Type is Added or Modified: the new state of the object.\n * If Type is "
                "Deleted: the state of the object immediately before deletion.\n * If Type is Error: *Status is "
                "recommended; other types may make sense\n   depending on context.",
            },
            "type": {"type": "string"},
        },
        "required": ["type", "object"],
        "type": "object",
    },
}


# ---------------------------------------------------------------- public API


def openapi_v3_index() -> dict[str, Any]:
    """`GET /openapi/v3`: every served document and its content hash."""
    return {"paths": {path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
                      for path, (_, digest) in sorted(_documents().items())}}


def openapi_v3_document(path: str) -> bytes | None:
    """`GET /openapi/v3/<path>` (e.g. `apis/apps/v1`): the serialized document, or None."""
    entry = _documents().get(path.strip("/"))
    return entry[0] if entry else None


def openapi_v3_hash(path: str) -> str | None:
    """The hash the index advertises for `path`, for the server's ETag and immutable caching."""
    entry = _documents().get(path.strip("/"))
    return entry[1] if entry else None


@lru_cache(maxsize=1)
def _documents() -> dict[str, tuple[bytes, str]]:
    docs = {_gv_path(group, version): _serialize(_group_version_document(group, version))
            for group, version in TABLE.group_versions()}
    return {path: (body, hashlib.sha512(body).hexdigest().upper()) for path, body in docs.items()}


def _serialize(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


# ---------------------------------------------------------------- documents


def _group_version_document(group: str, version: str) -> dict[str, Any]:
    paths = group_version_paths(group, version)
    return {
        "openapi": "3.0.0",
        "info": INFO,
        "paths": paths,
        "components": {"schemas": _component_schemas(paths)},
    }


def group_version_paths(group: str, version: str) -> dict[str, Any]:
    """The v3 path items of one group-version, sorted; `/openapi/v2` restates the same operations."""
    paths: dict[str, Any] = {f"/{_gv_path(group, version)}/": _api_resources_item(group, version)}
    for resource in TABLE.in_group_version(group, version):
        paths.update(_resource_paths(resource))
    return dict(sorted(paths.items()))


def _api_resources_item(group: str, version: str) -> dict[str, Any]:
    operation = {
        "description": "get available resources",
        "operationId": f"get{_group_camel(group)}{version.capitalize()}APIResources",
        "responses": _responses({"200": _META + "APIResourceList"}, _MEDIA_TYPES),
        "tags": [_tag(group, version)],
    }
    return {"get": operation}


def _resource_paths(r: Resource) -> Iterator[tuple[str, dict[str, Any]]]:
    """Path items of one resource, the way the apiserver's endpoint installer lays them out."""
    base = "/" + _gv_path(r.group, r.version)
    scope = f"{base}/namespaces/{{namespace}}" if r.namespaced else base
    collection = f"{scope}/{r.plural}"
    item = f"{collection}/{{name}}"
    scope_params = [_path_parameter("namespace")] if r.namespaced else []
    namespaced = "Namespaced" if r.namespaced else ""
    ops = _Operations(r, namespaced)

    yield collection, _path_item(scope_params + [_query("pretty")], {
        "get": ops.list() if "list" in r.verbs else None,
        "post": ops.create() if "create" in r.verbs else None,
        "delete": ops.delete_collection() if "deletecollection" in r.verbs else None,
    })
    if set(r.verbs) == {"create"}:  # bindings and reviews: a collection to POST to, no items
        return
    item_params = [_path_parameter("name", r.kind)] + scope_params
    yield item, _path_item(item_params + [_query("pretty")], {
        "get": ops.read() if "get" in r.verbs else None,
        "put": ops.replace() if "update" in r.verbs else None,
        "patch": ops.patch() if "patch" in r.verbs else None,
        "delete": ops.delete() if "delete" in r.verbs else None,
    })
    if "watch" in r.verbs:
        list_params = [_query(name) for name in _LIST_PARAMETERS + ("pretty",)]
        watch_base = f"{base}/watch/namespaces/{{namespace}}" if r.namespaced else f"{base}/watch"
        yield f"{watch_base}/{r.plural}", _path_item(scope_params + list_params, {"get": ops.watch_list("")})
        yield f"{watch_base}/{r.plural}/{{name}}", _path_item(item_params + list_params, {"get": ops.watch()})
        if r.namespaced:
            yield f"{base}/{r.plural}", _path_item(list_params, {"get": ops.list("ForAllNamespaces")})
            yield f"{base}/watch/{r.plural}", _path_item(list_params, {"get": ops.watch_list("ForAllNamespaces")})
    for sub in r.subresources:
        yield from _subresource_paths(r, sub, item, item_params, ops)


def _subresource_paths(r: Resource, sub: str, item: str, item_params: list[dict[str, Any]],
                       ops: "_Operations") -> Iterator[tuple[str, dict[str, Any]]]:
    path = f"{item}/{sub}"
    if sub in ("status", "scale", "finalize", "ephemeralcontainers"):
        body = ("autoscaling", "v1", "Scale") if sub == "scale" else (r.group, r.version, r.kind)
        verbs = {"put": ops.replace(sub, body)} if sub == "finalize" else {
            "get": ops.read(sub, body), "put": ops.replace(sub, body), "patch": ops.patch(sub, body)}
        yield path, _path_item(item_params + [_query("pretty")], verbs)
    elif sub in _CREATE_SUBRESOURCES and schemas.for_kind(*_CREATE_SUBRESOURCES[sub]):
        write_params = [_query(name) for name in _WRITE_PARAMETERS + ("pretty",)]
        yield path, _path_item(item_params + write_params, {"post": ops.create(sub, _CREATE_SUBRESOURCES[sub])})
    elif sub == "log":
        yield path, _path_item(item_params + [_query(n) for n in _LOG_PARAMETERS + ("pretty",)], {"get": ops.log()})
    elif sub in _CONNECT:
        options, methods, query = _CONNECT[sub]
        params = item_params + [_query(n) for n in query]
        yield path, _path_item(params, {m: ops.connect(sub, m, options, "") for m in methods})
        if sub == "proxy":
            with_path = item_params + [_path_parameter("path")] + [_query("path")]
            yield f"{path}/{{path}}", _path_item(with_path, {m: ops.connect(sub, m, options, "WithPath") for m in methods})


def _path_item(parameters: list[dict[str, Any]], operations: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    item: dict[str, Any] = {method: op for method, op in operations.items() if op is not None}
    item["parameters"] = parameters
    return item


class _Operations:
    """The operations of one resource, named and described as upstream's endpoint installer does."""

    def __init__(self, r: Resource, namespaced: str) -> None:
        self.r = r
        self.namespaced = namespaced
        self.gv = f"{_group_camel(r.group)}{r.version.capitalize()}"
        self.gvk = {"group": r.group, "kind": r.kind, "version": r.version}
        self.definition = schemas.definition_name(r.group, r.version, r.kind) or ""

    def _op(self, verb: str, suffix: str, action: str, description: str, responses: dict[str, Any],
            gvk: dict[str, str] | None = None, parameters: tuple[str, ...] = (), body: Any = None) -> dict[str, Any]:
        op: dict[str, Any] = {
            "description": description,
            "operationId": f"{verb}{self.gv}{self.namespaced}{self.r.kind}{suffix}",
        }
        if parameters:
            op["parameters"] = [_query(name, apply=action == "patch") for name in parameters]
        if body is not None:
            op["requestBody"] = body
        op.update({
            "responses": responses,
            "tags": [_tag(self.r.group, self.r.version)],
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk or self.gvk,
        })
        return op

    def _target(self, sub: str, body: tuple[str, str, str] | None) -> tuple[str, dict[str, str]]:
        if body is None:
            return self.definition, self.gvk
        group, version, kind = body
        return schemas.definition_name(group, version, kind) or "", {"group": group, "kind": kind, "version": version}

    def list(self, suffix: str = "") -> dict[str, Any]:
        list_definition = schemas.definition_name(self.r.group, self.r.version, self.r.list_kind) or ""
        op = self._op("list", suffix, "list", f"list or watch objects of kind {self.r.kind}",
                      _responses({"200": list_definition}, _WATCH_MEDIA_TYPES),
                      parameters=() if suffix else _LIST_PARAMETERS)
        if suffix:
            op["operationId"] = f"list{self.gv}{self.r.kind}{suffix}"
        return op

    def watch_list(self, suffix: str) -> dict[str, Any]:
        op = self._op("watch", "List" + suffix, "watchlist",
                      f"watch individual changes to a list of {self.r.kind}. deprecated: use the 'watch' parameter "
                      "with a list operation instead.", _responses({"200": _META + "WatchEvent"}, _WATCH_MEDIA_TYPES))
        if suffix:
            op["operationId"] = f"watch{self.gv}{self.r.kind}List{suffix}"
        return op

    def watch(self) -> dict[str, Any]:
        return self._op("watch", "", "watch",
                        f"watch changes to an object of kind {self.r.kind}. deprecated: use the 'watch' parameter "
                        "with a list operation instead, filtered to a single item with the 'fieldSelector' parameter.",
                        _responses({"200": _META + "WatchEvent"}, _WATCH_MEDIA_TYPES))

    def create(self, sub: str = "", body: tuple[str, str, str] | None = None) -> dict[str, Any]:
        definition, gvk = self._target(sub, body)
        what = f"{sub} of {_article(self.r.kind)}{self.r.kind}" if sub else f"{_article(self.r.kind)}{self.r.kind}"
        return self._op("create", sub.capitalize(), "post", f"create {what}",
                        _responses(dict.fromkeys(("200", "201", "202"), definition), _MEDIA_TYPES), gvk,
                        () if sub else _WRITE_PARAMETERS, _request_body(definition, ("*/*",)))

    def read(self, sub: str = "", body: tuple[str, str, str] | None = None) -> dict[str, Any]:
        definition, gvk = self._target(sub, body)
        return self._op("read", sub.capitalize(), "get", f"read {_subject(sub, self.r.kind)}",
                        _responses({"200": definition}, _MEDIA_TYPES), gvk)

    def replace(self, sub: str = "", body: tuple[str, str, str] | None = None) -> dict[str, Any]:
        definition, gvk = self._target(sub, body)
        return self._op("replace", sub.capitalize(), "put", f"replace {_subject(sub, self.r.kind)}",
                        _responses(dict.fromkeys(("200", "201"), definition), _MEDIA_TYPES), gvk,
                        _WRITE_PARAMETERS, _request_body(definition, ("*/*",)))

    def patch(self, sub: str = "", body: tuple[str, str, str] | None = None) -> dict[str, Any]:
        definition, gvk = self._target(sub, body)
        return self._op("patch", sub.capitalize(), "patch", f"partially update {_subject(sub, self.r.kind)}",
                        _responses(dict.fromkeys(("200", "201"), definition), _MEDIA_TYPES), gvk,
                        _WRITE_PARAMETERS + ("force",), _request_body(_META + "Patch", _PATCH_TYPES))

    def delete(self) -> dict[str, Any]:
        returned = self.definition if (self.r.group, self.r.plural) in _DELETE_RETURNS_OBJECT else _META + "Status"
        return self._op("delete", "", "delete", f"delete {_article(self.r.kind)}{self.r.kind}",
                        _responses(dict.fromkeys(("200", "202"), returned), _MEDIA_TYPES),
                        parameters=_DELETE_PARAMETERS, body=_request_body(_META + "DeleteOptions", ("*/*",), False))

    def delete_collection(self) -> dict[str, Any]:
        op = self._op("delete", "", "deletecollection", f"delete collection of {self.r.kind}",
                      _responses({"200": _META + "Status"}, _MEDIA_TYPES), parameters=_DELETECOLLECTION_PARAMETERS,
                      body=_request_body(_META + "DeleteOptions", ("*/*",), False))
        op["operationId"] = f"delete{self.gv}Collection{self.namespaced}{self.r.kind}"
        return op

    def log(self) -> dict[str, Any]:
        responses = {"200": {"content": {t: {"schema": {"type": "string"}} for t in ("text/plain",) + _MEDIA_TYPES},
                             "description": "OK"}, "401": {"description": "Unauthorized"}}
        return self._op("read", "Log", "get", f"read log of the specified {self.r.kind}", responses)

    def connect(self, sub: str, method: str, options: str, suffix: str) -> dict[str, Any]:
        responses = {"200": {"content": {"*/*": {"schema": {"type": "string"}}}, "description": "OK"},
                     "401": {"description": "Unauthorized"}}
        gvk = {"group": "", "kind": self.r.kind + options, "version": "v1"}
        op = self._op("connect", "", "connect", f"connect {method.upper()} requests to {sub} of {self.r.kind}",
                      responses, gvk)
        op["operationId"] = (f"connect{self.gv}{method.capitalize()}{self.namespaced}{self.r.kind}"
                             f"{sub.capitalize()}{suffix}")
        return op


def _article(kind: str) -> str:
    """`a Pod`, `an Event`, and no article for a plural-looking kind (`Endpoints`), as upstream words it."""
    if kind.endswith("s") and not kind.endswith("ss"):
        return ""
    return "an " if kind[0] in "AEIOU" else "a "


def _subject(sub: str, kind: str) -> str:
    return f"{sub} of the specified {kind}" if sub else f"the specified {kind}"


def _group_camel(group: str) -> str:
    """`rbac.authorization.k8s.io` → `RbacAuthorization`, the core group → `Core`."""
    if not group:
        return "Core"
    return "".join(part.capitalize() for part in group.removesuffix(".k8s.io").split("."))


def _tag(group: str, version: str) -> str:
    camel = _group_camel(group)
    return f"{camel[0].lower()}{camel[1:]}_{version}"


def _ref(definition: str) -> dict[str, str]:
    return {"$ref": _V3_REF + definition}


def _responses(by_code: dict[str, str], media_types: tuple[str, ...]) -> dict[str, Any]:
    names = {"200": "OK", "201": "Created", "202": "Accepted"}
    out: dict[str, Any] = {code: {"content": {t: {"schema": _ref(d)} for t in media_types}, "description": names[code]}
                           for code, d in by_code.items()}
    out["401"] = {"description": "Unauthorized"}
    return out


def _request_body(definition: str, media_types: tuple[str, ...], required: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"content": {t: {"schema": _ref(definition)} for t in media_types}}
    if required:
        body["required"] = True
    return body


def _path_parameter(name: str, kind: str = "") -> dict[str, Any]:
    descriptions = {"namespace": "object name and auth scope, such as for teams and projects",
                    "name": f"name of the {kind}", "path": "path to the resource"}
    return {"description": descriptions[name], "in": "path", "name": name, "required": True,
            "schema": {"type": "string", "uniqueItems": True}}


def _query(name: str, apply: bool = False) -> dict[str, Any]:
    """A query parameter with upstream's description; PATCH documents fieldManager's apply rule."""
    kind, description = _QUERY_PARAMETERS["fieldManager-apply" if apply and name == "fieldManager" else name]
    return {"description": description, "in": "query", "name": name, "schema": {"type": kind, "uniqueItems": True}}


# ---------------------------------------------------------------- schemas


def _component_schemas(paths: dict[str, Any]) -> dict[str, Schema]:
    """The definitions the operations reference, and everything they reference, in v3 form."""
    pending = sorted(_refs(paths))
    found: dict[str, Schema] = {}
    while pending:
        name = pending.pop()
        if name in found:
            continue
        definition = schemas.definitions().get(name) or EXTRA_DEFINITIONS.get(name)
        if definition is None:
            continue
        found[name] = _to_v3(definition)
        pending.extend(_refs(found[name]))
    return dict(sorted(found.items()))


def _refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        own = {value["$ref"].rpartition("/")[2]} if isinstance(value.get("$ref"), str) else set()
        return own.union(*(_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value))
    return set()


def _to_v3(schema: Schema) -> Schema:
    """A v2 definition in builder3's shape: refs under components, a `$ref` with siblings (a
    described field) wrapped in `allOf`, and the zero-value `default` upstream emits for fields
    that are not omitempty: kube-openapi marks those `required`, and a struct element of a list."""
    out = copy.deepcopy(schema)
    required = set(out.get("required", ()))
    for name, prop in out.get("properties", {}).items():
        out["properties"][name] = _convert(prop, name in required or name == "metadata")
    return _convert(out, False)


def _convert(schema: Schema, defaulted: bool) -> Schema:
    schema = dict(schema)
    if "items" in schema:
        schema["items"] = _convert(schema["items"], _is_struct_ref(schema["items"]))
    if isinstance(schema.get("additionalProperties"), dict):
        schema["additionalProperties"] = _convert(schema["additionalProperties"], False)
    ref = schema.pop("$ref", None)
    if defaulted and "default" not in schema:
        zero = _zero_value(ref, schema.get("type"))
        if zero is not None:
            schema["default"] = zero
    if ref is None:
        return schema
    target = _V3_REF + ref[len(_V2_REF):]
    return {"allOf": [{"$ref": target}], **schema} if schema else {"$ref": target}


def _is_struct_ref(schema: Schema) -> bool:
    target = schemas.resolve(schema) if "$ref" in schema else None
    return bool(target and "properties" in target)


def _zero_value(ref: str | None, kind: str | None) -> Any:
    if ref is not None:
        target = schemas.resolve({"$ref": ref})
        return {} if target and "properties" in target else None
    return {"string": "", "integer": 0, "boolean": False, "number": 0}.get(kind or "")


# Upstream's descriptions of the query parameters (k8s.io/apimachinery meta/v1 options types).
_QUERY_PARAMETERS: dict[str, tuple[str, str]] = {
    'allowWatchBookmarks': ('boolean', "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored."),
    'command': ('string', "Command is the remote command to execute. argv array. Not executed within a shell."),
    'container': ('string', "The container in which to execute the command. Defaults to only container if there is only one container in the pod."),
    'continue': ('string', "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize. If the specified continue value is no longer valid whether due to expiration (generally five to fifteen minutes) or a configuration change on the server, the server will respond with a 410 ResourceExpired error together with a continue token. If the client needs a consistent list, it must restart their list without the continue field. Otherwise, the client may send another list request with the token received with the 410 error, the server will respond with a list starting from the next key, but from the latest snapshot, which is inconsistent from the previous list results - objects that are created, modified, or deleted after the first list request will be included in the response, as long as their keys are after the \"next key\".\n\nThis field is not supported when watch is true. Clients may start a watch from the last resourceVersion value returned by the server and not miss any modifications."),
    'dryRun': ('string', "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed"),
    'fieldManager': ('string', "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint."),
    'fieldManager-apply': ('string', "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint. This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch)."),
    'fieldSelector': ('string', "A selector to restrict the list of returned objects by their fields. Defaults to everything."),
    'fieldValidation': ('string', "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered."),
    'follow': ('boolean', "Follow the log stream of the pod. Defaults to false."),
    'force': ('boolean', "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests."),
    'gracePeriodSeconds': ('integer', "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately."),
    'ignoreStoreReadErrorWithClusterBreakingPotential': ('boolean', "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error. A resource is considered corrupt if it can not be retrieved from the underlying storage successfully because of a) its data can not be transformed e.g. decryption failure, or b) it fails to decode into an object. NOTE: unsafe deletion ignores finalizer constraints, skips precondition checks, and removes the object from the storage. WARNING: This may potentially break the cluster if the workload associated with the resource being unsafe-deleted relies on normal deletion flow. Use only if you REALLY know what you are doing. The default value is false, and the user must opt in to enable it"),
    'insecureSkipTLSVerifyBackend': ('boolean', "insecureSkipTLSVerifyBackend indicates that the apiserver should not confirm the validity of the serving certificate of the backend it is connecting to.  This will make the HTTPS connection between the apiserver and the backend insecure. This means the apiserver cannot verify the log data it is receiving came from the real kubelet.  If the kubelet is configured to verify the apiserver's TLS credentials, it does not mean the connection to the real kubelet is vulnerable to a man in the middle attack (e.g. an attacker could not intercept the actual log data coming from the real kubelet)."),
    'labelSelector': ('string', "A selector to restrict the list of returned objects by their labels. Defaults to everything."),
    'limit': ('integer', "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results. Setting a limit may return fewer than the requested amount of items (up to zero items) in the event all requested objects are filtered out and clients should only use the presence of the continue field to determine whether more results are available. Servers may choose not to support the limit argument and will return all of the available results. If limit is specified and the continue field is empty, clients may assume that no more results are available. This field is not supported if watch is true.\n\nThe server guarantees that the objects returned when using continue will be identical to issuing a single list call without a limit - that is, no objects created, modified, or deleted after the first request is issued will be included in any subsequent continued requests. This is sometimes referred to as a consistent snapshot, and ensures that a client that is using limit to receive smaller chunks of a very large result can ensure they see all possible objects. If objects are updated during a chunked list the version of the object that was present at the time the first list result was calculated is returned."),
    'limitBytes': ('integer', "If set, the number of bytes to read from the server before terminating the log output. This may not display a complete final line of logging, and may return slightly more or slightly less than the specified limit."),
    'orphanDependents': ('boolean', "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both."),
    'path': ('string', "Path is the URL path to use for the current proxy request to pod."),
    'ports': ('integer', "List of ports to forward Required when using WebSockets"),
    'pretty': ('string', "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget)."),
    'previous': ('boolean', "Return previous terminated container logs. Defaults to false."),
    'propagationPolicy': ('string', "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground."),
    'resourceVersion': ('string', "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset"),
    'resourceVersionMatch': ('string', "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset"),
    'sendInitialEvents': ('boolean', "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic \"Bookmark\" event  will be sent. The bookmark will report the ResourceVersion (RV) corresponding to the set of objects, and be marked with `\"k8s.io/initial-events-end\": \"true\"` annotation. Afterwards, the watch stream will proceed as usual, sending watch events corresponding to changes (subsequent to the RV) to objects watched.\n\nWhen `sendInitialEvents` option is set, we require `resourceVersionMatch` option to also be set. The semantic of the watch request is as following: - `resourceVersionMatch` = NotOlderThan\n  is interpreted as \"data at least as new as the provided `resourceVersion`\"\n  and the bookmark event is send when the state is synced\n  to a `resourceVersion` at least as fresh as the one provided by the ListOptions.\n  If `resourceVersion` is unset, this is interpreted as \"consistent read\" and the\n  bookmark event is send when the state is synced at least to the moment\n  when request started being processed.\n- `resourceVersionMatch` set to any other value or unset\n  Invalid error is returned.\n\nDefaults to true if `resourceVersion=\"\"` or `resourceVersion=\"0\"` (for backward compatibility reasons) and to false otherwise."),
    'sinceSeconds': ('integer', "A relative time in seconds before the current time from which to show logs. If this value precedes the time a pod was started, only logs since the pod start will be returned. If this value is in the future, no logs will be returned. Only one of sinceSeconds or sinceTime may be specified."),
    'stderr': ('boolean', "Redirect the standard error stream of the pod for this call."),
    'stdin': ('boolean', "Redirect the standard input stream of the pod for this call. Defaults to false."),
    'stdout': ('boolean', "Redirect the standard output stream of the pod for this call."),
    'tailLines': ('integer', "If set, the number of lines from the end of the logs to show. If not specified, logs are shown from the creation of the container or sinceSeconds or sinceTime. Note that when \"TailLines\" is specified, \"Stream\" can only be set to nil or \"All\"."),
    'timeoutSeconds': ('integer', "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity."),
    'timestamps': ('boolean', "If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of log output. Defaults to false."),
    'tty': ('boolean', "TTY if true indicates that a tty will be allocated for the exec call. Defaults to false."),
    'watch': ('boolean', "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion."),
}
