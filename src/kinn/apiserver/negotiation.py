"""Content negotiation: which encoding a request body is in and which shape the client wants back.

kinn encodes JSON (and YAML on request); clients that ask for protobuf first also accept JSON,
which is what they get. `as=Table` and `as=PartialObjectMetadata(List)` are the server-side
transformations kubectl and metadata informers ask for.
"""

from __future__ import annotations

from dataclasses import dataclass

from kinn.api import errors

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

BODY_TYPES = (JSON, YAML, PROTOBUF)
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
AGGREGATED_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
# The spelling client-go asks for; kube-openapi still accepts it and answers with the one above.
_OPENAPI_V2_PROTOBUF_DEPRECATED = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


@dataclass(frozen=True)
class MediaType:
    type: str
    params: dict[str, str]

    @property
    def transform(self) -> str:
        """`Table`, `PartialObjectMetadata`, `PartialObjectMetadataList`, `APIGroupDiscoveryList` or ''."""
        return self.params.get("as", "")


def parse_media_type(value: str) -> MediaType:
    kind, *params = [p.strip() for p in value.split(";")]
    parsed: dict[str, str] = {}
    for param in params:
        key, _, val = param.partition("=")
        parsed[key.strip().lower()] = val.strip().strip('"')
    return MediaType(kind.lower(), parsed)


def body_type(content_type: str | None) -> str:
    """The media type of a request body; none given means JSON (the Python client sends none)."""
    if not content_type:
        return JSON
    return parse_media_type(content_type).type


def accepted(accept: str | None) -> list[MediaType]:
    if not accept:
        return [MediaType(JSON, {})]
    return [parse_media_type(part) for part in accept.split(",") if part.strip()]


@dataclass(frozen=True)
class ResponseFormat:
    encoding: str  # JSON or YAML
    transform: str = ""  # "", "Table", "PartialObjectMetadata", "PartialObjectMetadataList"
    include_object: str = ""


_TRANSFORM_GROUP = "meta.k8s.io"


def negotiate_object(accept: str | None, include_object: str = "") -> ResponseFormat:
    """Pick the first acceptable clause, as upstream's negotiator does (q-values aside)."""
    for media in accepted(accept):
        transform = media.transform
        if transform:
            if media.params.get("g") != _TRANSFORM_GROUP or media.params.get("v") not in ("v1", "v1beta1"):
                continue
            if transform not in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
                continue
        if media.type in (JSON, "application/*", "*/*"):
            return ResponseFormat(JSON, transform, include_object)
        if media.type == YAML:
            return ResponseFormat(YAML, transform, include_object)
    raise errors.not_acceptable([JSON, YAML, PROTOBUF])


def wants_aggregated_discovery(accept: str | None) -> bool:
    for media in accepted(accept):
        if media.transform == "APIGroupDiscoveryList" and media.params.get("g") == "apidiscovery.k8s.io":
            return media.params.get("v") in ("v2", "v2beta1")
        if media.type in (JSON, "*/*"):
            return False
    return False


def negotiate_openapi_v2(accept: str | None) -> str | None:
    """The media type `/openapi/v2` answers with: JSON or the gnostic protobuf, whichever clause comes
    first (no Accept means `*/*`, so JSON), as kube-openapi's handler picks (q-values aside); None: 406."""
    for media in accepted(accept):
        if media.type in (JSON, "application/*", "*/*"):
            return JSON
        if media.type in (OPENAPI_V2_PROTOBUF, _OPENAPI_V2_PROTOBUF_DEPRECATED):
            return OPENAPI_V2_PROTOBUF
    return None
