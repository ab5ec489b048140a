"""The API server's service-account token generator and authenticator (upstream pkg/serviceaccount/jwt.go).

Tokens are signed with the PKI dir's `sa.key` (kube-apiserver --service-account-signing-key-file)
and verified with `sa.pub` (--service-account-key-file). The issuer and the API audiences are
kubeadm's defaults: --service-account-issuer https://kubernetes.default.svc.cluster.local, and the
API audiences default to the issuer, so a TokenRequest without audiences is good for the API.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from kinn.apiserver.serviceaccount import claims as sa_claims
from kinn.apiserver.serviceaccount.jws import InvalidToken, sign, unverified_payload, verify
from kinn.storage.interface import Store

log = logging.getLogger("kinn.apiserver")

ISSUER = "https://kubernetes.default.svc.cluster.local"

Obj = dict[str, Any]


class TokenGenerator:
    def __init__(self, signing_key: rsa.RSAPrivateKey, issuer: str = ISSUER) -> None:
        self.signing_key = signing_key
        self.issuer = issuer
        self.api_audiences = [issuer]

    def generate(self, claims: Obj) -> str:
        return sign({**claims, "iss": self.issuer}, self.signing_key)


class TokenAuthenticator:
    """Turns a bearer token this API server issued back into its service account's user."""

    def __init__(self, public_key: rsa.RSAPublicKey, store: Store, issuer: str = ISSUER) -> None:
        self.public_key = public_key
        self.store = store
        self.issuer = issuer
        self.api_audiences = [issuer]

    async def authenticate(self, token: str) -> tuple[str, tuple[str, ...]] | None:
        """(username, groups), or None when the token is not ours or no longer holds.

        Tokens from another issuer are left alone (another authenticator may know them), as
        upstream's hasCorrectIssuer check does before any signature work.
        """
        try:
            if unverified_payload(token).get("iss") != self.issuer:
                return None
            payload = verify(token, self.public_key)
            audiences = payload.get("aud") or []
            audiences = [audiences] if isinstance(audiences, str) else audiences
            if not set(audiences) & set(self.api_audiences):
                raise InvalidToken(f"token audiences {audiences} is invalid for the target audiences "
                                   f"{self.api_audiences}")
            namespace, name = await sa_claims.validate(payload, self.store, time.time())
        except InvalidToken as error:
            log.debug("service account token rejected: %s", error)
            return None
        return sa_claims.username(namespace, name), sa_claims.groups(namespace)
