"""The authorization.k8s.io and authentication.k8s.io reviews `kubectl auth can-i` and `kubectl auth
whoami` create: answered at once, never stored (upstream's review REST storage).

kinn authorizes every authenticated request, as kube-apiserver does with
`--authorization-mode=AlwaysAllow`: a SelfSubjectAccessReview is allowed, and a
SelfSubjectRulesReview lists the one rule that mode reports, every verb on everything. A
SelfSubjectReview answers with whom the request authenticated as.
"""

from __future__ import annotations

from typing import Any

from kinn.api import errors
from kinn.api.field import Path, invalid
from kinn.api.timestamps import now_rfc3339
from kinn.apiserver.registry.generic import RequestContext

Obj = dict[str, Any]
GROUPS = frozenset({"authentication.k8s.io", "authorization.k8s.io"})
EVERYTHING = ["*"]


def answer(kind: str, review: Obj, ctx: RequestContext) -> Obj:
    """The review with its status filled in, as the server answers it."""
    answered = {**review, "metadata": {"creationTimestamp": now_rfc3339() if kind == "SelfSubjectReview" else None}}
    if kind == "SelfSubjectAccessReview":
        _check_access_review(review.get("spec") or {})
        answered["status"] = {"allowed": True}
    elif kind == "SelfSubjectRulesReview":
        answered["status"] = {
            "resourceRules": [{"verbs": EVERYTHING, "apiGroups": EVERYTHING, "resources": EVERYTHING}],
            "nonResourceRules": [{"verbs": EVERYTHING, "nonResourceURLs": EVERYTHING}],
            "incomplete": False,
        }
    else:  # SelfSubjectReview
        answered["status"] = {"userInfo": {"username": ctx.user, "groups": list(ctx.groups)}}
    return answered


def _check_access_review(spec: Obj) -> None:
    """ValidateSelfSubjectAccessReviewSpec: exactly one of the two kinds of attributes."""
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if resource is not None and non_resource is not None:
        errs = [invalid(Path("spec", "nonResourceAttributes"), non_resource,
                        "cannot be specified in combination with resourceAttributes")]
    elif resource is None and non_resource is None:
        errs = [invalid(Path("spec", "resourceAttributes"), None,
                        "exactly one of nonResourceAttributes or resourceAttributes must be specified")]
    else:
        return
    raise errors.invalid("SelfSubjectAccessReview", "authorization.k8s.io", "", errs)
