"""policy/v1 validation, as pkg/apis/policy/validation (PodDisruptionBudget).

The registry validates only the spec; the name gets the generic path-segment check every object
gets in `rest.BeforeCreate`.
"""

from __future__ import annotations

from typing import Callable

from kinn.api import field
from kinn.api.field import ErrorList, Path
from kinn.api.validation import gofmt, meta, names
from kinn.api.validation.common import (
    Obj,
    nonnegative,
    not_more_than_100_percent,
    object_meta,
    object_meta_update,
    positive_int_or_percent,
)

SPEC = Path("spec")
STATUS = Path("status")
UNHEALTHY_POD_EVICTION_POLICIES = ["AlwaysAllow", "IfHealthyBudget"]


def _spec_struct(spec: Obj) -> str:
    return gofmt.struct(
        "policy.PodDisruptionBudgetSpec",
        [
            ("MinAvailable", gofmt.pointer("intstr.IntOrString", spec.get("minAvailable"))),
            ("Selector", gofmt.pointer("v1.LabelSelector", spec.get("selector"))),
            ("MaxUnavailable", gofmt.pointer("intstr.IntOrString", spec.get("maxUnavailable"))),
            ("UnhealthyPodEvictionPolicy", gofmt.pointer("policy.UnhealthyPodEvictionPolicyType",
                                                         spec.get("unhealthyPodEvictionPolicy"))),
        ],
    )


def validate_pdb_spec(spec: Obj, path: Path) -> ErrorList:
    errs: ErrorList = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errs.append(gofmt.invalid(path, _spec_struct(spec), "minAvailable and maxUnavailable cannot be both set"))
    for name in ("minAvailable", "maxUnavailable"):
        if spec.get(name) is not None:
            errs += positive_int_or_percent(spec[name], path.child(name))
            errs += not_more_than_100_percent(spec[name], path.child(name))
    errs += meta.validate_label_selector(spec.get("selector"), path.child("selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in UNHEALTHY_POD_EVICTION_POLICIES:
        errs.append(field.not_supported(path.child("unhealthyPodEvictionPolicy"), policy, UNHEALTHY_POD_EVICTION_POLICIES))
    return errs


def validate_pdb(obj: Obj) -> ErrorList:
    return object_meta(obj, True, names.validate_path_segment_name) + validate_pdb_spec(obj.get("spec") or {}, SPEC)


def validate_pdb_update(new: Obj, old: Obj) -> ErrorList:
    return object_meta_update(new, old) + validate_pdb_spec(new.get("spec") or {}, SPEC)


def validate_pdb_status_update(new: Obj, old: Obj) -> ErrorList:
    status = new.get("status") or {}
    errs = object_meta_update(new, old)
    for name in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
        errs += nonnegative(status.get(name), STATUS.child(name))
    return errs


Check = Callable[..., ErrorList]

CREATE: dict[str, Check] = {"PodDisruptionBudget": validate_pdb}
UPDATE: dict[str, Check] = {"PodDisruptionBudget": validate_pdb_update}
STATUS_UPDATE: dict[str, Check] = {"PodDisruptionBudget": validate_pdb_status_update}
