"""Discovery: /version, /api, /apis and the per-group-version resource lists.

kubectl 1.32 asks for aggregated discovery (apidiscovery.k8s.io/v2) first; the Python
DynamicClient and older clients use the legacy APIVersions / APIGroupList / APIResourceList.
Both are built from the one resource table.
"""

from __future__ import annotations

import base64
import hashlib
import platform
from functools import lru_cache
from typing import Any

from kinn import KUBERNETES_MAJOR, KUBERNETES_MINOR, __version__
from kinn.api.resources import TABLE, Resource

Obj = dict[str, Any]


def version_info() -> Obj:
    return {
        "major": KUBERNETES_MAJOR,
        "minor": KUBERNETES_MINOR,
        "gitVersion": f"v{KUBERNETES_MAJOR}.{KUBERNETES_MINOR}.0-kinn.{__version__}",
        "gitCommit": "kinn",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": "linux/amd64",
    }


def _groups() -> list[str]:
    seen: dict[str, None] = {}
    for group, _ in TABLE.group_versions():
        if group:
            seen.setdefault(group)
    return list(seen)


def _versions(group: str) -> list[str]:
    return [v for g, v in TABLE.group_versions() if g == group]


def _group_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def api_versions(server_address: str) -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group(group: str) -> Obj:
    versions = [{"groupVersion": _group_version(group, v), "version": v} for v in _versions(group)]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions,
            "preferredVersion": versions[0]}


def api_group_list() -> Obj:
    groups = [api_group(g) for g in _groups()]
    for g in groups:
        del g["kind"], g["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _verbs(resource: Resource) -> list[str]:
    return sorted(resource.verbs)


def api_resource_list(group: str, version: str) -> Obj | None:
    resources = TABLE.in_group_version(group, version)
    if not resources:
        return None
    entries: list[Obj] = []
    for r in sorted(resources, key=lambda r: r.plural):
        entry: Obj = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                      "verbs": _verbs(r)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        if set(r.verbs) != {"create"}:  # bindings and reviews are never stored: no storage version
            entry["storageVersionHash"] = _storage_hash(r)
        entries.append(entry)
        for sub in r.subresources:
            entries.append(_legacy_subresource(r, sub))
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": _group_version(group, version),
            "resources": entries}


def _subresource_kind(resource: Resource, sub: str) -> tuple[str, str, str]:
    """(group, version, kind) a subresource speaks, as upstream registers them."""
    if sub == "scale":
        return ("autoscaling", "v1", "Scale")
    if sub == "binding":
        return ("", "v1", "Binding")
    if sub == "eviction":
        return ("policy", "v1", "Eviction")
    if sub == "token":
        return ("authentication.k8s.io", "v1", "TokenRequest")
    if sub in ("attach", "exec", "portforward", "proxy"):
        return ("", "v1", {"attach": "PodAttachOptions", "exec": "PodExecOptions",
                           "portforward": "PodPortForwardOptions", "proxy": f"{resource.kind}ProxyOptions"}[sub])
    return (resource.group, resource.version, resource.kind)


def _subresource_verbs(sub: str) -> list[str]:
    return {
        "status": ["get", "patch", "update"], "scale": ["get", "patch", "update"], "binding": ["create"],
        "ephemeralcontainers": ["get", "patch", "update"],
        "eviction": ["create"], "log": ["get"], "finalize": ["update"], "token": ["create"],
        "exec": ["create", "get"], "attach": ["create", "get"], "portforward": ["create", "get"],
        "proxy": ["create", "delete", "get", "head", "options", "patch", "update"],
    }.get(sub, ["get"])


def _legacy_subresource(r: Resource, sub: str) -> Obj:
    group, version, kind = _subresource_kind(r, sub)
    entry: Obj = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced, "kind": kind,
                  "verbs": _subresource_verbs(sub)}
    if (group, version) != (r.group, r.version):
        entry["group"], entry["version"] = group, version
    return entry


def _storage_hash(r: Resource) -> str:
    """Upstream hashes the storage version; clients only compare it for changes."""
    digest = hashlib.sha256(f"{r.group}/{r.version}/{r.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


@lru_cache(maxsize=None)
def aggregated(prefix: str) -> Obj:
    """APIGroupDiscoveryList for `/api` (prefix "api") or `/apis`."""
    groups = [""] if prefix == "api" else _groups()
    items = []
    for group in groups:
        versions = []
        for version in _versions(group):
            versions.append({
                "version": version,
                "resources": [_aggregated_resource(r) for r in sorted(TABLE.in_group_version(group, version),
                                                                        key=lambda r: r.plural)],
                "freshness": "Current",
            })
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": versions})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}


def _aggregated_resource(r: Resource) -> Obj:
    entry: Obj = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": _verbs(r),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    if r.subresources:
        subs = []
        for sub in r.subresources:
            group, version, kind = _subresource_kind(r, sub)
            subs.append({"subresource": sub, "responseKind": {"group": group, "version": version, "kind": kind},
                         "verbs": _subresource_verbs(sub)})
        entry["subresources"] = subs
    return entry
