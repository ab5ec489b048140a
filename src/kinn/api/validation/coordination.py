"""coordination.k8s.io/v1 validation, as pkg/apis/coordination/validation (Lease)."""

from __future__ import annotations

from typing import Callable

from kinn.api import field
from kinn.api.field import ErrorList, Path
from kinn.api.validation import names
from kinn.api.validation.common import Obj, object_meta, object_meta_update

SPEC = Path("spec")


def validate_lease_spec(spec: Obj, path: Path) -> ErrorList:
    errs: ErrorList = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        errs.append(field.invalid(path.child("leaseDurationSeconds"), duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if transitions is not None and transitions < 0:
        errs.append(field.invalid(path.child("leaseTransitions"), transitions, "must be greater than or equal to 0"))
    return errs


def validate_lease(obj: Obj) -> ErrorList:
    return object_meta(obj, True, names.name_is_dns_subdomain) + validate_lease_spec(obj.get("spec") or {}, SPEC)


def validate_lease_update(new: Obj, old: Obj) -> ErrorList:
    return object_meta_update(new, old) + validate_lease_spec(new.get("spec") or {}, SPEC)


Check = Callable[..., ErrorList]

CREATE: dict[str, Check] = {"Lease": validate_lease}
UPDATE: dict[str, Check] = {"Lease": validate_lease_update}
STATUS_UPDATE: dict[str, Check] = {}
