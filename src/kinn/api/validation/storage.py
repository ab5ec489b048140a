"""storage.k8s.io/v1 validation, as pkg/apis/storage/validation (StorageClass)."""

from __future__ import annotations

from typing import Callable

from kinn.api import field
from kinn.api.field import ErrorList, Path
from kinn.api.validation import names
from kinn.api.validation.common import Obj, immutable, object_meta, object_meta_update

MAX_PROVISIONER_PARAMETER_COUNT = 512
MAX_PROVISIONER_PARAMETER_SIZE = 256 * 1024


def _validate_provisioner(provisioner: str, path: Path) -> ErrorList:
    if not provisioner:
        return [field.required(path)]
    return [field.invalid(path, provisioner.lower(), msg) for msg in names.is_qualified_name(provisioner.lower())]


def _validate_parameters(params: dict[str, str], path: Path) -> ErrorList:
    if len(params) > MAX_PROVISIONER_PARAMETER_COUNT:
        return [field.too_long(path, MAX_PROVISIONER_PARAMETER_COUNT)]
    errs = [field.invalid(path, key, "field can not be empty.") for key in params if not key]
    if sum(len(k) + len(v) for k, v in params.items()) > MAX_PROVISIONER_PARAMETER_SIZE:
        errs.append(field.too_long(path, MAX_PROVISIONER_PARAMETER_SIZE))
    return errs


def validate_storage_class(obj: Obj) -> ErrorList:
    errs = object_meta(obj, False, names.name_is_dns_subdomain)
    errs += _validate_provisioner(obj.get("provisioner", ""), Path("provisioner"))
    errs += _validate_parameters(obj.get("parameters") or {}, Path("parameters"))
    reclaim = obj.get("reclaimPolicy") or ""
    if reclaim and reclaim not in ("Delete", "Retain"):
        errs.append(field.not_supported(Path("reclaimPolicy"), reclaim, ["Delete", "Retain"]))
    mode = obj.get("volumeBindingMode")
    if mode is None:
        errs.append(field.required(Path("volumeBindingMode")))
    elif mode not in ("Immediate", "WaitForFirstConsumer"):
        errs.append(field.not_supported(Path("volumeBindingMode"), mode, ["Immediate", "WaitForFirstConsumer"]))
    return errs


def validate_storage_class_update(new: Obj, old: Obj) -> ErrorList:
    """Existing volumes were provisioned under the old settings; only metadata may change."""
    errs = object_meta_update(new, old)
    for name in ("parameters", "provisioner", "reclaimPolicy"):
        if new.get(name) != old.get(name):
            errs.append(field.forbidden(Path(name), f"updates to {name} are forbidden."))
    return errs + immutable(new.get("volumeBindingMode"), old.get("volumeBindingMode"), Path("volumeBindingMode"))


Check = Callable[..., ErrorList]

CREATE: dict[str, Check] = {"StorageClass": validate_storage_class}
UPDATE: dict[str, Check] = {"StorageClass": validate_storage_class_update}
STATUS_UPDATE: dict[str, Check] = {}
