"""Reading request bodies and writing responses in the negotiated format.

Lists are assembled from the stored JSON of each object without decoding it again, which is
what keeps a 10,000-pod list well under a second.
"""

from __future__ import annotations

import base64
import gc
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Sequence

import orjson
import yaml
from aiohttp import web
from multidict import CIMultiDict

from kinn.api import errors
from kinn.api.decoding import decode_object, warning_header
from kinn.api.printers import to_table
from kinn.api.protobuf import decode_protobuf_object
from kinn.api.resources import Resource
from kinn.apiserver import negotiation
from kinn.apiserver.negotiation import ResponseFormat
from kinn.storage.interface import StoredObject

Obj = dict[str, Any]

# Upstream's limit on request bodies (apiserver MaxRequestBodyBytes).
MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024


async def read_body(request: web.BaseRequest) -> bytes:
    if request.content_length is not None and request.content_length > MAX_REQUEST_BODY_BYTES:
        raise errors.request_entity_too_large(MAX_REQUEST_BODY_BYTES)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > MAX_REQUEST_BODY_BYTES:
            raise errors.request_entity_too_large(MAX_REQUEST_BODY_BYTES)
        chunks.append(chunk)
    return b"".join(chunks)


def decode_body(raw: bytes, content_type: str | None, into: str = "") -> Obj:
    """An object body in JSON, YAML or protobuf (of kind `into`, if known); anything else is a 415."""
    media = negotiation.body_type(content_type)
    if media == negotiation.PROTOBUF:
        return decode_protobuf_object(raw)
    if media in (negotiation.JSON, negotiation.YAML):
        return decode_object(raw, media, into)
    raise errors.unsupported_media_type(media, negotiation.BODY_TYPES)


def status_response(error: errors.StatusError) -> web.Response:
    headers = {}
    if error.code == 429 and error.details and "retryAfterSeconds" in error.details:
        headers["Retry-After"] = str(error.details["retryAfterSeconds"])
    return web.Response(
        body=orjson.dumps(error.status()) + b"\n", status=error.code, content_type="application/json", headers=headers
    )


def success_status(details: Obj | None = None, code: int = 200) -> Obj:
    status: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details is not None:
        status["details"] = details
    if code != 200:
        status["code"] = code
    return status


def respond(body: bytes, fmt: ResponseFormat, status: int = 200, warnings: Sequence[str] = ()) -> web.Response:
    # One Warning header per warning, as upstream sends them (kubectl prints each on its own line).
    headers = CIMultiDict(("Warning", warning_header(w)) for w in warnings) if warnings else None
    if fmt.encoding == negotiation.YAML:
        body = yaml.safe_dump(orjson.loads(body), sort_keys=False).encode()
        return web.Response(body=body, status=status, content_type="application/yaml", headers=headers)
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


class Served:
    """An object to serve that is not a stored revision; its JSON is made when a format needs it.

    Like a `StoredObject` it offers `obj` and `raw`, so the body writers take either, and read
    only the one the negotiated format needs: plain JSON writes stored bytes without decoding.
    """

    __slots__ = ("obj", "_raw")

    def __init__(self, obj: Obj, raw: bytes | None = None) -> None:
        self.obj, self._raw = obj, raw

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = orjson.dumps(self.obj)
        return self._raw

    def decode(self) -> Obj:
        return self.obj


Servable = StoredObject | Served


def object_body(resource: Resource, item: Servable, fmt: ResponseFormat) -> bytes:
    if fmt.transform == "Table":
        return orjson.dumps(to_table(resource, [item.obj], include_object=fmt.include_object or "Metadata"))
    if fmt.transform == "PartialObjectMetadata":
        return orjson.dumps(partial_metadata(item.obj))
    return item.raw


# Objects decoded at a time for a Table or metadata list. Decoding a whole list at once costs
# ~16 KB of transient memory per pod, which the allocator keeps long after the response is sent.
DECODE_BATCH = 500


def list_body(resource: Resource, items: list[Servable], list_meta: Obj, fmt: ResponseFormat) -> bytes:
    """The list in `fmt`; a Table or metadata list decodes its items a batch at a time."""
    if fmt.transform == "Table":
        include, now = fmt.include_object or "Metadata", datetime.now(timezone.utc)
        head = to_table(resource, [], include_object=include, now=now, list_meta=list_meta)
        return _spliced(head, _in_batches(
            items, lambda objects: _elements(to_table(resource, objects, include_object=include, now=now)["rows"])
        ))
    if fmt.transform in ("PartialObjectMetadataList", "PartialObjectMetadata"):
        head = {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "items": []}
        return _spliced(head, _in_batches(items, lambda objects: _elements([partial_metadata(o) for o in objects])))
    head = {"kind": resource.list_kind, "apiVersion": resource.api_version, "metadata": list_meta, "items": []}
    return _spliced(head, (item.raw for item in items))


def _in_batches(items: list[Servable], encode: Callable[[list[Obj]], bytes]) -> Iterator[bytes]:
    """`encode` of `items` decoded DECODE_BATCH at a time, with the cyclic collector paused meanwhile.

    Decoded JSON and what is built from it are trees, freed by reference counting as each batch
    is done; but every 700 new containers start a collection that scans them all the same, which
    would cost more than the decoding itself.
    """
    for start in range(0, len(items), DECODE_BATCH):
        collecting = gc.isenabled()
        gc.disable()
        try:
            part = encode([item.decode() for item in items[start:start + DECODE_BATCH]])
        finally:
            if collecting:
                gc.enable()
        yield part


def _spliced(head: Obj, parts: Iterable[bytes]) -> bytes:
    """`head` encoded, with `parts` (encoded elements) filling the empty array that is its last member."""
    return orjson.dumps(head)[:-2] + b",".join(part for part in parts if part) + b"]}"


def _elements(values: list[Any]) -> bytes:
    """The encoded elements of `values`, without the brackets: one part for `_spliced`."""
    return orjson.dumps(values)[1:-1]


def partial_metadata(obj: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def encode_continue(revision: int, start_key: str) -> str:
    """The continue token upstream issues: base64 of {"v","rv","start"}."""
    token = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start_key})
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        if data.get("v") != "meta.k8s.io/v1":
            raise ValueError
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)") from None
