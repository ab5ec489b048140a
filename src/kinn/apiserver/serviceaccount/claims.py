"""What a service-account token says, and whether it still holds (upstream pkg/serviceaccount/claims.go).

A token names its ServiceAccount by name and UID and, when bound, the Pod, Secret or Node it was
issued for. It stays valid only while each of those objects exists with the same UID and is not
being deleted: deleting a pod revokes its tokens without any revocation list.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from kinn.api.resources import TABLE
from kinn.apiserver.serviceaccount.jws import InvalidToken
from kinn.storage.interface import Store

Obj = dict[str, Any]

PRIVATE_CLAIMS = "kubernetes.io"
LEEWAY_SECONDS = 60  # go-jose's DefaultLeeway for exp/nbf/iat
DELETED_OBJECT_GRACE_SECONDS = 60  # a bound object being deleted keeps its tokens this long
SERVICE_ACCOUNT_USERNAME_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"


def username(namespace: str, name: str) -> str:
    """`system:serviceaccount:<namespace>:<name>` (MakeUsername)."""
    return f"{SERVICE_ACCOUNT_USERNAME_PREFIX}{namespace}:{name}"


def groups(namespace: str) -> tuple[str, ...]:
    """The groups every service account of a namespace is in (MakeGroupNames)."""
    return (ALL_SERVICE_ACCOUNTS_GROUP, f"{ALL_SERVICE_ACCOUNTS_GROUP}:{namespace}")


def _ref(obj: Obj) -> dict[str, str]:
    return {"name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"]}


def claims(account: Obj, audiences: list[str], expiration_seconds: int, now: datetime, *, pod: Obj | None = None,
           secret: Obj | None = None, node: Obj | None = None, warn_after_seconds: int = 0) -> Obj:
    """The registered and private claims of a new token (`iss` is the generator's to add).

    A pod-bound token also names the pod's node, as upstream does with ServiceAccountTokenPodNodeInfo.
    """
    issued = int(now.timestamp())
    private: Obj = {"namespace": account["metadata"]["namespace"], "serviceaccount": _ref(account)}
    if pod is not None:
        private["pod"] = _ref(pod)
        if node is not None:
            private["node"] = _ref(node)
    elif secret is not None:
        private["secret"] = _ref(secret)
    elif node is not None:
        private["node"] = _ref(node)
    if warn_after_seconds:
        private["warnafter"] = issued + warn_after_seconds
    return {"aud": audiences, "exp": issued + expiration_seconds, "iat": issued, "nbf": issued,
            "jti": str(uuid.uuid4()), "sub": username(account["metadata"]["namespace"], account["metadata"]["name"]),
            PRIVATE_CLAIMS: private}


def _check_times(payload: Obj, now: float) -> None:
    if "exp" in payload and now - LEEWAY_SECONDS > payload["exp"]:
        raise InvalidToken("service account token has expired")
    if "nbf" in payload and now + LEEWAY_SECONDS < payload["nbf"]:
        raise InvalidToken("service account token is not valid yet")
    if "iat" in payload and now + LEEWAY_SECONDS < payload["iat"]:
        raise InvalidToken("service account token is issued in the future")


async def _get(store: Store, plural: str, namespace: str, name: str) -> Obj | None:
    resource = TABLE.lookup("", "v1", plural)
    assert resource is not None
    stored = await store.get(resource.key(namespace if resource.namespaced else None, name))
    return stored.obj if stored is not None else None


async def _check_account(store: Store, namespace: str, ref: Obj) -> None:
    """The service account must still exist, not be terminating, and be the very one (same UID)."""
    account = await _get(store, "serviceaccounts", namespace, ref.get("name", ""))
    if account is None:
        raise InvalidToken(f'serviceaccounts "{ref.get("name")}" not found')
    meta = account["metadata"]
    if meta.get("deletionTimestamp"):
        raise InvalidToken(f"service account {namespace}/{meta['name']} has been deleted")
    if meta["uid"] != ref.get("uid"):
        raise InvalidToken(f"service account UID ({meta['uid']}) does not match claim ({ref.get('uid')})")


async def _check_bound(store: Store, plural: str, namespace: str, ref: Obj, now: float) -> None:
    """A bound object must exist with the same UID; one being deleted keeps its tokens for a while
    (upstream's invalidIfDeletedBefore), so a terminating pod can still talk to the API server."""
    obj = await _get(store, plural, namespace, ref.get("name", ""))
    if obj is None or obj["metadata"]["uid"] != ref.get("uid"):
        raise InvalidToken("service account token has been invalidated")
    deleted = obj["metadata"].get("deletionTimestamp")
    deleted_at = datetime.fromisoformat(deleted.replace("Z", "+00:00")).timestamp() if deleted else now
    if deleted_at < now - DELETED_OBJECT_GRACE_SECONDS:
        raise InvalidToken("service account token has been invalidated")


async def validate(payload: Obj, store: Store, now: float) -> tuple[str, str]:
    """(namespace, name) of the service account a signed token names, if the token still holds
    (validator.Validate); raises InvalidToken with upstream's reason otherwise."""
    _check_times(payload, now)
    private = payload.get(PRIVATE_CLAIMS)
    if not isinstance(private, dict) or not private.get("namespace") or \
            not isinstance(private.get("serviceaccount"), dict):
        raise InvalidToken("token could not be validated: missing kubernetes.io claims")
    namespace, account = private["namespace"], private["serviceaccount"]
    await _check_account(store, namespace, account)
    for key, plural in (("pod", "pods"), ("secret", "secrets"), ("node", "nodes")):
        if isinstance(private.get(key), dict):
            await _check_bound(store, plural, namespace, private[key], now)
    return namespace, account["name"]
