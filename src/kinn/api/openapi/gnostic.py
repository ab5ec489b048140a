"""A Swagger 2.0 document as gnostic's `openapi_v2.Document` protobuf message.

kube-apiserver answers `GET /openapi/v2` with `Accept: application/com.github.proto-openapi.spec.v2
@v1.0+protobuf` by parsing its JSON document with gnostic (`openapi_v2.ParseDocument`) and
`proto.Marshal`ling the result; client-go's `DiscoveryClient.OpenAPISchema()` asks only for that form
and `proto.Unmarshal`s it, and kubectl validates objects client-side against it whenever the server
cannot (a `kind: List`). Field numbers are those of github.com/google/gnostic-models
openapiv2/OpenAPIv2.proto. As in gnostic, a JSON value that has no typed field (a `default`, an
`enum` member, every `x-` extension) travels as `Any{yaml}`: the value's text, which readers
`yaml.Unmarshal`; kinn writes it as JSON, which is YAML too. Records come in field-number order
and JSON keys keep their document order, so one JSON document always gives the same bytes.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from kinn.api.protobuf.wire import bytes_field, double_field, varint_field

Writer = Callable[[int, Any], bytes]  # (field number, JSON value) → the field's records
Encoder = Callable[[Any], bytes]  # JSON value → a message's bytes


class UnencodableDocument(ValueError):
    """The JSON has a property gnostic's parser would reject ("has invalid property"), so no message fits it."""


class _Message:
    """One gnostic message: its JSON properties by field number, and the field `x-` properties go to."""

    def __init__(self, name: str, fields: dict[str, tuple[int, Writer]], extensions: int = 0) -> None:
        self.name = name
        self.fields = sorted(fields.items(), key=lambda item: item[1][0])
        self.known = frozenset(fields)
        self.extensions = extensions

    def __call__(self, value: dict[str, Any]) -> bytes:
        unknown = [key for key in value if key not in self.known and not (self.extensions and key.startswith("x-"))]
        if unknown:
            raise UnencodableDocument(f"{self.name} has invalid property: {unknown[0]}")
        records = [writer(number, value[key]) for key, (number, writer) in self.fields if key in value]
        if self.extensions:
            records += [bytes_field(self.extensions, _named_any(key, v)) for key, v in value.items()
                        if key.startswith("x-")]
        return b"".join(records)


# ---------------------------------------------------------------- scalar and repeated writers
# proto3 leaves zero values out; a set message field is always written, even when empty.


def _string(number: int, value: str) -> bytes:
    return bytes_field(number, value.encode()) if value else b""


def _bool(number: int, value: bool) -> bytes:
    return varint_field(number, 1) if value else b""


def _int64(number: int, value: int) -> bytes:
    return varint_field(number, value) if value else b""


def _double(number: int, value: float) -> bytes:
    return double_field(number, float(value)) if value else b""


def _strings(number: int, values: list[str]) -> bytes:
    return b"".join(bytes_field(number, value.encode()) for value in values)


def _message(encode: Encoder) -> Writer:
    return lambda number, value: bytes_field(number, encode(value))


def _repeated(encode: Encoder) -> Writer:
    return lambda number, values: b"".join(bytes_field(number, encode(value)) for value in values)


def _named(encode: Encoder) -> Writer:
    """A JSON object as gnostic's `Named<T>{name 1, value 2}` entries, in document order."""
    return lambda number, mapping: b"".join(
        bytes_field(number, _string(1, name) + bytes_field(2, encode(value))) for name, value in mapping.items())


def _any(value: Any) -> bytes:
    """`Any{value 1 (google.protobuf.Any, unused), yaml 2}`."""
    return _string(2, json.dumps(value, ensure_ascii=False))


def _named_any(name: str, value: Any) -> bytes:
    return _string(1, name) + bytes_field(2, _any(value))


def _map_of(value_field: int, encode: Encoder) -> Encoder:
    """Messages like `Definitions{repeated NamedSchema additional_properties = 1}`."""
    return lambda mapping: _named(encode)(value_field, mapping)


# ---------------------------------------------------------------- oneofs


def _schema_or_bool(value: dict[str, Any] | bool) -> bytes:
    """AdditionalPropertiesItem{schema 1 | boolean 2}: a oneof member is written even when false."""
    if isinstance(value, bool):
        return varint_field(2, int(value))
    return bytes_field(1, _schema(value))


def _type_item(value: str | list[str]) -> bytes:
    return _strings(1, [value] if isinstance(value, str) else value)


def _items_item(value: dict[str, Any] | list[dict[str, Any]]) -> bytes:
    return _repeated(_schema)(1, [value] if isinstance(value, dict) else value)


def _parameters_item(value: dict[str, Any]) -> bytes:
    """ParametersItem{parameter 1 | json_reference 2}."""
    if "$ref" in value:
        return bytes_field(2, _JSON_REFERENCE(value))
    return bytes_field(1, _parameter(value))


def _parameter(value: dict[str, Any]) -> bytes:
    """Parameter{body_parameter 1 | non_body_parameter 2}; NonBodyParameter picks its sub-schema by `in`."""
    where = value.get("in")
    if where == "body":
        return bytes_field(1, _BODY_PARAMETER(value))
    if where not in _NON_BODY:
        raise UnencodableDocument(f"parameter {value.get('name')!r} has an invalid location: {where!r}")
    number, encode = _NON_BODY[where]
    return bytes_field(2, bytes_field(number, encode(value)))


def _response_value(value: dict[str, Any]) -> bytes:
    """ResponseValue{response 1 | json_reference 2}."""
    if "$ref" in value:
        return bytes_field(2, _JSON_REFERENCE(value))
    return bytes_field(1, _RESPONSE(value))


def _schema_item(value: dict[str, Any]) -> bytes:
    """SchemaItem{schema 1 | file_schema 2}: gnostic tries Schema first, and every object is one."""
    return bytes_field(1, _schema(value))


def _security_definitions_item(value: dict[str, Any]) -> bytes:
    kind = value.get("type")
    if kind == "basic":
        return bytes_field(1, _BASIC_SECURITY(value))
    if kind == "apiKey":
        return bytes_field(2, _API_KEY_SECURITY(value))
    raise UnencodableDocument(f"unsupported security definition type {kind!r}")


def _paths(value: dict[str, Any]) -> bytes:
    """Paths{vendor_extension 1, path 2}: keys starting with `/` are paths, `x-` keys extensions."""
    extensions = [bytes_field(1, _named_any(key, v)) for key, v in value.items() if key.startswith("x-")]
    paths = {key: v for key, v in value.items() if not key.startswith("x-")}
    return b"".join(extensions) + _named(_PATH_ITEM)(2, paths)


def _responses(value: dict[str, Any]) -> bytes:
    """Responses{response_code 1, vendor_extension 2}: status codes (and `default`) beside `x-` keys."""
    codes = {key: v for key, v in value.items() if not key.startswith("x-")}
    extensions = {key: v for key, v in value.items() if key.startswith("x-")}
    return _named(_response_value)(1, codes) + _RESPONSES(extensions)


def _security_requirement(value: dict[str, list[str]]) -> bytes:
    """SecurityRequirement{repeated NamedStringArray additional_properties = 1}, StringArray{value 1}."""
    return _named(lambda scopes: _strings(1, scopes))(1, value)


def _schema(value: dict[str, Any]) -> bytes:
    return _SCHEMA(value)


# ---------------------------------------------------------------- messages


def _primitives(first: int) -> dict[str, tuple[int, Writer]]:
    """The validation keywords every non-body parameter, header and primitive item shares, numbered from `first`."""
    writers: tuple[tuple[str, Writer], ...] = (
        ("type", _string), ("format", _string), ("items", _message(lambda v: _PRIMITIVES_ITEMS(v))),
        ("collectionFormat", _string), ("default", _message(_any)), ("maximum", _double),
        ("exclusiveMaximum", _bool), ("minimum", _double), ("exclusiveMinimum", _bool), ("maxLength", _int64),
        ("minLength", _int64), ("pattern", _string), ("maxItems", _int64), ("minItems", _int64),
        ("uniqueItems", _bool), ("enum", _repeated(_any)), ("multipleOf", _double),
    )
    return {key: (first + offset, writer) for offset, (key, writer) in enumerate(writers)}


_PARAMETER_HEAD: dict[str, tuple[int, Writer]] = {
    "required": (1, _bool), "in": (2, _string), "description": (3, _string), "name": (4, _string)}
_EXTERNAL_DOCS = _Message("ExternalDocs", {"description": (1, _string), "url": (2, _string)}, 3)
_JSON_REFERENCE = _Message("JsonReference", {"$ref": (1, _string), "description": (2, _string)})
_PRIMITIVES_ITEMS = _Message("PrimitivesItems", _primitives(1), 18)
_HEADER = _Message("Header", {**_primitives(1), "description": (18, _string)}, 19)
_QUERY_PARAMETER = _Message("QueryParameterSubSchema",
                            {**_PARAMETER_HEAD, "allowEmptyValue": (5, _bool), **_primitives(6)}, 23)
_FORM_DATA_PARAMETER = _Message("FormDataParameterSubSchema",
                                {**_PARAMETER_HEAD, "allowEmptyValue": (5, _bool), **_primitives(6)}, 23)
_PATH_PARAMETER = _Message("PathParameterSubSchema", {**_PARAMETER_HEAD, **_primitives(5)}, 22)
_HEADER_PARAMETER = _Message("HeaderParameterSubSchema", {**_PARAMETER_HEAD, **_primitives(5)}, 22)
_NON_BODY: dict[str, tuple[int, Encoder]] = {
    "header": (1, _HEADER_PARAMETER), "formData": (2, _FORM_DATA_PARAMETER), "query": (3, _QUERY_PARAMETER),
    "path": (4, _PATH_PARAMETER)}
_BODY_PARAMETER = _Message("BodyParameter", {
    "description": (1, _string), "name": (2, _string), "in": (3, _string), "required": (4, _bool),
    "schema": (5, _message(_schema))}, 6)
_XML = _Message("Xml", {"name": (1, _string), "namespace": (2, _string), "prefix": (3, _string),
                        "attribute": (4, _bool), "wrapped": (5, _bool)}, 6)
_SCHEMA = _Message("Schema", {
    "$ref": (1, _string), "format": (2, _string), "title": (3, _string), "description": (4, _string),
    "default": (5, _message(_any)), "multipleOf": (6, _double), "maximum": (7, _double),
    "exclusiveMaximum": (8, _bool), "minimum": (9, _double), "exclusiveMinimum": (10, _bool),
    "maxLength": (11, _int64), "minLength": (12, _int64), "pattern": (13, _string), "maxItems": (14, _int64),
    "minItems": (15, _int64), "uniqueItems": (16, _bool), "maxProperties": (17, _int64),
    "minProperties": (18, _int64), "required": (19, _strings), "enum": (20, _repeated(_any)),
    "additionalProperties": (21, _message(_schema_or_bool)), "type": (22, _message(_type_item)),
    "items": (23, _message(_items_item)), "allOf": (24, _repeated(_schema)),
    "properties": (25, _message(_map_of(1, _schema))), "discriminator": (26, _string), "readOnly": (27, _bool),
    "xml": (28, _message(_XML)), "externalDocs": (29, _message(_EXTERNAL_DOCS)), "example": (30, _message(_any)),
}, 31)
_RESPONSE = _Message("Response", {
    "description": (1, _string), "schema": (2, _message(_schema_item)),
    "headers": (3, _message(_map_of(1, _HEADER))), "examples": (4, _message(_map_of(1, _any)))}, 5)
_RESPONSES = _Message("Responses", {}, 2)  # its `x-` keys; status codes are written by _responses
_OPERATION = _Message("Operation", {
    "tags": (1, _strings), "summary": (2, _string), "description": (3, _string),
    "externalDocs": (4, _message(_EXTERNAL_DOCS)), "operationId": (5, _string), "produces": (6, _strings),
    "consumes": (7, _strings), "parameters": (8, _repeated(_parameters_item)),
    "responses": (9, _message(_responses)), "schemes": (10, _strings),
    "deprecated": (11, _bool), "security": (12, _repeated(_security_requirement))}, 13)
_PATH_ITEM = _Message("PathItem", {
    "$ref": (1, _string), "get": (2, _message(_OPERATION)), "put": (3, _message(_OPERATION)),
    "post": (4, _message(_OPERATION)), "delete": (5, _message(_OPERATION)), "options": (6, _message(_OPERATION)),
    "head": (7, _message(_OPERATION)), "patch": (8, _message(_OPERATION)),
    "parameters": (9, _repeated(_parameters_item))}, 10)
_BASIC_SECURITY = _Message("BasicAuthenticationSecurity", {"type": (1, _string), "description": (2, _string)}, 3)
_API_KEY_SECURITY = _Message("ApiKeySecurity", {"type": (1, _string), "name": (2, _string), "in": (3, _string),
                                                "description": (4, _string)}, 5)
_CONTACT = _Message("Contact", {"name": (1, _string), "url": (2, _string), "email": (3, _string)}, 4)
_LICENSE = _Message("License", {"name": (1, _string), "url": (2, _string)}, 3)
_INFO = _Message("Info", {
    "title": (1, _string), "version": (2, _string), "description": (3, _string),
    "termsOfService": (4, _string), "contact": (5, _message(_CONTACT)), "license": (6, _message(_LICENSE))}, 7)
_TAG = _Message("Tag", {"name": (1, _string), "description": (2, _string),
                        "externalDocs": (3, _message(_EXTERNAL_DOCS))}, 4)
_DOCUMENT = _Message("Document", {
    "swagger": (1, _string), "info": (2, _message(_INFO)), "host": (3, _string), "basePath": (4, _string),
    "schemes": (5, _strings), "consumes": (6, _strings), "produces": (7, _strings), "paths": (8, _message(_paths)),
    "definitions": (9, _message(_map_of(1, _schema))), "parameters": (10, _message(_map_of(1, _parameter))),
    "responses": (11, _message(_map_of(1, _RESPONSE))), "security": (12, _repeated(_security_requirement)),
    "securityDefinitions": (13, _message(_map_of(1, _security_definitions_item))), "tags": (14, _repeated(_TAG)),
    "externalDocs": (15, _message(_EXTERNAL_DOCS))}, 16)


def encode_document(document: dict[str, Any]) -> bytes:
    """The `openapi_v2.Document` message of a Swagger 2.0 document (a parsed JSON object)."""
    return _DOCUMENT(document)
