"""Authentication: X.509 client certificates signed by the cluster CA, or bearer tokens.

The TLS layer has already verified any client certificate against the CA; the user is its
Common Name and the groups its Organizations, as upstream's x509 authenticator reads them.
Bearer tokens come from `<pki>/tokens.csv` (`token,user,uid,"group1,group2"`, the format of
kube-apiserver's --token-auth-file), for components that do not carry certificates, or are
service-account JWTs this API server issued (`system:serviceaccount:<ns>:<name>`), or loopback
tokens it gave the components running in its own process (see APIServer.loopback_config). Every
authenticated user is also in `system:authenticated`, as upstream's union authenticator adds.
"""

from __future__ import annotations

import csv
import secrets
from pathlib import Path

from aiohttp import web
from multidict import CIMultiDictProxy

from kinn.apiserver.certs import PKI
from kinn.apiserver.serviceaccount.jwt import TokenAuthenticator
from kinn.storage.interface import Store

User = tuple[str, tuple[str, ...]]
AUTHENTICATED_GROUP = "system:authenticated"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


class ImpersonationError(ValueError):
    """Impersonation headers that name no one to be (upstream answers 400 Bad Request)."""


def impersonate(headers: CIMultiDictProxy[str], user: User) -> User:
    """Who the request acts as: `user`, or the one its Impersonate-User / Impersonate-Group headers name
    (`kubectl --as jane --as-group devs`), as kube-apiserver's WithImpersonation filter makes them.
    Every authenticated user may impersonate anyone here, as authorization is AlwaysAllow; the
    impersonated user is authenticated (`system:authenticated`), and a service account without
    groups given gets its own (`system:serviceaccounts`, `system:serviceaccounts:<ns>`)."""
    name = headers.get("Impersonate-User")
    groups = tuple(headers.getall("Impersonate-Group", ()))
    if name is None:
        if groups:
            raise ImpersonationError(f"requested {list(groups)} without impersonating a user")
        return user
    if not groups and name.startswith(SERVICE_ACCOUNT_PREFIX):
        namespace = name[len(SERVICE_ACCOUNT_PREFIX):].split(":", 1)[0]
        groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")
    if name != "system:anonymous" and AUTHENTICATED_GROUP not in groups:
        groups += (AUTHENTICATED_GROUP,)
    return name, groups


class Authenticator:
    def __init__(self, pki: PKI, store: Store) -> None:
        self.tokens = _load_tokens(pki.directory / "tokens.csv")
        self.service_accounts = TokenAuthenticator(pki.load_service_account_public_key(), store)

    def issue_token(self, user: str, groups: tuple[str, ...] = ()) -> str:
        """A fresh bearer token for `user`, known to this process only (kube-apiserver's loopback
        token): how the components it runs in-process prove who they are on its loopback socket."""
        token = secrets.token_urlsafe(32)
        self.tokens[token] = (user, groups + (AUTHENTICATED_GROUP,))
        return token

    async def authenticate(self, request: web.BaseRequest) -> User | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header[len("Bearer "):].strip()
            if token in self.tokens:
                return self.tokens[token]
            account = await self.service_accounts.authenticate(token)
            return (account[0], account[1] + (AUTHENTICATED_GROUP,)) if account else None
        transport = request.transport
        cert = transport.get_extra_info("peercert") if transport else None
        if not cert:
            return None
        common_name, groups = "", []
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    common_name = value
                elif key == "organizationName":
                    groups.append(value)
        return (common_name, tuple(groups) + (AUTHENTICATED_GROUP,)) if common_name else None


def _load_tokens(path: Path) -> dict[str, User]:
    if not path.exists():
        return {}
    tokens: dict[str, User] = {}
    with path.open() as f:
        for row in csv.reader(f):
            if len(row) >= 2 and not row[0].startswith("#"):
                groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
                tokens[row[0]] = (row[1], groups + (AUTHENTICATED_GROUP,))
    return tokens
