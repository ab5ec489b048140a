"""The envelope of a Kubernetes protobuf body: magic `k8s\\x00` then a runtime.Unknown message.

runtime.Unknown (apimachinery pkg/runtime/generated.proto): typeMeta 1 {apiVersion 1, kind 2},
raw 2 (the object's own message), contentEncoding 3, contentType 4.
"""

from __future__ import annotations

from dataclasses import dataclass

from kinn.api.protobuf.wire import WireError, iter_fields

MAGIC = b"k8s\x00"


@dataclass(frozen=True)
class Unknown:
    api_version: str
    kind: str
    raw: bytes
    content_encoding: str
    content_type: str


def unwrap(body: bytes) -> Unknown:
    """Split a body into its type and raw object bytes; raises `WireError` when malformed."""
    if not body.startswith(MAGIC):
        raise WireError(f"provided data does not appear to be a protobuf message, expected prefix {list(MAGIC)}")
    fields: dict[int, bytes] = {}
    for number, _, value in iter_fields(body[len(MAGIC):]):
        if number in (1, 2, 3, 4):
            fields[number] = _bytes(value)
    type_meta: dict[int, bytes] = {}
    for number, _, value in iter_fields(fields.get(1, b"")):
        if number in (1, 2):
            type_meta[number] = _bytes(value)
    return Unknown(
        api_version=_text(type_meta.get(1, b"")),
        kind=_text(type_meta.get(2, b"")),
        raw=fields.get(2, b""),
        content_encoding=_text(fields.get(3, b"")),
        content_type=_text(fields.get(4, b"")),
    )


def _bytes(value: int | bytes) -> bytes:
    if isinstance(value, int):
        raise WireError("runtime.Unknown: expected a length-delimited field, got a varint")
    return value


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("runtime.Unknown: string is not valid UTF-8") from None
