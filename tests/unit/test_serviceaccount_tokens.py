"""Service-account tokens: RS256 encoding, the claims upstream puts in them, and their
authentication against the objects they name (a real SQLite store); the admission that mounts them."""

from __future__ import annotations

import base64
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kinn.apiserver.admission.plugins import DEFAULT_API_TOKEN_MOUNT_PATH, mount_service_account_token
from kinn.apiserver.serviceaccount import jws
from kinn.apiserver.serviceaccount.claims import claims
from kinn.apiserver.serviceaccount.jwt import ISSUER, TokenAuthenticator, TokenGenerator
from kinn.storage.sqlite import SQLiteStore

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def obj(name: str, uid: str, namespace: str | None = "shop", **extra: Any) -> dict[str, Any]:
    meta = {"name": name, "uid": uid, **({"namespace": namespace} if namespace else {}), **extra}
    return {"metadata": meta, "spec": {}}


ACCOUNT, POD, NODE = obj("robot", "sa-1"), obj("web-0", "pod-1"), obj("worker-1", "node-1", None)


def decode_part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_rs256_round_trip_and_tampering() -> None:
    token = jws.sign({"sub": "x", "aud": ["a"]}, KEY)
    assert decode_part(token, 0) == {"alg": "RS256", "kid": jws.key_id(KEY.public_key())}
    assert jws.verify(token, KEY.public_key()) == {"aud": ["a"], "sub": "x"}
    header, payload, signature = token.split(".")
    forged = jws.sign({"sub": "admin", "aud": ["a"]}, KEY).split(".")[1]
    with pytest.raises(jws.InvalidToken, match="invalid signature"):
        jws.verify(f"{header}.{forged}.{signature}", KEY.public_key())
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(jws.InvalidToken):
        jws.verify(token, other.public_key())
    with pytest.raises(jws.InvalidToken, match="not a compact JWS"):
        jws.verify("abc.def", KEY.public_key())


def test_pod_bound_claims_as_upstream() -> None:
    token = TokenGenerator(KEY).generate(claims(ACCOUNT, [ISSUER], 3600, NOW, pod=POD, node=NODE,
                                                warn_after_seconds=3607))
    payload = decode_part(token, 1)
    issued = int(NOW.timestamp())
    assert list(payload) == sorted(payload)  # go-jose marshals the merged claims as a sorted map
    assert payload["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert payload["sub"] == "system:serviceaccount:shop:robot" and payload["aud"] == [ISSUER]
    assert (payload["iat"], payload["nbf"], payload["exp"]) == (issued, issued, issued + 3600)
    assert payload["kubernetes.io"] == {"namespace": "shop", "serviceaccount": {"name": "robot", "uid": "sa-1"},
                                        "pod": {"name": "web-0", "uid": "pod-1"},
                                        "node": {"name": "worker-1", "uid": "node-1"}, "warnafter": issued + 3607}
    assert len(payload["jti"]) == 36


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "state.db", history=100)
    yield s
    s.close()


async def put(store: SQLiteStore, plural: str, item: dict[str, Any]) -> None:
    meta = item["metadata"]
    where = f"{meta['namespace']}/{meta['name']}" if "namespace" in meta else meta["name"]
    await store.create(f"/registry/{plural}/{where}", item)


async def test_a_token_authenticates_while_what_it_names_exists(store: SQLiteStore) -> None:
    authenticator = TokenAuthenticator(KEY.public_key(), store)
    generator = TokenGenerator(KEY)
    now = datetime.now(timezone.utc)
    token = generator.generate(claims(ACCOUNT, [ISSUER], 3600, now, pod=POD))
    assert await authenticator.authenticate(token) is None  # no such service account yet
    await put(store, "serviceaccounts", ACCOUNT)
    await put(store, "pods", POD)
    assert await authenticator.authenticate(token) == (
        "system:serviceaccount:shop:robot", ("system:serviceaccounts", "system:serviceaccounts:shop"))
    await store.delete("/registry/pods/shop/web-0")
    assert await authenticator.authenticate(token) is None  # the pod it was bound to is gone
    await put(store, "pods", obj("web-0", "pod-2"))
    assert await authenticator.authenticate(token) is None  # same name, another pod


async def test_expired_foreign_and_wrongly_addressed_tokens_are_refused(store: SQLiteStore) -> None:
    await put(store, "serviceaccounts", ACCOUNT)
    authenticator = TokenAuthenticator(KEY.public_key(), store)
    generator = TokenGenerator(KEY)
    hour_ago = datetime.fromtimestamp(time.time() - 3600 - 61, timezone.utc)
    assert await authenticator.authenticate(generator.generate(claims(ACCOUNT, [ISSUER], 3600, hour_ago))) is None
    now = datetime.now(timezone.utc)
    assert await authenticator.authenticate(generator.generate(claims(ACCOUNT, ["vault"], 3600, now))) is None
    foreign = TokenGenerator(KEY, issuer="https://issuer.example").generate(claims(ACCOUNT, [ISSUER], 3600, now))
    assert await authenticator.authenticate(foreign) is None
    assert await authenticator.authenticate("not-a-jwt") is None
    assert await authenticator.authenticate(generator.generate(claims(ACCOUNT, [ISSUER], 3600, now))) is not None


def test_admission_mounts_the_api_credentials_where_nothing_is_mounted() -> None:
    spec = {"initContainers": [{"name": "init"}],
            "containers": [{"name": "app"}, {"name": "own", "volumeMounts": [
                {"name": "mine", "mountPath": DEFAULT_API_TOKEN_MOUNT_PATH}]}]}
    mount_service_account_token(spec)
    (volume,) = spec["volumes"]
    assert volume["name"].startswith("kube-api-access-") and len(volume["name"]) == len("kube-api-access-") + 5
    assert volume["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    mount = {"name": volume["name"], "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    assert spec["initContainers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][1]["volumeMounts"] == [{"name": "mine", "mountPath": DEFAULT_API_TOKEN_MOUNT_PATH}]
