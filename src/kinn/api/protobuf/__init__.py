"""Decode Kubernetes protobuf request bodies into the JSON-shaped dicts the rest of kinn uses.

kubectl ≥ 1.31 sends `kubectl create deployment|configmap|secret|namespace|service|job|...` bodies
as `application/vnd.kubernetes.protobuf` and fails on a 415, so the API server must read them. The
result is exactly the dict the equivalent JSON body would have produced.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from kinn.api.errors import StatusError, bad_request
import kinn.api.protobuf.meta  # noqa: F401  (registers ObjectMeta & co., which every kind references)
from kinn.api.protobuf import apps, authentication, authorization, batch, core, networking, policy, rbac, scheduling
from kinn.api.protobuf.decode import decode_message
from kinn.api.protobuf.envelope import unwrap
from kinn.api.protobuf.schema import Message, lookup
from kinn.api.protobuf.wire import WireError

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

_GROUPS: tuple[ModuleType, ...] = (
    core, apps, authentication, authorization, batch, networking, policy, rbac, scheduling,
)
KINDS: dict[tuple[str, str], Message] = {
    (group.API_VERSION, kind): lookup(kind) for group in _GROUPS for kind in group.KINDS
}


def decode_protobuf_object(body: bytes) -> dict[str, Any]:
    """The object in a protobuf body, as a dict with `kind` and `apiVersion` first.

    Raises a 400 `StatusError` for a malformed body and a 415 for a kind kinn has no descriptor for.
    """
    try:
        envelope = unwrap(body)
    except WireError as err:
        raise bad_request(f"unable to decode protobuf body: {err}") from None
    if envelope.content_encoding:
        raise bad_request(f"unable to decode protobuf body: unsupported contentEncoding {envelope.content_encoding!r}")
    if envelope.content_type not in ("", MEDIA_TYPE):
        raise bad_request(f"unable to decode protobuf body: unsupported contentType {envelope.content_type!r}")
    message = KINDS.get((envelope.api_version, envelope.kind))
    if message is None:
        raise unsupported_kind(envelope.api_version, envelope.kind)
    try:
        fields = decode_message(envelope.raw, message)
    except WireError as err:
        raise bad_request(f"unable to decode protobuf body of kind {envelope.kind}: {err}") from None
    return {"kind": envelope.kind, "apiVersion": envelope.api_version, **fields}


def unsupported_kind(api_version: str, kind: str) -> StatusError:
    """415 naming the kind, so the client knows to send it as JSON instead."""
    return StatusError(
        415,
        "UnsupportedMediaType",
        f'the body of the request was in an unknown format - protobuf is not supported for kind "{kind}" '
        f'in version "{api_version}"; accepted media types include: application/json, application/yaml',
    )
