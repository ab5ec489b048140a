"""scheduling.k8s.io/v1 validation, as pkg/apis/scheduling/validation (PriorityClass)."""

from __future__ import annotations

from typing import Callable

from kinn.api import field
from kinn.api.field import ErrorList, Path
from kinn.api.validation import names
from kinn.api.validation.common import Obj, immutable, object_meta, object_meta_update

SYSTEM_PREFIX = "system-"
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
# The built-in classes a `system-` name may only refer to: name → value (neither is a global default).
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2_000_001_000, "system-cluster-critical": 2_000_000_000}


def _system_class_error(name: str, value: int, global_default: bool) -> str | None:
    """`IsKnownSystemPriorityClass`."""
    if name not in SYSTEM_PRIORITY_CLASSES:
        return f"{name} is not a known system priority class"
    if value != SYSTEM_PRIORITY_CLASSES[name]:
        return f"value of {name} PriorityClass must be {SYSTEM_PRIORITY_CLASSES[name]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return None


def validate_priority_class(obj: Obj) -> ErrorList:
    errs = object_meta(obj, False, names.name_is_dns_subdomain)
    name = (obj.get("metadata") or {}).get("name", "")
    value = obj.get("value", 0)
    if name.startswith(SYSTEM_PREFIX):
        error = _system_class_error(name, value, bool(obj.get("globalDefault")))
        if error:
            errs.append(
                field.forbidden(
                    Path("metadata", "name"),
                    f"priority class names with '{SYSTEM_PREFIX}' prefix are reserved for system use only. error: {error}",
                )
            )
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.append(
            field.forbidden(
                Path("value"), f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"
            )
        )
    policy = obj.get("preemptionPolicy")
    if policy is not None and policy not in ("PreemptLowerPriority", "Never"):
        errs.append(field.not_supported(Path("preemptionPolicy"), policy, ["PreemptLowerPriority", "Never"]))
    return errs


def validate_priority_class_update(new: Obj, old: Obj) -> ErrorList:
    """Pods copy the value at admission, so changing it later would silently disagree with them."""
    errs = object_meta_update(new, old)
    if new.get("value", 0) != old.get("value", 0):
        errs.append(field.forbidden(Path("value"), "may not be changed in an update."))
    return errs + immutable(new.get("preemptionPolicy"), old.get("preemptionPolicy"), Path("preemptionPolicy"))


Check = Callable[..., ErrorList]

CREATE: dict[str, Check] = {"PriorityClass": validate_priority_class}
UPDATE: dict[str, Check] = {"PriorityClass": validate_priority_class_update}
STATUS_UPDATE: dict[str, Check] = {}
