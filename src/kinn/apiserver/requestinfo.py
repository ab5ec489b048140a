"""Turn a URL and method into what is being asked (k8s.io/apiserver/pkg/endpoints/request.RequestInfo).

Every resource request has the same shape, so one resolver serves all routes:
`/api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]` and the same under
`/apis/{group}/{version}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from kinn.api import errors

_VERB_BY_METHOD = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True)
class RequestInfo:
    is_resource_request: bool
    path: str
    verb: str = ""
    api_prefix: str = ""  # "api" or "apis"
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


# `/namespaces/{name}/status` and `/finalize` address the namespace itself, not a resource in it.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})

def resolve(method: str, path: str, query: dict[str, str]) -> RequestInfo:
    parts = [p for p in path.strip("/").split("/") if p]
    non_resource = RequestInfo(False, path, verb=method.lower())
    if not parts or parts[0] not in ("api", "apis"):
        return non_resource
    prefix, rest = parts[0], parts[1:]
    if prefix == "api":
        if len(rest) < 2:
            return non_resource
        group, version, rest = "", rest[0], rest[1:]
    else:
        if len(rest) < 3:
            return non_resource
        group, version, rest = rest[0], rest[1], rest[2:]

    watch_path = bool(rest) and rest[0] == "watch"  # the deprecated /watch/ prefix
    if watch_path:
        rest = rest[1:]
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in _NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    elif len(rest) >= 2 and rest[0] == "namespaces" and not watch_path:
        # /api/v1/namespaces/{name}: the namespace object itself is the resource.
        namespace = rest[1]
    if not rest:
        return non_resource
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = "/".join(rest[2:])

    if method == "GET" or method == "HEAD":
        watching = watch_path or query.get("watch") in ("true", "1")
        verb = "watch" if watching else ("get" if name else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = _VERB_BY_METHOD.get(method, method.lower())
    return RequestInfo(True, path, verb, prefix, group, version, namespace, resource, subresource, name)


def int_parameter(query: Mapping[str, str], name: str) -> int | None:
    """An integer query parameter (`limit`, `timeoutSeconds`, `gracePeriodSeconds`), or None if
    absent. What is not one is a 400 worded as the parameter codec's strconv failure, not a 500."""
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value, 10)
    except ValueError:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None
