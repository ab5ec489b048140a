"""The upstream schema definitions kinn serves, and navigation over them.

`definitions.json` is extracted from the official Kubernetes OpenAPI v2 document by
`hack/vendor_openapi.py`. It is kinn's single description of object structure: the OpenAPI
documents, unknown-field detection and strategic-merge-patch keys all read it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources as importlib_resources
from typing import Any

Schema = dict[str, Any]

_REF_PREFIX = "#/definitions/"


@lru_cache(maxsize=1)
def definitions() -> dict[str, Schema]:
    text = importlib_resources.files("kinn.api.openapi").joinpath("definitions.json").read_text()
    return json.loads(text)["definitions"]


@lru_cache(maxsize=1)
def _by_gvk() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            index.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return index


def definition_name(group: str, version: str, kind: str) -> str | None:
    """`io.k8s.api.apps.v1.Deployment` for (`apps`, `v1`, `Deployment`)."""
    return _by_gvk().get((group, version, kind))


def for_kind(group: str, version: str, kind: str) -> Schema | None:
    name = definition_name(group, version, kind)
    return definitions()[name] if name else None


def resolve(schema: Schema | None) -> Schema | None:
    """Follow `$ref` (also through `allOf: [{$ref}]`, as v3 documents write it) to the definition."""
    while schema is not None:
        ref = schema.get("$ref")
        if ref is None and len(schema.get("allOf", ())) == 1:
            ref = schema["allOf"][0].get("$ref")
        if not ref:
            return schema
        schema = definitions().get(ref[len(_REF_PREFIX):])
    return None


def property_schema(schema: Schema | None, name: str) -> Schema | None:
    """The schema of field `name` of an object schema, with its own list/patch extensions kept."""
    schema = resolve(schema)
    if schema is None:
        return None
    return schema.get("properties", {}).get(name)


def items_schema(schema: Schema | None) -> Schema | None:
    schema = resolve(schema)
    return schema.get("items") if schema else None


def map_values_schema(schema: Schema | None) -> Schema | None:
    """The value schema of a map (`additionalProperties`), or None if not a map."""
    schema = resolve(schema)
    if schema is None:
        return None
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None
