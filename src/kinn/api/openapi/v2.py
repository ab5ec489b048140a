"""The OpenAPI v2 (Swagger 2.0) document served at `/openapi/v2`, as JSON and as gnostic protobuf.

kubectl validates an object client-side against this document when the server cannot do it: for a
`kind: List` (no v3 PATCH operation carries the List's GVK, so kubectl's query-parameter verifier says
"unsupported") `apply -f` loads it through client-go's `DiscoveryClient.OpenAPISchema()`, which asks
for the protobuf form only, and finds each item's schema by the definitions'
`x-kubernetes-group-version-kind`. The operations are the v3 builder's, restated in Swagger 2.0 terms
as kube-openapi's v2 builder writes them: a `body` parameter instead of `requestBody`,
`consumes`/`produces` instead of per-media-type content, parameter types inline instead of under
`schema`, refs under `#/definitions/`. The definitions are the vendored upstream v2 ones, unchanged.
As in kube-openapi's OpenAPIService, the JSON, its ETag (sha512 of the JSON) and the protobuf (the
JSON re-parsed and encoded) are each computed once per process, when first asked for.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

from kinn.api.openapi import schemas
from kinn.api.openapi.gnostic import encode_document
from kinn.api.openapi.v3 import EXTRA_DEFINITIONS, INFO, group_version_paths
from kinn.api.resources import TABLE

_REF = "#/definitions/"
_SECURITY_DEFINITIONS = {"BearerToken": {"description": "Bearer Token authentication", "in": "header",
                                         "name": "authorization", "type": "apiKey"}}


def swagger_document() -> dict[str, Any]:
    """The whole document: every group-version's paths, every definition."""
    paths: dict[str, Any] = {}
    for group, version in TABLE.group_versions():
        paths.update((path, _path_item(item)) for path, item in group_version_paths(group, version).items())
    return {
        "definitions": {**schemas.definitions(), **EXTRA_DEFINITIONS},
        "info": INFO,
        "paths": paths,
        "security": [{"BearerToken": []}],
        "securityDefinitions": _SECURITY_DEFINITIONS,
        "swagger": "2.0",
    }


@lru_cache(maxsize=1)
def openapi_v2_json() -> bytes:
    return json.dumps(swagger_document(), sort_keys=True, separators=(",", ":")).encode()


@lru_cache(maxsize=1)
def openapi_v2_protobuf() -> bytes:
    """What kube-openapi's `ToProtoBinary` makes of the JSON: gnostic parses it, keys in document order."""
    return encode_document(json.loads(openapi_v2_json()))


@lru_cache(maxsize=1)
def openapi_v2_etag() -> str:
    """The quoted ETag of both encodings, from the JSON as upstream computes it (they vary by Accept)."""
    return f'"{hashlib.sha512(openapi_v2_json()).hexdigest().upper()}"'


# ---------------------------------------------------------------- v3 → v2


def _path_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _sorted([_parameter(p) for p in value]) if key == "parameters" else _operation(value)
            for key, value in item.items()}


def _operation(op: dict[str, Any]) -> dict[str, Any]:
    body = op.get("requestBody")
    out = {key: value for key, value in op.items() if key not in ("parameters", "requestBody", "responses")}
    parameters = [_body_parameter(body)] if body else []
    parameters += [_parameter(p) for p in op.get("parameters", ())]
    if parameters:
        out["parameters"] = _sorted(parameters)
    responses = op["responses"]
    produces = list(dict.fromkeys(t for response in responses.values() for t in response.get("content", ())))
    out["consumes"] = _consumes(op, body, produces)
    out["produces"] = produces
    out["responses"] = {code: _response(response) for code, response in responses.items()}
    out["schemes"] = ["https"]
    return out


def _consumes(op: dict[str, Any], body: dict[str, Any] | None, produces: list[str]) -> list[str]:
    """A body's media types; else `*/*` for a resource operation, while the discovery operation
    (`get<Group><Version>APIResources`, the one without an action) is declared to consume what it produces."""
    if body:
        return list(body["content"])
    return produces if "x-kubernetes-action" not in op else ["*/*"]


def _sorted(parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """kube-openapi's builder sorts parameters by name, then location (so `body` leads a write's list)."""
    return sorted(parameters, key=lambda p: (p["name"], p["in"]))


def _body_parameter(body: dict[str, Any]) -> dict[str, Any]:
    parameter: dict[str, Any] = {"in": "body", "name": "body", "schema": _content_schema(body["content"])}
    if body.get("required"):
        parameter["required"] = True
    return parameter


def _parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    """v3 puts a parameter's type under `schema`; v2 writes it beside the name."""
    out = {key: value for key, value in parameter.items() if key != "schema"}
    out.update(parameter.get("schema", {}))
    return out


def _response(response: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"description": response["description"]}
    content = response.get("content")
    if content:
        out["schema"] = _content_schema(content)
    return out


def _content_schema(content: dict[str, Any]) -> dict[str, Any]:
    """The schema of a v3 body or response; the builder gives each of its media types the same one."""
    schema = next(iter(content.values()))["schema"]
    ref = schema.get("$ref")
    return {"$ref": _REF + ref.rpartition("/")[2]} if ref else schema
