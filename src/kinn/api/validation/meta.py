"""ObjectMeta, labels, annotations and label selectors, as k8s.io/apimachinery/pkg/api/validation
and pkg/apis/meta/v1/validation.

Every kind's validation starts here. Maps are walked in sorted key order so that the error list,
which upstream builds from Go's random map order, is at least stable for clients and tests.
"""

from __future__ import annotations

from typing import Any, Mapping

from kinn.api import field
from kinn.api.field import ErrorList, Path
from kinn.api.validation.names import NameValidator, is_qualified_name, is_valid_label_value, name_is_dns_label

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
FIELD_IMMUTABLE = "field is immutable"

_FINALIZER_ORPHAN = "orphan"
_FINALIZER_DELETE_DEPENDENTS = "foregroundDeletion"
# Owners that would be garbage collected too eagerly to own anything (upstream `BannedOwners`).
_BANNED_OWNERS = {("v1", "Event")}

Obj = Mapping[str, Any]


def validate_immutable_field(new: Any, old: Any, path: Path) -> ErrorList:
    return [] if new == old else [field.invalid(path, new, FIELD_IMMUTABLE)]


def validate_nonnegative_field(value: int, path: Path) -> ErrorList:
    return [field.invalid(path, value, "must be greater than or equal to 0")] if value < 0 else []


def validate_label_name(name: str, path: Path) -> ErrorList:
    return [field.invalid(path, name, msg) for msg in is_qualified_name(name)]


def validate_labels(labels: Mapping[str, str] | None, path: Path) -> ErrorList:
    """Keys are qualified names, values label values; errors point at the map, not the key."""
    errs: ErrorList = []
    for key in sorted(labels or {}):
        errs += validate_label_name(key, path)
        errs += [field.invalid(path, labels[key], msg) for msg in is_valid_label_value(labels[key])]
    return errs


def validate_annotations(annotations: Mapping[str, str] | None, path: Path) -> ErrorList:
    """Keys are qualified names in any case; all keys and values together fit in 256 KiB."""
    annotations = annotations or {}
    errs: ErrorList = []
    for key in sorted(annotations):
        errs += [field.invalid(path, key, msg) for msg in is_qualified_name(key.lower())]
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(field.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def _validate_owner_reference(ref: Obj, path: Path) -> ErrorList:
    errs: ErrorList = []
    api_version = ref.get("apiVersion", "")
    version = api_version.rsplit("/", 1)[-1]
    kind = ref.get("kind", "")
    if not version:
        errs.append(field.invalid(path.child("apiVersion"), api_version, "version must not be empty"))
    if not kind:
        errs.append(field.invalid(path.child("kind"), kind, "kind must not be empty"))
    if not ref.get("name"):
        errs.append(field.invalid(path.child("name"), ref.get("name", ""), "name must not be empty"))
    if not ref.get("uid"):
        errs.append(field.invalid(path.child("uid"), ref.get("uid", ""), "uid must not be empty"))
    if (api_version, kind) in _BANNED_OWNERS:
        errs.append(field.invalid(path, dict(ref), f"/{api_version}, Kind={kind} is disallowed from being an owner"))
    return errs


def validate_owner_references(refs: list[Obj] | None, path: Path) -> ErrorList:
    """Each reference is complete, and at most one claims to be the controller."""
    errs: ErrorList = []
    controller = ""
    for ref in refs or []:
        errs += _validate_owner_reference(ref, path)
        if ref.get("controller"):
            current = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if controller:
                errs.append(
                    field.invalid(
                        path,
                        refs,
                        "Only one reference can have Controller set to true. "
                        f'Found "true" in references for {controller} and {current}',
                    )
                )
            else:
                controller = current
    return errs


def validate_finalizers(finalizers: list[str] | None, path: Path) -> ErrorList:
    """Finalizers are qualified names; `orphan` and `foregroundDeletion` contradict each other."""
    finalizers = finalizers or []
    errs: ErrorList = []
    for name in finalizers:
        errs += [field.invalid(path, name, msg) for msg in is_qualified_name(name)]
    if _FINALIZER_ORPHAN in finalizers and _FINALIZER_DELETE_DEPENDENTS in finalizers:
        errs.append(
            field.invalid(
                path, finalizers, f"finalizer {_FINALIZER_ORPHAN} and {_FINALIZER_DELETE_DEPENDENTS} cannot be both set"
            )
        )
    return errs


def _validate_name(meta: Obj, name_fn: NameValidator, path: Path) -> ErrorList:
    errs: ErrorList = []
    generate_name = meta.get("generateName") or ""
    if generate_name:
        errs += [field.invalid(path.child("generateName"), generate_name, m) for m in name_fn(generate_name, True)]
    name = meta.get("name") or ""
    if not name:
        errs.append(field.required(path.child("name"), "name or generateName is required"))
    else:
        errs += [field.invalid(path.child("name"), name, msg) for msg in name_fn(name, False)]
    return errs


def _validate_namespace(meta: Obj, namespaced: bool, path: Path) -> ErrorList:
    namespace = meta.get("namespace") or ""
    if not namespaced:
        return [field.forbidden(path.child("namespace"), "not allowed on this type")] if namespace else []
    if not namespace:
        return [field.required(path.child("namespace"), "")]
    return [field.invalid(path.child("namespace"), namespace, msg) for msg in name_is_dns_label(namespace, False)]


def _validate_common(meta: Obj, path: Path) -> ErrorList:
    """The checks create and update share: labels, annotations, owner references."""
    return (
        validate_labels(meta.get("labels"), path.child("labels"))
        + validate_annotations(meta.get("annotations"), path.child("annotations"))
        + validate_owner_references(meta.get("ownerReferences"), path.child("ownerReferences"))
    )


def validate_object_meta(
    obj: Obj, namespaced: bool, name_fn: NameValidator, path: Path = Path("metadata")
) -> ErrorList:
    """Upstream `ValidateObjectMeta`: name (or generateName), namespace scope, generation, labels,
    annotations, owner references and finalizers of a new object."""
    meta = obj.get("metadata") or {}
    return (
        _validate_name(meta, name_fn, path)
        + _validate_namespace(meta, namespaced, path)
        + validate_nonnegative_field(meta.get("generation", 0), path.child("generation"))
        + _validate_common(meta, path)
        + validate_finalizers(meta.get("finalizers"), path.child("finalizers"))
    )


def _no_new_finalizers(new: list[str], old: list[str], path: Path) -> ErrorList:
    """A terminating object may lose finalizers but never gain one."""
    extra = sorted(set(new) - set(old))
    if not extra:
        return []
    listed = ", ".join(f'"{f}"' for f in extra)
    return [
        field.forbidden(
            path, f"no new finalizers can be added if the object is being deleted, found new finalizers []string{{{listed}}}"
        )
    ]


def validate_object_meta_update(new: Obj, old: Obj, path: Path = Path("metadata")) -> ErrorList:
    """Upstream `ValidateObjectMetaUpdate`: identity and lifecycle fields never change, a
    resourceVersion is required, generation never decreases. The server is expected to have copied
    creationTimestamp, uid and deletion fields from the old object first, as `rest.BeforeUpdate` does."""
    new_meta, old_meta = new.get("metadata") or {}, old.get("metadata") or {}
    errs: ErrorList = []
    if old_meta.get("deletionTimestamp"):
        errs += _no_new_finalizers(
            new_meta.get("finalizers") or [], old_meta.get("finalizers") or [], path.child("finalizers")
        )
    if not new_meta.get("resourceVersion"):
        errs.append(
            field.invalid(path.child("resourceVersion"), new_meta.get("resourceVersion", ""), "must be specified for an update")
        )
    if new_meta.get("generation", 0) < old_meta.get("generation", 0):
        errs.append(field.invalid(path.child("generation"), new_meta.get("generation", 0), "must not be decremented"))
    for name in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        errs += validate_immutable_field(new_meta.get(name), old_meta.get(name), path.child(name))
    return errs + _validate_common(new_meta, path) + validate_finalizers(new_meta.get("finalizers"), path.child("finalizers"))


_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_label_selector_requirement(req: Obj, path: Path) -> ErrorList:
    errs: ErrorList = []
    operator = req.get("operator", "")
    values = req.get("values") or []
    if operator in ("In", "NotIn") and not values:
        errs.append(field.required(path.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
    elif operator in ("Exists", "DoesNotExist") and values:
        errs.append(
            field.forbidden(path.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
        )
    elif operator not in _SELECTOR_OPERATORS:
        errs.append(field.invalid(path.child("operator"), operator, "not a valid selector operator"))
    errs += validate_label_name(req.get("key", ""), path.child("key"))
    for i, value in enumerate(values):
        errs += [field.invalid(path.child("values").index(i), value, msg) for msg in is_valid_label_value(value)]
    return errs


def validate_label_selector(selector: Obj | None, path: Path) -> ErrorList:
    """A metav1.LabelSelector: valid matchLabels and well-formed matchExpressions."""
    if selector is None:
        return []
    errs = validate_labels(selector.get("matchLabels"), path.child("matchLabels"))
    for i, req in enumerate(selector.get("matchExpressions") or []):
        errs += validate_label_selector_requirement(req, path.child("matchExpressions").index(i))
    return errs
