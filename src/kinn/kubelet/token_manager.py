"""Service-account tokens for the pods of this node (upstream pkg/kubelet/token/token_manager.go).

Projected serviceAccountToken volumes ask the API server's `serviceaccounts/<name>/token` for a
token bound to their pod. Tokens are cached per request and fetched again once 80% of their
lifetime has passed (or after 24 hours), a few seconds early at random so a node's pods do not
all refresh at once. A failed refresh keeps serving the old token while it is still valid.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime
from typing import Any, Callable

from kinn.api.errors import StatusError
from kinn.client.rest import Client, resource

log = logging.getLogger("kinn.kubelet")
SERVICE_ACCOUNTS = resource("v1", "serviceaccounts")
MAX_TTL = 24 * 60 * 60
MAX_JITTER = 10.0
REFRESH_MARGIN_PERCENT = 20  # refreshed within the last 20% of the token's lifetime

Obj = dict[str, Any]


class TokenError(Exception):
    """No usable token: the request failed and nothing valid is cached."""


def _timestamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _key(namespace: str, name: str, spec: Obj) -> str:
    """Which requests share a token: same account, audiences, lifetime and bound object."""
    ref = spec.get("boundObjectRef") or {}
    return f"{name!r}/{namespace!r}/{spec.get('audiences') or []}/{spec.get('expirationSeconds', 0)}/" \
           f"{ref.get('kind', '')}/{ref.get('name', '')}/{ref.get('uid', '')}"


class TokenManager:
    def __init__(self, client: Client, clock: Callable[[], float] = time.time,
                 jitter: Callable[[], float] = random.random) -> None:
        self.client = client
        self.clock = clock
        self.jitter = jitter
        self._cache: dict[str, Obj] = {}

    async def get_service_account_token(self, namespace: str, name: str, spec: Obj) -> Obj:
        """The TokenRequest (with status.token) for `spec`, from the cache unless it needs a refresh."""
        self._drop_expired()
        key = _key(namespace, name, spec)
        cached = self._cache.get(key)
        if cached is not None and not self.requires_refresh(cached):
            return cached
        request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        try:
            issued = await self.client.create(SERVICE_ACCOUNTS, request, namespace, subresource="token", name=name)
        except (StatusError, OSError) as error:
            if cached is None:
                raise TokenError(f"failed to fetch token: {error}") from None
            if self._expired(cached):
                raise TokenError(f"token {key} expired and refresh failed: {error}") from None
            log.error("couldn't update token %s: %s", key, error)
            return cached
        self._cache[key] = issued
        return issued

    def requires_refresh(self, token_request: Obj) -> bool:
        """Older than 80% of its lifetime, or than 24 hours, less up to ten seconds of jitter."""
        seconds = token_request["spec"].get("expirationSeconds")
        if seconds is None:
            return False
        expires = _timestamp(token_request["status"]["expirationTimestamp"])
        issued = expires - seconds
        now, jitter = self.clock(), self.jitter() * MAX_JITTER
        return now > issued + MAX_TTL - jitter or now > expires - seconds * REFRESH_MARGIN_PERCENT // 100 - jitter

    def delete_service_account_token(self, pod_uid: str) -> None:
        """Forget the tokens bound to a pod that is gone."""
        for key, cached in list(self._cache.items()):
            if (cached["spec"].get("boundObjectRef") or {}).get("uid") == pod_uid:
                del self._cache[key]

    def _expired(self, token_request: Obj) -> bool:
        return self.clock() > _timestamp(token_request["status"]["expirationTimestamp"])

    def _drop_expired(self) -> None:
        for key, cached in list(self._cache.items()):
            if self._expired(cached):
                del self._cache[key]
