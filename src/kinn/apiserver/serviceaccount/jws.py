"""JSON Web Signature, compact serialization, RS256 only (RFC 7515 §7.1, RFC 7518 §3.3).

The one algorithm kube-apiserver signs service-account tokens with when its key is RSA; keeping
to it means a token is three base64url parts and one PKCS#1 v1.5 SHA-256 signature, which the
`cryptography` package already provides, instead of a JOSE library with every algorithm.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class InvalidToken(Exception):
    """Not a well-formed RS256 JWS, or its signature does not verify."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise InvalidToken(f"malformed base64url: {error}") from None


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """The `kid` header: base64url SHA-256 of the PKIX DER public key (upstream keyIDFromPublicKey),
    so verifiers holding several keys know which one signed."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64encode(hashlib.sha256(der).digest())


def sign(payload: dict[str, Any], private_key: rsa.RSAPrivateKey) -> str:
    """`header.payload.signature`; keys sorted, as go-jose marshals the merged claim map."""
    header = {"alg": "RS256", "kid": key_id(private_key.public_key())}
    body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    signing_input = f"{_b64encode(orjson.dumps(header))}.{_b64encode(body)}"
    signature = private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64encode(signature)}"


def unverified_payload(token: str) -> dict[str, Any]:
    """The claims without checking the signature: only to see whether a token is ours to check."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("not a compact JWS")
    try:
        payload = orjson.loads(_b64decode(parts[1]))
    except orjson.JSONDecodeError as error:
        raise InvalidToken(f"malformed payload: {error}") from None
    if not isinstance(payload, dict):
        raise InvalidToken("payload is not a JSON object")
    return payload


def verify(token: str, public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The payload of a token whose RS256 signature `public_key` verifies."""
    payload = unverified_payload(token)
    header_part, payload_part, signature_part = token.split(".")
    try:
        header = orjson.loads(_b64decode(header_part))
    except orjson.JSONDecodeError as error:
        raise InvalidToken(f"malformed header: {error}") from None
    if not isinstance(header, dict) or header.get("alg") != "RS256":
        raise InvalidToken("unsupported signing algorithm")
    try:
        public_key.verify(_b64decode(signature_part), f"{header_part}.{payload_part}".encode(), padding.PKCS1v15(),
                          hashes.SHA256())
    except InvalidSignature:
        raise InvalidToken("invalid signature") from None
    return payload
