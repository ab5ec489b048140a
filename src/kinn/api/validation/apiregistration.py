"""apiregistration.k8s.io/v1 validation, as kube-aggregator's pkg/apis/apiregistration/validation."""

from __future__ import annotations

from typing import Callable

from kinn.api import field
from kinn.api.field import ErrorList, Path
from kinn.api.validation import names
from kinn.api.validation.common import Obj, object_meta, object_meta_update

SPEC = Path("spec")


def _api_service_name(spec: Obj) -> Callable[[str, bool], list[str]]:
    """An APIService is named `<version>.<group>`, so the name says what it serves."""
    required = f"{spec.get('version', '')}.{spec.get('group', '')}"

    def validate(name: str, prefix: bool) -> list[str]:
        failures = names.validate_path_segment_name(name, prefix)
        if failures:
            return failures
        return [] if name == required else [f'must be `spec.version+"."+spec.group`: "{required}"']

    return validate


def validate_api_service(obj: Obj) -> ErrorList:
    spec = obj.get("spec") or {}
    errs = object_meta(obj, False, _api_service_name(spec))
    group, version = spec.get("group", ""), spec.get("version", "")
    if not group and version != "v1":
        errs.append(field.required(SPEC.child("group"), "only v1 may have an empty group and it better be legacy kube"))
    if group:
        errs += [field.invalid(SPEC.child("group"), group, msg) for msg in names.is_dns1123_subdomain(group)]
    errs += [field.invalid(SPEC.child("version"), version, msg) for msg in names.is_dns1035_label(version)]
    group_priority = spec.get("groupPriorityMinimum", 0)
    if not 0 < group_priority <= 20000:
        errs.append(field.invalid(SPEC.child("groupPriorityMinimum"), group_priority, "must be positive and less than 20000"))
    version_priority = spec.get("versionPriority", 0)
    if not 0 < version_priority <= 1000:
        errs.append(field.invalid(SPEC.child("versionPriority"), version_priority, "must be positive and less than 1000"))
    return errs + _validate_service(spec)


def _validate_service(spec: Obj) -> ErrorList:
    """A local APIService (no service) is served by kube-apiserver itself and needs no TLS settings."""
    service, ca_bundle, insecure = spec.get("service"), spec.get("caBundle", ""), bool(spec.get("insecureSkipTLSVerify"))
    errs: ErrorList = []
    if service is None:
        if ca_bundle:
            # caBundle is base64 in JSON; upstream reports the decoded length.
            size = len(ca_bundle) * 3 // 4 - ca_bundle.count("=")
            errs.append(field.invalid(SPEC.child("caBundle"), f"{size} bytes", "local APIServices may not have a caBundle"))
        if insecure:
            errs.append(field.invalid(SPEC.child("insecureSkipTLSVerify"), True, "local APIServices may not have insecureSkipTLSVerify"))
        return errs
    service_path = SPEC.child("service")
    for name in ("namespace", "name"):
        if not service.get(name):
            errs.append(field.required(service_path.child(name)))
    port = service.get("port", 0)
    port_errors = names.is_valid_port_num(port)
    if port_errors:
        errs.append(field.invalid(service_path.child("port"), port, "port is not valid: " + ", ".join(port_errors)))
    if insecure and ca_bundle:
        errs.append(field.invalid(SPEC.child("insecureSkipTLSVerify"), True, "may not be true if caBundle is present"))
    return errs


Check = Callable[..., ErrorList]

CREATE: dict[str, Check] = {"APIService": validate_api_service}
UPDATE: dict[str, Check] = {"APIService": lambda new, old: object_meta_update(new, old) + validate_api_service(new)}
STATUS_UPDATE: dict[str, Check] = {"APIService": lambda new, old: object_meta_update(new, old)}
