"""rbac.authorization.k8s.io/v1 defaults, as pkg/apis/rbac/v1/defaults.go: the API group of role
references and of User and Group subjects is RBAC's own; ServiceAccounts are in the core group."""

from __future__ import annotations

from typing import Any, Callable

Obj = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"


def default_binding(obj: Obj) -> None:
    role_ref = obj.setdefault("roleRef", {})
    if not role_ref.get("apiGroup"):
        role_ref["apiGroup"] = GROUP
    for subject in obj.get("subjects") or []:
        if not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = GROUP


DEFAULTERS: dict[str, Callable[[Obj], None]] = {"RoleBinding": default_binding, "ClusterRoleBinding": default_binding}
