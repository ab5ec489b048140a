"""The cluster's Ingresses as nginx servers, locations and upstreams (ingress-nginx's createServers,
createUpstreams and updateServerLocations), as a pure function of the informers' objects.

- Ingresses are taken oldest first: where two claim the same host and path, the older one wins.
- Every host starts with a root location to its Ingress's `spec.defaultBackend`, else to the
  default backend (nginx answers 404); a rule for `/` replaces it. An Ingress with a
  defaultBackend and no rules takes over the catch-all server `_`.
- Path types: Exact is `location = /p`. Prefix matches by path element, as the Ingress API
  defines it (`/foo` matches `/foo` and `/foo/bar`, not `/foobar`; a trailing slash is ignored): it
  becomes `location /foo/` plus `location = /foo` (unless an Exact rule has that path), so nginx's
  own rule — the longest matching prefix wins, an exact match before any — gives the Ingress
  API's precedence. ImplementationSpecific is treated as Prefix.
- TLS: a host listed in an Ingress's `tls` gets that Secret's certificate if it is valid for the
  host; a host of an Ingress with a `tls` section but no usable Secret for it gets the fake
  certificate (ingress-nginx#3258). Both redirect HTTP to HTTPS; every other host answers HTTPS with
  the fake certificate and does not redirect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from kinn.client.informer import object_key
from kinn.ingress import backends
from kinn.ingress.certificates import covers
from kinn.ingress.model import (DEFAULT_SERVER, DEFAULT_UPSTREAM, Certificate, Configuration, Location, Server,
                                Upstream)

Obj = dict[str, Any]
ROOT = "/"


@dataclass(frozen=True)
class ClusterObjects:
    """What the configuration depends on: this controller's Ingresses, and the Services,
    EndpointSlices (by Service key) and valid TLS certificates (by Secret key) they may refer to."""

    ingresses: Sequence[Obj]
    services: Mapping[str, Obj] = field(default_factory=dict)
    slices: Mapping[str, Sequence[Obj]] = field(default_factory=dict)
    certificates: Mapping[str, Certificate] = field(default_factory=dict)


@dataclass(frozen=True)
class _Rule:
    """One Ingress path before it becomes nginx locations: its normalised path and type."""

    path: str
    exact: bool
    location: Location
    is_default: bool = False


def build(objects: ClusterObjects, fake_certificate: Certificate) -> Configuration:
    ingresses = sorted(objects.ingresses, key=_age)
    rules: dict[str, dict[tuple[str, bool], _Rule]] = {DEFAULT_SERVER: {(ROOT, False): _root(DEFAULT_UPSTREAM)}}
    for ingress in ingresses:
        _add_servers(ingress, rules)
    for ingress in ingresses:
        for host, rule in _paths(ingress):
            _add_rule(rules[host], rule)
    certificates: dict[str, Certificate] = {}
    for ingress in ingresses:
        _assign_certificates(ingress, objects.certificates, fake_certificate, certificates)
    servers = tuple(Server(host, _locations(rules[host]), certificates.get(host))
                    for host in sorted(rules, key=lambda h: (h != DEFAULT_SERVER, h)))
    return Configuration(servers, _upstreams(ingresses, servers, objects), fake_certificate)


def _age(ingress: Obj) -> tuple[str, str]:
    """Oldest first; the same second, by namespace/name (ingress-nginx's ListIngresses order)."""
    return ingress["metadata"].get("creationTimestamp") or "", object_key(ingress)


def _root(upstream: str, ingress: str = "", service: Obj | None = None) -> _Rule:
    service = service or {}
    return _Rule(ROOT, False, Location(ROOT, False, upstream, ingress, service.get("name", ""),
                                       backends.backend_port(service) if service else ""), is_default=True)


def _default_backend(ingress: Obj) -> Obj | None:
    return ((ingress.get("spec") or {}).get("defaultBackend") or {}).get("service")


def _upstream_of(ingress: Obj, service: Obj | None) -> str:
    return backends.upstream_name(ingress["metadata"]["namespace"], service) if service else DEFAULT_UPSTREAM


def _add_servers(ingress: Obj, rules: dict[str, dict[tuple[str, bool], _Rule]]) -> None:
    """A server per new host, its root location to the Ingress's defaultBackend (or the default
    backend); an Ingress with a defaultBackend and no rules configures the catch-all server."""
    spec = ingress.get("spec") or {}
    default = _default_backend(ingress)
    root = _root(_upstream_of(ingress, default), object_key(ingress), default)
    catch_all = rules[DEFAULT_SERVER]
    if default and not spec.get("rules") and catch_all[(ROOT, False)].is_default:
        catch_all[(ROOT, False)] = _Rule(ROOT, False, root.location)
    for rule in spec.get("rules") or []:
        rules.setdefault(rule.get("host") or DEFAULT_SERVER, {(ROOT, False): root})


def _paths(ingress: Obj) -> list[tuple[str, _Rule]]:
    """(host, rule) for each path with a Service backend (other backends are left to the default)."""
    found = []
    for rule in (ingress.get("spec") or {}).get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            service = (path.get("backend") or {}).get("service")
            if not service:
                continue
            exact = path.get("pathType") == "Exact"
            value = path.get("path") or ROOT
            normalised = value if exact else value.rstrip("/") or ROOT
            location = Location(normalised, exact, _upstream_of(ingress, service), object_key(ingress),
                                service["name"], backends.backend_port(service))
            found.append((rule.get("host") or DEFAULT_SERVER, _Rule(normalised, exact, location)))
    return found


def _add_rule(server: dict[tuple[str, bool], _Rule], rule: _Rule) -> None:
    """The first Ingress to claim a path keeps it; only a default root location gives way."""
    existing = server.get((rule.path, rule.exact))
    if existing is None or existing.is_default:
        server[(rule.path, rule.exact)] = rule


def _locations(rules: dict[tuple[str, bool], _Rule]) -> tuple[Location, ...]:
    """nginx locations, longest path first: a Prefix path `/p` is `location /p/` and `location = /p`."""
    locations = []
    for (path, exact), rule in rules.items():
        if exact or path == ROOT:
            locations.append(rule.location)
            continue
        locations.append(_with_path(rule.location, path + "/", False))
        if (path, True) not in rules:
            locations.append(_with_path(rule.location, path, True))
    return tuple(sorted(locations, key=lambda loc: (loc.path, loc.exact), reverse=True))


def _with_path(location: Location, path: str, exact: bool) -> Location:
    return Location(path, exact, location.upstream, location.ingress, location.service, location.port)


def _assign_certificates(ingress: Obj, valid: Mapping[str, Certificate], fake: Certificate,
                         certificates: dict[str, Certificate]) -> None:
    """Each host of an Ingress with a TLS section, not yet served with a certificate, gets its Secret's
    if that covers the host, else the fake one (ingress-nginx's createServers; the catch-all server
    keeps the default certificate)."""
    spec = ingress.get("spec") or {}
    if not spec.get("tls"):
        return
    for rule in spec.get("rules") or []:
        host = rule.get("host") or DEFAULT_SERVER
        if host in certificates or host == DEFAULT_SERVER:
            continue
        secret = _tls_secret_name(host, ingress, valid)
        certificate = valid.get(f"{ingress['metadata']['namespace']}/{secret}") if secret else None
        certificates[host] = certificate if certificate is not None and covers(certificate, host) else fake


def _tls_secret_name(host: str, ingress: Obj, valid: Mapping[str, Certificate]) -> str:
    """The Secret of the TLS entry listing `host`, else of any entry whose certificate covers it."""
    tls = ingress["spec"]["tls"]
    for entry in tls:
        if host.lower() in (name.lower() for name in entry.get("hosts") or []):
            return entry.get("secretName") or ""
    namespace = ingress["metadata"]["namespace"]
    for entry in tls:
        certificate = valid.get(f"{namespace}/{entry.get('secretName')}")
        if entry.get("secretName") and certificate is not None and covers(certificate, host):
            return entry["secretName"]
    return ""


def _upstreams(ingresses: list[Obj], servers: tuple[Server, ...], objects: ClusterObjects) -> tuple[Upstream, ...]:
    """An upstream for each Service port some location proxies to, with its ready endpoints."""
    used = {location.upstream for server in servers for location in server.locations} - {DEFAULT_UPSTREAM}
    references: dict[str, tuple[str, Obj]] = {}
    for ingress in ingresses:
        namespace = ingress["metadata"]["namespace"]
        for service in _backend_services(ingress):
            references.setdefault(backends.upstream_name(namespace, service), (namespace, service))
    upstreams = []
    for name in sorted(used):
        namespace, service = references[name]
        key = f"{namespace}/{service['name']}"
        upstreams.append(Upstream(name, backends.endpoints(objects.services.get(key), backends.backend_port(service),
                                                           objects.slices.get(key, ()))))
    return tuple(upstreams)


def _backend_services(ingress: Obj) -> list[Obj]:
    spec = ingress.get("spec") or {}
    found = [service] if (service := _default_backend(ingress)) else []
    for rule in spec.get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            if service := (path.get("backend") or {}).get("service"):
                found.append(service)
    return found
