"""Impersonation: who a request acts as, from its Impersonate-* headers (WithImpersonation)."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from kinn.apiserver.authn import ImpersonationError, impersonate

ADMIN = ("kubernetes-admin", ("system:masters", "system:authenticated"))


def headers(*pairs: tuple[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(pairs))


def test_no_headers_keep_the_authenticated_user() -> None:
    assert impersonate(headers(), ADMIN) == ADMIN


def test_a_user_with_groups_is_authenticated_too() -> None:
    jane = headers(("Impersonate-User", "jane"), ("impersonate-group", "devs"), ("Impersonate-Group", "ops"))
    assert impersonate(jane, ADMIN) == ("jane", ("devs", "ops", "system:authenticated"))
    assert impersonate(headers(("Impersonate-User", "system:anonymous")), ADMIN) == ("system:anonymous", ())


def test_a_service_account_gets_its_groups_unless_some_are_given() -> None:
    assert impersonate(headers(("Impersonate-User", "system:serviceaccount:ci:runner")), ADMIN) == (
        "system:serviceaccount:ci:runner",
        ("system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"))


def test_groups_without_a_user_are_refused() -> None:
    with pytest.raises(ImpersonationError, match=r"requested \['devs'\] without impersonating a user"):
        impersonate(headers(("Impersonate-Group", "devs")), ADMIN)
