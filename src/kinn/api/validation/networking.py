"""networking.k8s.io/v1 validation, as pkg/apis/networking/validation (Ingress, IngressClass,
NetworkPolicy)."""

from __future__ import annotations

from typing import Any, Callable

from kinn.api import field
from kinn.api.field import ErrorList, Path
from kinn.api.validation import meta, names
from kinn.api.validation.common import Obj, immutable, object_meta, object_meta_update

SPEC = Path("spec")
PROTOCOLS = ["TCP", "UDP", "SCTP"]
PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]
INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
INVALID_PATH_SUFFIXES = ("/..", "/.")
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
DEFAULT_INGRESS_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
MAX_INGRESS_CLASS_CONTROLLER_LENGTH = 250


def _msgs(path: Path, value: Any, messages: list[str]) -> ErrorList:
    return [field.invalid(path, value, msg) for msg in messages]


# NetworkPolicy


def validate_network_policy_port(port: Obj, path: Path) -> ErrorList:
    errs: ErrorList = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in PROTOCOLS:
        errs.append(field.not_supported(path.child("protocol"), protocol, PROTOCOLS))
    number, end = port.get("port"), port.get("endPort")
    if isinstance(number, int):
        errs += _msgs(path.child("port"), number, names.is_valid_port_num(number))
        if end is not None:
            if end < number:
                errs.append(field.invalid(path.child("endPort"), number, "must be greater than or equal to `port`"))
            errs += _msgs(path.child("endPort"), end, names.is_valid_port_num(end))
    elif number is not None:
        if end is not None:
            errs.append(field.invalid(path.child("endPort"), end, "may not be specified when `port` is non-numeric"))
        errs += _msgs(path.child("port"), number, names.is_valid_port_name(number))
    elif end is not None:
        errs.append(field.invalid(path.child("endPort"), end, "may not be specified when `port` is not specified"))
    return errs


def validate_ip_block(block: Obj, path: Path) -> ErrorList:
    cidr = block.get("cidr", "")
    if not cidr:
        return [field.required(path.child("cidr"))]
    errs = _msgs(path.child("cidr"), cidr, names.is_valid_cidr(cidr))
    network = names.parse_cidr(cidr)
    if network is None:
        return errs
    for i, except_cidr in enumerate(block.get("except") or []):
        except_path = path.child("except").index(i)
        errs += _msgs(except_path, except_cidr, names.is_valid_cidr(except_cidr))
        excluded = names.parse_cidr(except_cidr)
        if excluded is None:
            continue
        strict_subset = excluded.version == network.version and excluded.network_address in network and (
            network.prefixlen < excluded.prefixlen
        )
        if not strict_subset:
            errs.append(field.invalid(except_path, except_cidr, "must be a strict subset of `cidr`"))
    return errs


def validate_network_policy_peer(peer: Obj, path: Path) -> ErrorList:
    errs: ErrorList = []
    for name in ("podSelector", "namespaceSelector"):
        if peer.get(name) is not None:
            errs += meta.validate_label_selector(peer[name], path.child(name))
    if peer.get("ipBlock") is not None:
        errs += validate_ip_block(peer["ipBlock"], path.child("ipBlock"))
    count = sum(peer.get(name) is not None for name in ("podSelector", "namespaceSelector", "ipBlock"))
    if count == 0:
        errs.append(field.required(path, "must specify a peer"))
    elif count > 1 and peer.get("ipBlock") is not None:
        errs.append(field.forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_network_policy_spec(spec: Obj, path: Path) -> ErrorList:
    errs = meta.validate_label_selector(spec.get("podSelector") or {}, path.child("podSelector"))
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(spec.get(direction) or []):
            rule_path = path.child(direction).index(i)
            for j, port in enumerate(rule.get("ports") or []):
                errs += validate_network_policy_port(port, rule_path.child("ports").index(j))
            for j, peer in enumerate(rule.get(peers) or []):
                errs += validate_network_policy_peer(peer, rule_path.child(peers).index(j))
    types = spec.get("policyTypes") or []
    if len(types) > 2:
        return errs + [field.invalid(path.child("policyTypes"), types, "may not specify more than two policyTypes")]
    for i, kind in enumerate(types):
        if kind not in ("Ingress", "Egress"):
            errs.append(field.not_supported(path.child("policyTypes").index(i), kind, ["Ingress", "Egress"]))
    return errs


def validate_network_policy(obj: Obj) -> ErrorList:
    return object_meta(obj, True, names.name_is_dns_subdomain) + validate_network_policy_spec(obj.get("spec") or {}, SPEC)


def validate_network_policy_update(new: Obj, old: Obj) -> ErrorList:
    return object_meta_update(new, old) + validate_network_policy_spec(new.get("spec") or {}, SPEC)


# Ingress


def _validate_host(host: str, path: Path) -> ErrorList:
    errs: ErrorList = []
    if names.parse_ip(host) is not None:
        errs.append(field.invalid(path, host, "must be a DNS name, not an IP address"))
    check = names.is_wildcard_dns1123_subdomain if "*" in host else names.is_dns1123_subdomain
    return errs + _msgs(path, host, check(host))


def validate_ingress_backend(backend: Obj, path: Path) -> ErrorList:
    resource, service = backend.get("resource"), backend.get("service")
    if resource is not None and service is not None:
        return [field.invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return _validate_typed_reference(resource, path.child("resource"))
    if service is None:
        return [field.invalid(path, "", "resource or service backend is required")]
    errs: ErrorList = []
    name = service.get("name", "")
    if not name:
        errs.append(field.required(path.child("service", "name")))
    else:
        errs += _msgs(path.child("service", "name"), name, names.name_is_dns1035_label(name, False))
    port = service.get("port") or {}
    port_name, number = port.get("name", ""), port.get("number", 0)
    if port_name and number:
        errs.append(field.invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        errs += _msgs(path.child("service", "port", "name"), port_name, names.is_valid_port_name(port_name))
    elif number:
        errs += _msgs(path.child("service", "port", "number"), number, names.is_valid_port_num(number))
    else:
        errs.append(field.required(path, "port name or number is required"))
    return errs


def _validate_http_path(http_path: Obj, path: Path) -> ErrorList:
    kind = http_path.get("pathType")
    if kind is None:
        return [field.required(path.child("pathType"), "pathType must be specified")]
    value = http_path.get("path", "")
    value_path = path.child("path")
    errs: ErrorList = []
    if kind in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(field.invalid(value_path, value, "must be an absolute path"))
        errs += [field.invalid(value_path, value, f"must not contain '{s}'") for s in INVALID_PATH_SEQUENCES if s in value]
        errs += [field.invalid(value_path, value, f"cannot end with '{s}'") for s in INVALID_PATH_SUFFIXES if value.endswith(s)]
    elif kind == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(field.invalid(value_path, value, "must be an absolute path"))
    else:
        errs.append(field.not_supported(path.child("pathType"), kind, PATH_TYPES))
    return errs + validate_ingress_backend(http_path.get("backend") or {}, path.child("backend"))


def validate_ingress_rules(rules: list[Obj], path: Path) -> ErrorList:
    errs: ErrorList = []
    for i, rule in enumerate(rules):
        rule_path = path.index(i)
        if rule.get("host"):
            errs += _validate_host(rule["host"], rule_path.child("host"))
        http = rule.get("http")
        if http is not None:
            paths = http.get("paths") or []
            if not paths:
                errs.append(field.required(rule_path.child("http", "paths")))
            for j, http_path in enumerate(paths):
                errs += _validate_http_path(http_path, rule_path.child("http", "paths").index(j))
    return errs


def _validate_tls(tls: list[Obj], path: Path) -> ErrorList:
    errs: ErrorList = []
    for i, entry in enumerate(tls):
        for j, host in enumerate(entry.get("hosts") or []):
            check = names.is_wildcard_dns1123_subdomain if "*" in host else names.is_dns1123_subdomain
            errs += _msgs(path.index(i).child("hosts").index(j), host, check(host))
        secret = entry.get("secretName", "")
        if secret:
            errs += _msgs(path.index(i).child("secretName"), secret, names.name_is_dns_subdomain(secret, False))
    return errs


def validate_ingress_spec(spec: Obj, path: Path) -> ErrorList:
    errs: ErrorList = []
    rules = spec.get("rules") or []
    if not rules and spec.get("defaultBackend") is None:
        errs.append(field.invalid(path, None, "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        errs += validate_ingress_backend(spec["defaultBackend"], path.child("defaultBackend"))
    errs += validate_ingress_rules(rules, path.child("rules"))
    errs += _validate_tls(spec.get("tls") or [], path.child("tls"))
    class_name = spec.get("ingressClassName")
    if class_name is not None:
        errs += _msgs(path.child("ingressClassName"), class_name, names.name_is_dns_subdomain(class_name, False))
    return errs


def validate_ingress(obj: Obj) -> ErrorList:
    errs = object_meta(obj, True, names.name_is_dns_subdomain) + validate_ingress_spec(obj.get("spec") or {}, SPEC)
    annotation = ((obj.get("metadata") or {}).get("annotations") or {}).get(INGRESS_CLASS_ANNOTATION)
    class_name = (obj.get("spec") or {}).get("ingressClassName")
    if annotation is not None and class_name is not None and annotation != class_name:
        errs.append(
            field.invalid(
                Path("annotations").child(INGRESS_CLASS_ANNOTATION),
                annotation,
                "must match `ingressClassName` when both are specified",
            )
        )
    return errs


def validate_ingress_update(new: Obj, old: Obj) -> ErrorList:
    return object_meta_update(new, old) + validate_ingress_spec(new.get("spec") or {}, SPEC)


def validate_ingress_status_update(new: Obj, old: Obj) -> ErrorList:
    errs = object_meta_update(new, old)
    path = Path("status", "loadBalancer", "ingress")
    for i, entry in enumerate(((new.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []):
        if entry.get("ip"):
            errs += _msgs(path.index(i).child("ip"), entry["ip"], names.is_valid_ip(entry["ip"]))
        if entry.get("hostname"):
            hostname = entry["hostname"]
            errs += _msgs(path.index(i).child("hostname"), hostname, names.is_dns1123_subdomain(hostname))
            if names.parse_ip(hostname) is not None:
                errs.append(field.invalid(path.index(i).child("hostname"), hostname, "must be a DNS name, not an IP address"))
    return errs


# IngressClass


def _validate_typed_reference(ref: Obj, path: Path) -> ErrorList:
    errs: ErrorList = []
    if ref.get("apiGroup") is not None:
        errs += _msgs(path.child("apiGroup"), ref["apiGroup"], names.is_dns1123_subdomain(ref["apiGroup"]))
    for name in ("kind", "name"):
        value = ref.get(name, "")
        if not value:
            errs.append(field.required(path.child(name), f"{name} is required"))
        else:
            errs += _msgs(path.child(name), value, names.validate_path_segment_name(value, False))
    return errs


def _validate_ingress_class_parameters(params: Obj | None, path: Path) -> ErrorList:
    if params is None:
        return []
    errs = _validate_typed_reference(params, path)
    scope = params.get("scope")
    if scope is None:
        return errs + [field.required(path.child("scope"))]
    if scope not in ("Cluster", "Namespace"):
        return errs + [field.not_supported(path.child("scope"), scope, ["Cluster", "Namespace"])]
    namespace = params.get("namespace")
    if scope == "Namespace":
        if namespace is None:
            errs.append(field.required(path.child("namespace"), "`parameters.scope` is set to 'Namespace'"))
        else:
            errs += _msgs(path.child("namespace"), namespace, names.name_is_dns_label(namespace, False))
    elif namespace is not None:
        errs.append(field.forbidden(path.child("namespace"), "`parameters.scope` is set to 'Cluster'"))
    return errs


def validate_ingress_class(obj: Obj) -> ErrorList:
    spec = obj.get("spec") or {}
    errs = object_meta(obj, False, names.name_is_dns_subdomain)
    controller = spec.get("controller", "")
    if len(controller) > MAX_INGRESS_CLASS_CONTROLLER_LENGTH:
        errs.append(field.too_long(SPEC.child("controller"), MAX_INGRESS_CLASS_CONTROLLER_LENGTH))
    errs += _validate_domain_prefixed_path(controller, SPEC.child("controller"))
    return errs + _validate_ingress_class_parameters(spec.get("parameters"), SPEC.child("parameters"))


def _validate_domain_prefixed_path(value: str, path: Path) -> ErrorList:
    """`IsDomainPrefixedPath`: `example.com/ingress-controller`."""
    if not value:
        return [field.required(path)]
    domain, slash, rest = value.partition("/")
    if not slash or not domain:
        return [field.invalid(path, value, "must be a domain-prefixed path (such as \"acme.io/foo\")")]
    return _msgs(path, domain, names.is_dns1123_subdomain(domain))


def validate_ingress_class_update(new: Obj, old: Obj) -> ErrorList:
    errs = object_meta_update(new, old)
    controller_path = SPEC.child("controller")
    errs += immutable((new.get("spec") or {}).get("controller"), (old.get("spec") or {}).get("controller"), controller_path)
    return errs + validate_ingress_class(new)


Check = Callable[..., ErrorList]

CREATE: dict[str, Check] = {
    "NetworkPolicy": validate_network_policy,
    "Ingress": validate_ingress,
    "IngressClass": validate_ingress_class,
}
UPDATE: dict[str, Check] = {
    "NetworkPolicy": validate_network_policy_update,
    "Ingress": validate_ingress_update,
    "IngressClass": validate_ingress_class_update,
}
STATUS_UPDATE: dict[str, Check] = {"Ingress": validate_ingress_status_update}
