"""discovery.k8s.io/v1 validation, as pkg/apis/discovery/validation (EndpointSlice)."""

from __future__ import annotations

import ipaddress
from typing import Callable

from kinn.api import field
from kinn.api.field import ErrorList, Path
from kinn.api.validation import meta, names
from kinn.api.validation.common import Obj, immutable, object_meta

ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100
MAX_PORTS = 20000
MAX_TOPOLOGY_LABELS = 16

# `ValidateEndpointIP`: addresses a proxy could never forward to usefully.
_SPECIAL_RANGES = (
    ("is_unspecified", "may not be unspecified (0.0.0.0, ::)"),
    ("is_loopback", "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
    ("is_link_local", "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
)
_LINK_LOCAL_MULTICAST_V4 = ipaddress.ip_network("224.0.0.0/24")


def _validate_address(address: str, address_type: str, path: Path) -> ErrorList:
    checks = {"IPv4": names.is_valid_ipv4_address, "IPv6": names.is_valid_ipv6_address}
    if address_type == "FQDN":
        return [field.invalid(path, address, msg) for msg in names.is_dns1123_subdomain(address)]
    if address_type not in checks:
        return []
    errors = checks[address_type](address)
    if errors:
        return [field.invalid(path, address, msg) for msg in errors]
    ip = names.parse_ip(address)
    errs = [field.invalid(path, address, msg) for attr, msg in _SPECIAL_RANGES if getattr(ip, attr)]
    if ip is not None and ip.is_multicast and (ip in _LINK_LOCAL_MULTICAST_V4 or ip.exploded.startswith("ff02")):
        errs.append(field.invalid(path, address, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errs


def validate_endpoints(endpoints: list[Obj], address_type: str, path: Path) -> ErrorList:
    if len(endpoints) > MAX_ENDPOINTS:
        return [field.too_many(path, len(endpoints), MAX_ENDPOINTS)]
    errs: ErrorList = []
    for i, endpoint in enumerate(endpoints):
        endpoint_path = path.index(i)
        addresses = endpoint.get("addresses") or []
        addresses_path = endpoint_path.child("addresses")
        if not addresses:
            errs.append(field.required(addresses_path, "must contain at least 1 address"))
        elif len(addresses) > MAX_ADDRESSES:
            errs.append(field.too_many(addresses_path, len(addresses), MAX_ADDRESSES))
        for j, address in enumerate(addresses):
            errs += _validate_address(address, address_type, addresses_path.index(j))
        node_name = endpoint.get("nodeName")
        if node_name is not None:
            errs += [field.invalid(endpoint_path.child("nodeName"), node_name, m) for m in names.name_is_dns_subdomain(node_name, False)]
        topology = endpoint.get("deprecatedTopology") or {}
        if len(topology) > MAX_TOPOLOGY_LABELS:
            errs.append(field.too_many(endpoint_path.child("deprecatedTopology"), len(topology), MAX_TOPOLOGY_LABELS))
        errs += meta.validate_labels(topology, endpoint_path.child("deprecatedTopology"))
        hostname = endpoint.get("hostname")
        if hostname is not None:
            errs += [field.invalid(endpoint_path.child("hostname"), hostname, m) for m in names.is_dns1123_label(hostname)]
    return errs


def validate_ports(ports: list[Obj], path: Path) -> ErrorList:
    if len(ports) > MAX_PORTS:
        return [field.too_many(path, len(ports), MAX_PORTS)]
    errs: ErrorList = []
    seen: set[str] = set()
    for i, port in enumerate(ports):
        port_path = path.index(i)
        name = port.get("name") or ""
        if name:
            errs += [field.invalid(port_path.child("name"), name, m) for m in names.is_dns1123_label(name)]
        if name in seen:
            errs.append(field.duplicate(port_path.child("name"), name))
        seen.add(name)
        protocol = port.get("protocol")
        if protocol is None:
            errs.append(field.required(port_path.child("protocol")))
        elif protocol not in PROTOCOLS:
            errs.append(field.not_supported(port_path.child("protocol"), protocol, PROTOCOLS))
        app_protocol = port.get("appProtocol")
        if app_protocol is not None:
            errs += meta.validate_label_name(app_protocol, port_path.child("appProtocol"))
    return errs


def validate_endpoint_slice(obj: Obj) -> ErrorList:
    errs = object_meta(obj, True, names.name_is_dns_subdomain)
    address_type = obj.get("addressType", "")
    if not address_type:
        errs.append(field.required(Path("addressType")))
    elif address_type not in ADDRESS_TYPES:
        errs.append(field.not_supported(Path("addressType"), address_type, ADDRESS_TYPES))
    errs += validate_endpoints(obj.get("endpoints") or [], address_type, Path("endpoints"))
    return errs + validate_ports(obj.get("ports") or [], Path("ports"))


def validate_endpoint_slice_update(new: Obj, old: Obj) -> ErrorList:
    """Consumers index slices by address family, so it is fixed for a slice's lifetime."""
    errs = validate_endpoint_slice(new)
    return errs + immutable(new.get("addressType"), old.get("addressType"), Path("addressType"))


Check = Callable[..., ErrorList]

CREATE: dict[str, Check] = {"EndpointSlice": validate_endpoint_slice}
UPDATE: dict[str, Check] = {"EndpointSlice": validate_endpoint_slice_update}
STATUS_UPDATE: dict[str, Check] = {}
