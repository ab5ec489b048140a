"""rbac.authorization.k8s.io/v1 validation, as pkg/apis/rbac/validation."""

from __future__ import annotations

from typing import Callable

from kinn.api import field
from kinn.api.field import ErrorList, Path
from kinn.api.validation import gofmt, meta, names
from kinn.api.validation.common import Obj, object_meta, object_meta_update

GROUP = "rbac.authorization.k8s.io"
# RBAC names only need to be usable as a URL path segment (`system:node`, `edit`…).
rbac_name = names.validate_path_segment_name


def validate_policy_rule(rule: Obj, namespaced: bool, path: Path) -> ErrorList:
    errs: ErrorList = []
    if not rule.get("verbs"):
        errs.append(field.required(path.child("verbs"), "verbs must contain at least one value"))
    urls = rule.get("nonResourceURLs")
    if urls:
        rendered = gofmt.string_slice(urls)
        if namespaced:
            errs.append(gofmt.invalid(path.child("nonResourceURLs"), rendered, "namespaced rules cannot apply to non-resource URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            errs.append(
                gofmt.invalid(
                    path.child("nonResourceURLs"), rendered, "rules cannot apply to both regular resources and non-resource URLs"
                )
            )
        return errs
    if not rule.get("apiGroups"):
        errs.append(field.required(path.child("apiGroups"), "resource rules must supply at least one api group"))
    if not rule.get("resources"):
        errs.append(field.required(path.child("resources"), "resource rules must supply at least one resource"))
    return errs


def _validate_rules(obj: Obj, namespaced: bool) -> ErrorList:
    errs: ErrorList = []
    for i, rule in enumerate(obj.get("rules") or []):
        errs += validate_policy_rule(rule, namespaced, Path("rules").index(i))
    return errs


def validate_role(obj: Obj) -> ErrorList:
    return object_meta(obj, True, rbac_name) + _validate_rules(obj, True)


def validate_cluster_role(obj: Obj) -> ErrorList:
    errs = object_meta(obj, False, rbac_name) + _validate_rules(obj, False)
    aggregation = obj.get("aggregationRule")
    if aggregation is not None:
        selectors_path = Path("aggregationRule", "clusterRoleSelectors")
        selectors = aggregation.get("clusterRoleSelectors") or []
        if not selectors:
            errs.append(field.required(selectors_path, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
        for i, selector in enumerate(selectors):
            errs += meta.validate_label_selector(selector, selectors_path.index(i))
    return errs


def validate_subject(subject: Obj, namespaced: bool, path: Path) -> ErrorList:
    errs: ErrorList = []
    name, kind, group = subject.get("name", ""), subject.get("kind", ""), subject.get("apiGroup", "")
    if not name:
        errs.append(field.required(path.child("name")))
    if kind == "ServiceAccount":
        if name:
            errs += [field.invalid(path.child("name"), name, msg) for msg in names.name_is_dns_subdomain(name, False)]
        if group:
            errs.append(field.not_supported(path.child("apiGroup"), group, [""]))
        if not namespaced and not subject.get("namespace"):
            errs.append(field.required(path.child("namespace")))
    elif kind in ("User", "Group"):
        if group != GROUP:
            errs.append(field.not_supported(path.child("apiGroup"), group, [GROUP]))
    else:
        errs.append(field.not_supported(path.child("kind"), kind, ["ServiceAccount", "User", "Group"]))
    return errs


def _validate_binding(obj: Obj, namespaced: bool, role_kinds: list[str]) -> ErrorList:
    errs = object_meta(obj, namespaced, rbac_name)
    ref = obj.get("roleRef") or {}
    ref_path = Path("roleRef")
    if ref.get("apiGroup", "") != GROUP:
        errs.append(field.not_supported(ref_path.child("apiGroup"), ref.get("apiGroup", ""), [GROUP]))
    if ref.get("kind", "") not in role_kinds:
        errs.append(field.not_supported(ref_path.child("kind"), ref.get("kind", ""), role_kinds))
    role_name = ref.get("name", "")
    if not role_name:
        errs.append(field.required(ref_path.child("name")))
    errs += [field.invalid(ref_path.child("name"), role_name, msg) for msg in rbac_name(role_name, False) if role_name]
    for i, subject in enumerate(obj.get("subjects") or []):
        errs += validate_subject(subject, namespaced, Path("subjects").index(i))
    return errs


def role_ref(ref: Obj) -> str:
    return gofmt.struct(
        "rbac.RoleRef",
        [(key, gofmt.quote(ref.get(name, ""))) for key, name in (("APIGroup", "apiGroup"), ("Kind", "kind"), ("Name", "name"))],
    )


def _validate_binding_update(new: Obj, old: Obj, create: Callable[[Obj], ErrorList]) -> ErrorList:
    """A binding's role can never change: it would silently re-grant to every subject."""
    errs = create(new) + object_meta_update(new, old)
    if (new.get("roleRef") or {}) != (old.get("roleRef") or {}):
        errs.append(gofmt.invalid(Path("roleRef"), role_ref(new.get("roleRef") or {}), "cannot change roleRef"))
    return errs


def validate_role_binding(obj: Obj) -> ErrorList:
    return _validate_binding(obj, True, ["Role", "ClusterRole"])


def validate_cluster_role_binding(obj: Obj) -> ErrorList:
    return _validate_binding(obj, False, ["ClusterRole"])


Check = Callable[..., ErrorList]

CREATE: dict[str, Check] = {
    "Role": validate_role,
    "ClusterRole": validate_cluster_role,
    "RoleBinding": validate_role_binding,
    "ClusterRoleBinding": validate_cluster_role_binding,
}
UPDATE: dict[str, Check] = {
    "Role": lambda new, old: validate_role(new) + object_meta_update(new, old),
    "ClusterRole": lambda new, old: validate_cluster_role(new) + object_meta_update(new, old),
    "RoleBinding": lambda new, old: _validate_binding_update(new, old, validate_role_binding),
    "ClusterRoleBinding": lambda new, old: _validate_binding_update(new, old, validate_cluster_role_binding),
}
STATUS_UPDATE: dict[str, Check] = {}
