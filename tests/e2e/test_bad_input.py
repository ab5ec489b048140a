"""Bad input gets a clear Status — the one kube-apiserver sends — and nothing is stored."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
import requests

from conftest import RunningAPIServer

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
JSON = {"Content-Type": "application/json"}
YAML = {"Content-Type": "application/yaml"}
SCHEME = 'in scheme "k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"'


@pytest.fixture(scope="module")
def http(apiserver: RunningAPIServer) -> Iterator[requests.Session]:
    with apiserver.session() as session:
        yield session


def failure(message: str, reason: str, code: int, details: dict[str, Any] | None = None) -> dict[str, Any]:
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
              "reason": reason}
    if details is not None:
        status["details"] = details
    status["code"] = code
    return status


def names(apiserver: RunningAPIServer, http: requests.Session) -> set[str]:
    return {o["metadata"]["name"] for o in http.get(apiserver.url + CONFIGMAPS).json()["items"]}


@pytest.fixture
def nothing_stored(apiserver, http) -> Iterator[None]:
    """Asserts that the test left the configmaps (and the revision) exactly as it found them."""
    before = http.get(apiserver.url + CONFIGMAPS).json()
    yield
    after = http.get(apiserver.url + CONFIGMAPS).json()
    assert after["items"] == before["items"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def unrecognized(why: str, summary: str) -> dict[str, Any]:
    return failure(f"the object provided is unrecognized (must be of type ConfigMap): {why} ({summary})",
                   "BadRequest", 400)


@pytest.mark.parametrize("headers,body,expected", [
    pytest.param(JSON, b'{"metadata":{"name":"x"', unrecognized(
        "couldn't get version/kind; json parse error: unexpected end of JSON input", '{"metadata":{"name":"x"'),
        id="truncated-json"),
    pytest.param(JSON, b"name: x", unrecognized(
        "couldn't get version/kind; json parse error: invalid character 'a' in literal null (expecting 'u')",
        "6e616d653a2078"), id="yaml-sent-as-json"),
    pytest.param(JSON, b"[1]", unrecognized(
        "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type "
        'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }',
        "5b315d"), id="json-array"),
    pytest.param(JSON, b'{"metadata":{"name":"x"},"data":{"a":1}}', failure(
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct '
        "field ConfigMap.data of type string", "BadRequest", 400), id="wrong-field-type"),
    pytest.param(YAML, b"metadata:\n  name: [x\n", unrecognized(
        "error converting YAML to JSON: yaml: line 3: did not find expected ',' or ']'",
        "6d657461646174613a0a20206e616d653a205b780a"), id="malformed-yaml"),
    pytest.param(JSON, b'{"kind":"Secret","apiVersion":"v1","metadata":{"name":"x"}}', failure(
        'Secret in version "v1" cannot be handled as a ConfigMap: converting (v1.Secret) to (core.ConfigMap): '
        "unknown conversion", "BadRequest", 400), id="wrong-kind"),
    pytest.param(JSON, b'{"kind":"configmap","apiVersion":"v1","metadata":{"name":"x"}}', failure(
        f'configmap in version "v1" cannot be handled as a ConfigMap: no kind "configmap" is registered for '
        f'version "v1" {SCHEME}', "BadRequest", 400), id="misspelt-kind"),
    pytest.param(JSON, b'{"kind":"ConfigMap","apiVersion":"apps/v1","metadata":{"name":"x"}}', failure(
        f'ConfigMap in version "v1" cannot be handled as a ConfigMap: no kind "ConfigMap" is registered for '
        f'version "apps/v1" {SCHEME}', "BadRequest", 400), id="wrong-api-version"),
    pytest.param({"Content-Type": "text/plain"}, b'{"metadata":{"name":"x"}}', failure(
        "the body of the request was in an unknown format - accepted media types include: application/json, "
        "application/yaml, application/vnd.kubernetes.protobuf", "UnsupportedMediaType", 415),
        id="unsupported-content-type"),
])
def test_undecodable_create(apiserver, http, nothing_stored, headers, body, expected):
    response = http.post(apiserver.url + CONFIGMAPS, data=body, headers=headers)
    assert (response.status_code, response.json()) == (expected["code"], expected)
    assert response.headers["Content-Type"] == "application/json"


def test_invalid_name_is_422_with_a_cause(apiserver, http, nothing_stored):
    response = http.post(apiserver.url + CONFIGMAPS, json={"metadata": {"name": "Bad_Name"}})
    message = ("Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
               "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
               "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    assert response.status_code == 422
    assert response.json() == failure(f'ConfigMap "Bad_Name" is invalid: metadata.name: {message}', "Invalid", 422, {
        "name": "Bad_Name", "kind": "ConfigMap",
        "causes": [{"reason": "FieldValueInvalid", "message": message, "field": "metadata.name"}]})


def test_invalid_name_through_kubectl(apiserver, nothing_stored):
    result = apiserver.kubectl("create", "configmap", "Bad_Name", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(
        'error: failed to create configmap: ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"')


def test_unknown_field_strict_is_rejected(apiserver, http, nothing_stored):
    response = http.post(apiserver.url + CONFIGMAPS, params={"fieldValidation": "Strict"},
                         json={"metadata": {"name": "strict"}, "bogus": 1, "data": {"a": "b"}})
    assert response.json() == failure(
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus"',
        "BadRequest", 400)


def test_unknown_field_strict_through_kubectl(apiserver, nothing_stored):
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict\nbogus: 1\n"
    result = apiserver.kubectl("create", "-f", "-", "--validate=strict", input=manifest, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'Error from server (BadRequest): error when creating "STDIN": ConfigMap in version "v1" cannot be handled '
        'as a ConfigMap: strict decoding error: unknown field "bogus"')


def test_unknown_field_warn_stores_without_it(apiserver, http):
    response = http.post(apiserver.url + CONFIGMAPS, params={"fieldValidation": "Warn"},
                         json={"metadata": {"name": "warned"}, "bogus": 1})
    assert response.status_code == 201
    assert response.headers["Warning"] == '299 - "unknown field \\"bogus\\""'
    stored = http.get(apiserver.url + CONFIGMAPS + "/warned").json()
    assert "bogus" not in stored
    http.delete(apiserver.url + CONFIGMAPS + "/warned")


def test_body_over_3_mib_is_413(apiserver, http, nothing_stored):
    big = json.dumps({"metadata": {"name": "huge"}, "data": {"blob": "x" * (3 * 1024 * 1024)}})
    response = http.post(apiserver.url + CONFIGMAPS, data=big, headers=JSON)
    assert response.status_code == 413
    assert response.json() == failure("Request entity too large: limit is 3145728", "RequestEntityTooLarge", 413)


def test_body_over_3_mib_without_content_length_is_413(apiserver, http, nothing_stored):
    """A chunked upload cannot be refused from its header: the limit applies while reading."""
    def chunks() -> Iterator[bytes]:
        yield b'{"metadata":{"name":"huge"},"data":{"blob":"'
        for _ in range(4):
            yield b"x" * (1024 * 1024)
        yield b'"}}'

    response = http.post(apiserver.url + CONFIGMAPS, data=chunks(), headers=JSON)
    assert response.status_code == 413
    assert response.json()["reason"] == "RequestEntityTooLarge"


def test_no_credentials_is_401(apiserver):
    with apiserver.session(credentials=False) as anonymous:
        response = anonymous.get(apiserver.url + CONFIGMAPS)
        assert (response.status_code, response.json()) == (401, failure("Unauthorized", "Unauthorized", 401))
        created = anonymous.post(apiserver.url + CONFIGMAPS, json={"metadata": {"name": "anon"}})
        assert created.status_code == 401
        assert anonymous.get(apiserver.url + "/version").status_code == 200  # as upstream: /version is public


@pytest.mark.parametrize("path", ["/api/v1/namespaces/default/widgets", "/apis/nope.example.com/v1/things",
                                  "/api/v1/namespaces/default/events/e/status", "/apis/apps/v2/deployments"])
def test_unknown_resource_path_is_404(apiserver, http, path):
    response = http.get(apiserver.url + path)
    assert (response.status_code, response.json()) == (
        404, failure("the server could not find the requested resource", "NotFound", 404, {}))


@pytest.mark.parametrize("method,path,verb,kind", [
    ("GET", "/api/v1/namespaces/default/bindings", "list", "bindings"),
    ("POST", CONFIGMAPS + "/named", "create", "configmaps"),
    ("PUT", CONFIGMAPS, "update", "configmaps"),
    ("PATCH", CONFIGMAPS, "patch", "configmaps"),
])
def test_unsupported_verb_is_405(apiserver, http, nothing_stored, method, path, verb, kind):
    headers = {"Content-Type": "application/merge-patch+json" if method == "PATCH" else "application/json"}
    response = http.request(method, apiserver.url + path, data=b'{"metadata":{"name":"named"}}', headers=headers)
    assert (response.status_code, response.json()) == (405, failure(
        f'{verb} is not supported on resources of kind "{kind}"', "MethodNotAllowed", 405, {"kind": kind}))


def test_bad_patch_bodies_change_nothing(apiserver, http):
    http.post(apiserver.url + CONFIGMAPS, json={"metadata": {"name": "target"}, "data": {"a": "1"}})
    before = http.get(apiserver.url + CONFIGMAPS + "/target").json()
    url = apiserver.url + CONFIGMAPS + "/target"
    malformed = http.patch(url, data=b'{"data":', headers={"Content-Type": "application/merge-patch+json"})
    assert (malformed.status_code, malformed.json()["reason"]) == (400, "BadRequest")
    unsupported = http.patch(url, data=b"{}", headers={"Content-Type": "application/json"})
    assert (unsupported.status_code, unsupported.json()["reason"]) == (415, "UnsupportedMediaType")
    failed_test = http.patch(url, json=[{"op": "test", "path": "/data/a", "value": "2"}],
                             headers={"Content-Type": "application/json-patch+json"})
    assert failed_test.status_code == 422
    invalid = http.patch(url, json={"metadata": {"labels": {"-bad": "x"}}},
                         headers={"Content-Type": "application/merge-patch+json"})
    assert (invalid.status_code, invalid.json()["reason"]) == (422, "Invalid")
    assert http.get(url).json() == before


def test_a_container_without_a_name_is_422_not_a_500(apiserver):
    """The typed walk behind managedFields cannot place a keyed list item without its key; as
    upstream's UpdateNoErrors, the write drops managedFields and lets validation answer."""
    apiserver.kubectl("create", "deployment", "nameless", "--image=nginx")
    deployment = json.loads(apiserver.kubectl("get", "deployment", "nameless", "-o", "json").stdout)
    del deployment["spec"]["template"]["spec"]["containers"][0]["name"]
    replaced = apiserver.kubectl("replace", "-f", "-", input=json.dumps(deployment), check=False)
    assert replaced.stderr.strip() == (
        'The Deployment "nameless" is invalid: spec.template.spec.containers[0].name: Required value')
    patched = apiserver.kubectl("patch", "deployment", "nameless", "--type=json", "-p",
                                '[{"op":"add","path":"/spec/template/spec/containers/-","value":{"image":"busybox"}}]',
                                check=False)
    assert patched.stderr.strip().endswith("spec.template.spec.containers[1].name: Required value")
    after = json.loads(apiserver.kubectl("get", "deployment", "nameless", "-o", "json").stdout)
    assert after["metadata"]["resourceVersion"] == deployment["metadata"]["resourceVersion"]
    apiserver.kubectl("delete", "deployment", "nameless")


@pytest.mark.parametrize("method,query,body,message", [
    ("GET", "?limit=abc", None, 'strconv.ParseInt: parsing "abc": invalid syntax'),
    ("GET", "?watch=true&timeoutSeconds=1.5", None, 'strconv.ParseInt: parsing "1.5": invalid syntax'),
    ("DELETE", "/target?gracePeriodSeconds=soon", None, 'strconv.ParseInt: parsing "soon": invalid syntax'),
    ("DELETE", "/target", {"gracePeriodSeconds": "x"}, 'DeleteOptions in version "v1" cannot be handled as a '
     "DeleteOptions: json: cannot unmarshal string into Go struct field DeleteOptions.gracePeriodSeconds of type int64"),
    ("DELETE", "/target", {"preconditions": "x"}, 'DeleteOptions in version "v1" cannot be handled as a '
     "DeleteOptions: json: cannot unmarshal string into Go struct field DeleteOptions.preconditions of type v1.Preconditions"),
], ids=["limit", "timeoutSeconds", "gracePeriodSeconds-query", "gracePeriodSeconds-body", "preconditions-body"])
def test_malformed_parameters_and_delete_options_are_400_not_500(apiserver, http, method, query, body, message):
    http.post(apiserver.url + CONFIGMAPS, json={"metadata": {"name": "target"}})
    response = http.request(method, apiserver.url + CONFIGMAPS + query, json=body)
    assert (response.status_code, response.json()["reason"], response.json()["message"]) == (400, "BadRequest", message)
    assert http.get(apiserver.url + CONFIGMAPS + "/target").status_code == 200
