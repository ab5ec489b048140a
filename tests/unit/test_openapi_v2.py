"""The OpenAPI v2 document and its gnostic protobuf encoding (`kinn.api.openapi.v2`, `.gnostic`).

client-go decodes the protobuf with gnostic's generated `openapi_v2.Document`, so the tests read the
bytes back with kinn's own wire reader and check field numbers and nesting against
github.com/google/gnostic-models openapiv2/OpenAPIv2.proto, walking the document the way kubectl
does: definitions by their `x-kubernetes-group-version-kind`, and a PATCH operation's
`fieldValidation` query parameter.
"""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

import pytest
import yaml

from kinn.api.openapi.gnostic import UnencodableDocument, encode_document
from kinn.api.openapi.v2 import openapi_v2_etag, openapi_v2_json, openapi_v2_protobuf, swagger_document
from kinn.api.protobuf.wire import (FIXED64, LENGTH_DELIMITED, VARINT, bytes_field, double_field, encode_varint,
                                    iter_fields, read_varint, varint_field)
from kinn.apiserver.negotiation import JSON, OPENAPI_V2_PROTOBUF, negotiate_openapi_v2

Records = dict[int, list[Any]]


def records(data: bytes) -> Records:
    """Each field number's values in order; also asserts proto.Marshal's field-number order."""
    out: Records = {}
    numbers = []
    for number, _, value in iter_fields(data):
        numbers.append(number)
        out.setdefault(number, []).append(value)
    assert numbers == sorted(numbers)
    return out


def named(data: bytes, field: int) -> dict[str, bytes]:
    """A gnostic `Named<T>{name 1, value 2}` list (field `field` of `data`) as a dict of raw values."""
    out = {}
    for entry in records(data).get(field, []):
        fields = records(entry)
        out[fields[1][0].decode()] = fields.get(2, [b""])[0]
    return out


def any_value(data: bytes) -> Any:
    """`Any{yaml 2}` read the way kube-openapi's proto package reads it: yaml.Unmarshal."""
    return yaml.safe_load(records(data)[2][0].decode())


# ---------------------------------------------------------------- wire writers


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**63 - 1, -1, -(2**63)])
def test_varint_round_trips(value: int) -> None:
    encoded = encode_varint(value)
    decoded, end = read_varint(encoded, 0)
    assert end == len(encoded)
    assert decoded == value & (2**64 - 1)
    assert len(encoded) == 10 if value < 0 else len(encoded) < 10


def test_field_writers_produce_the_records_the_reader_sees() -> None:
    data = varint_field(3, 150) + bytes_field(2, b"testing") + double_field(7, 1.5)
    assert data[:3] == bytes.fromhex("189601")  # the protobuf documentation's own example
    assert list(iter_fields(data)) == [(3, VARINT, 150), (2, LENGTH_DELIMITED, b"testing"),
                                       (7, FIXED64, struct.pack("<d", 1.5))]


# ---------------------------------------------------------------- a small schema

SCHEMA = {
    "description": "A small kind.",
    "maximum": 1.5,
    "maxLength": 3,
    "properties": {
        "labels": {"additionalProperties": {"type": "string"}, "type": "object"},
        "closed": {"additionalProperties": False},
        "ports": {"items": {"type": "integer", "format": "int32"}, "type": "array",
                  "x-kubernetes-list-type": "atomic"},
        "spec": {"$ref": "#/definitions/io.example.Spec", "description": "The spec."},
    },
    "required": ["spec", "ports"],
    "type": "object",
    "uniqueItems": True,
    "x-kubernetes-group-version-kind": [{"group": "example.io", "kind": "Small", "version": "v1"}],
}


def encoded_schema() -> bytes:
    """Encode a document holding SCHEMA; return that Schema's bytes."""
    document = records(encode_document({"swagger": "2.0", "definitions": {"io.example.Small": SCHEMA}}))
    assert document[1] == [b"2.0"]
    [definitions] = document[9]  # Definitions{repeated NamedSchema additional_properties = 1}
    return named(definitions, 1)["io.example.Small"]


def test_schema_field_numbers_and_nesting() -> None:
    schema = records(encoded_schema())
    assert schema[4] == [b"A small kind."]
    assert schema[7] == [struct.pack("<d", 1.5)]  # maximum: double
    assert schema[11] == [3]  # maxLength: int64
    assert schema[16] == [1]  # uniqueItems: bool
    assert schema[19] == [b"spec", b"ports"]  # required: repeated string, in order
    assert records(schema[22][0]) == {1: [b"object"]}  # TypeItem{repeated string value = 1}
    properties = named(schema[25][0], 1)  # Properties{repeated NamedSchema additional_properties = 1}
    assert list(properties) == ["labels", "closed", "ports", "spec"]  # document order

    spec = records(properties["spec"])
    assert spec == {1: [b"#/definitions/io.example.Spec"], 4: [b"The spec."]}
    labels = records(properties["labels"])
    [values] = records(labels[21][0])[1]  # AdditionalPropertiesItem{schema 1}
    assert records(records(values)[22][0]) == {1: [b"string"]}
    assert records(records(properties["closed"])[21][0]) == {2: [0]}  # {boolean 2}: false is still sent
    ports = records(properties["ports"])
    [item] = records(ports[23][0])[1]  # ItemsItem{repeated Schema schema = 1}
    assert records(item)[2] == [b"int32"]
    assert any_value(named(properties["ports"], 31)["x-kubernetes-list-type"]) == "atomic"


def test_vendor_extensions_are_named_any_yaml() -> None:
    extensions = named(encoded_schema(), 31)  # Schema.vendor_extension: NamedAny{name 1, Any{yaml 2}}
    assert any_value(extensions["x-kubernetes-group-version-kind"]) == [
        {"group": "example.io", "kind": "Small", "version": "v1"}]


def test_a_property_gnostic_would_reject_is_an_error() -> None:
    with pytest.raises(UnencodableDocument, match="Schema has invalid property: nullable"):
        encode_document({"definitions": {"x": {"type": "object", "nullable": True}}})


# ---------------------------------------------------------------- the served document


def test_the_whole_document_encodes_and_resolves() -> None:
    document = swagger_document()
    assert document["swagger"] == "2.0"
    refs = _refs(document)
    assert refs and all(ref.startswith("#/definitions/") for ref in refs)
    missing = {ref for ref in refs if ref.rpartition("/")[2] not in document["definitions"]}
    assert not missing  # kubectl's models would hold a dangling reference
    assert openapi_v2_protobuf() == encode_document(json.loads(openapi_v2_json()))
    assert openapi_v2_etag() == '"' + hashlib.sha512(openapi_v2_json()).hexdigest().upper() + '"'


def _refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        own = {value["$ref"]} if isinstance(value.get("$ref"), str) else set()
        return own.union(*(_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value))
    return set()


def test_kubectl_finds_a_kind_by_its_group_version_kind() -> None:
    """kube-openapi's proto.NewOpenAPIData indexes models by the definitions' GVK extension."""
    document = records(openapi_v2_protobuf())
    assert records(document[2][0]) == {1: [b"Kubernetes"], 2: [b"unversioned"]}
    by_gvk = {}
    for name, schema in named(document[9][0], 1).items():
        extension = named(schema, 31).get("x-kubernetes-group-version-kind")
        for gvk in any_value(extension) if extension else ():
            by_gvk[(gvk["group"], gvk["version"], gvk["kind"])] = name
    assert by_gvk[("apps", "v1", "Deployment")] == "io.k8s.api.apps.v1.Deployment"
    assert by_gvk[("", "v1", "ConfigMap")] == "io.k8s.api.core.v1.ConfigMap"
    spec = named(records(named(document[9][0], 1)["io.k8s.api.apps.v1.DeploymentSpec"])[25][0], 1)
    assert "replicas" in spec and "replicaz" not in spec


def test_patch_operations_declare_field_validation_where_kubectl_looks() -> None:
    """cli-runtime's v2 verifier: Paths.path → PathItem.patch → Operation.parameters →
    ParametersItem.parameter → Parameter.non_body_parameter → query_parameter_sub_schema.name."""
    paths = records(records(openapi_v2_protobuf())[8][0])
    items = {records(entry)[1][0].decode(): records(entry)[2][0] for entry in paths[2]}
    deployment = records(items["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"])
    patch = records(deployment[8][0])
    assert patch[5] == [b"patchAppsV1NamespacedDeployment"]
    assert any_value(named(deployment[8][0], 13)["x-kubernetes-group-version-kind"]) == {
        "group": "apps", "kind": "Deployment", "version": "v1"}
    query_names, body = [], None
    for item in patch[8]:
        parameter = records(records(item)[1][0])
        if 1 in parameter:
            body = records(parameter[1][0])
        else:
            query_names += [records(query)[4][0] for query in records(parameter[2][0]).get(3, [])]
    assert b"fieldValidation" in query_names
    assert body is not None and body[2] == [b"body"] and body[3] == [b"body"] and body[4] == [1]
    assert records(body[5][0]) == {1: [b"#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"]}
    assert patch[7] == [b"application/json-patch+json", b"application/merge-patch+json",
                        b"application/strategic-merge-patch+json", b"application/apply-patch+yaml"]
    [responses] = patch[9]
    ok = named(responses, 1)["200"]
    response = records(records(ok)[1][0])  # ResponseValue{response 1} → Response{description 1, schema 2}
    assert response[1] == [b"OK"]
    assert records(records(response[2][0])[1][0]) == {1: [b"#/definitions/io.k8s.api.apps.v1.Deployment"]}
    path_parameters = [records(records(records(item)[1][0])[2][0]) for item in deployment[9]]
    assert [list(p) for p in path_parameters] == [[4], [4], [3]]  # name, namespace (path); pretty (query)
    name = records(path_parameters[0][4][0])  # PathParameterSubSchema: required 1, in 2, name 4, type 5
    assert (name[1], name[2], name[4], name[5]) == ([1], [b"path"], [b"name"], [b"string"])


def test_json_restates_the_v3_operations() -> None:
    document = json.loads(openapi_v2_json())
    create = document["paths"]["/api/v1/namespaces/{namespace}/configmaps"]["post"]
    assert create["consumes"] == ["*/*"]
    assert create["produces"] == ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
    assert [p["name"] for p in create["parameters"]] == ["body", "dryRun", "fieldManager", "fieldValidation"]
    assert create["parameters"][0] == {"in": "body", "name": "body", "required": True,
                                       "schema": {"$ref": "#/definitions/io.k8s.api.core.v1.ConfigMap"}}
    assert create["parameters"][1]["type"] == "string" and "schema" not in create["parameters"][1]
    assert create["responses"]["201"] == {"description": "Created",
                                          "schema": {"$ref": "#/definitions/io.k8s.api.core.v1.ConfigMap"}}
    assert create["schemes"] == ["https"] and create["x-kubernetes-action"] == "post"
    discovery = document["paths"]["/apis/apps/v1/"]["get"]
    assert discovery["consumes"] == discovery["produces"]


@pytest.mark.parametrize(("accept", "served"), [
    (None, JSON), ("application/json", JSON), ("*/*", JSON),
    ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", OPENAPI_V2_PROTOBUF),
    ("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", OPENAPI_V2_PROTOBUF),
    ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json", OPENAPI_V2_PROTOBUF),
    ("text/html", None),
])
def test_negotiation(accept: str | None, served: str | None) -> None:
    assert negotiate_openapi_v2(accept) == served


def test_security_as_upstream_declares_it() -> None:
    document = records(openapi_v2_protobuf())
    [requirement] = document[12]  # SecurityRequirement{NamedStringArray{name 1, StringArray 2}}
    assert named(requirement, 1) == {"BearerToken": b""}
    [definitions] = document[13]  # SecurityDefinitions{NamedSecurityDefinitionsItem}
    item = records(named(definitions, 1)["BearerToken"])
    api_key = records(item[2][0])  # SecurityDefinitionsItem{api_key_security 2}
    assert api_key == {1: [b"apiKey"], 2: [b"authorization"], 3: [b"header"], 4: [b"Bearer Token authentication"]}
