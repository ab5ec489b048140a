"""Request-body decoding: unknown/duplicate fields per fieldValidation, Go-style type errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kinn.api.decoding import check_fields, decode, decode_object, warning_header
from kinn.api.errors import StatusError

PREFIX = 'Deployment in version "v1" cannot be handled as a Deployment: '


def _deployment(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx"}]}}, **spec}}


def _decode_json(obj: Any, mode: str = "Warn", kind: str = "Deployment", group: str = "apps") -> tuple[dict, list]:
    return decode(json.dumps(obj).encode(), "application/json", group, "v1", kind, mode)  # type: ignore[arg-type]


def _error(raw: bytes, content_type: str = "application/json", mode: str = "Warn", kind: str = "Deployment",
           group: str = "apps") -> StatusError:
    with pytest.raises(StatusError) as info:
        decode(raw, content_type, group, "v1", kind, mode)  # type: ignore[arg-type]
    assert info.value.code == 400 and info.value.reason == "BadRequest"
    return info.value


def test_known_object_passes_unchanged() -> None:
    obj, warnings = _decode_json(_deployment())
    assert obj == _deployment()
    assert warnings == []


def test_unknown_fields_are_pruned_and_warned_with_full_paths() -> None:
    body = _deployment(foo=1)
    body["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    obj, warnings = _decode_json(body)
    assert warnings == ['unknown field "spec.template.spec.containers[0].imagePullPolice"', 'unknown field "spec.foo"']
    assert "foo" not in obj["spec"]
    assert obj["spec"]["template"]["spec"]["containers"][0] == {"name": "web", "image": "nginx"}


def test_ignore_prunes_silently() -> None:
    obj, warnings = _decode_json(_deployment(foo=1), mode="Ignore")
    assert warnings == [] and "foo" not in obj["spec"]


def test_strict_rejects_unknown_and_duplicate_fields_in_document_order() -> None:
    raw = (b'{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","unknownMeta":"x"},'
           b'"spec":{"unknownField":"x","replicas":2,"replicas":3}}')
    error = _error(raw, mode="Strict")
    assert error.message == PREFIX + (
        'strict decoding error: unknown field "metadata.unknownMeta", unknown field "spec.unknownField", '
        'duplicate field "spec.replicas"')
    assert error.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                              "message": error.message, "reason": "BadRequest", "code": 400}


def test_duplicate_json_field_keeps_the_last_value_when_warning() -> None:
    obj, warnings = decode(b'{"kind":"ConfigMap","data":{"a":"1","a":"2"},"kind":"ConfigMap"}',
                           "application/json", "", "v1", "ConfigMap")
    assert obj["data"] == {"a": "2"}
    assert warnings == ['duplicate field "data.a"', 'duplicate field "kind"']


def test_yaml_duplicate_keys_use_yaml_v2_wording() -> None:
    raw = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\ndata:\n  x: '1'\n  x: '2'\n"
    error = _error(raw, "application/yaml", "Strict", "ConfigMap", "")
    assert error.message == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: error converting YAML '
        'to JSON: yaml: unmarshal errors:\n  line 5: key "name" already set in map\n'
        '  line 8: key "x" already set in map')
    obj, warnings = decode(raw, "application/yaml", "", "v1", "ConfigMap")
    assert obj["metadata"] == {"name": "b"} and len(warnings) == 1


@pytest.mark.parametrize(("spec", "message"), [
    ({"replicas": "3"}, "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ({"replicas": 1.5}, "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas "
                        "of type int32"),
    ({"replicas": 2**31}, "json: cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas "
                          "of type int32"),
    ({"paused": "yes"}, "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool"),
    ({"selector": []}, "json: cannot unmarshal array into Go struct field DeploymentSpec.spec.selector "
                       "of type v1.LabelSelector"),
    ({"template": {"spec": {"containers": {"name": "x"}}}},
     "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container"),
    ({"template": {"spec": {"containers": [{"name": "x", "ports": [{"containerPort": "80"}]}]}}},
     "json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports."
     "containerPort of type int32"),
    ({"strategy": {"rollingUpdate": {"maxSurge": {}}}},
     "json: cannot unmarshal object into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge "
     "of type int32"),
    ({"template": {"metadata": {"labels": {"app": 1}}}},
     "json: cannot unmarshal number into Go struct field ObjectMeta.spec.template.metadata.labels of type string"),
    ({"template": {"spec": {"containers": [{"name": "x", "resources": {"limits": {"cpu": "1 core"}}}]}}},
     "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
])
def test_type_errors_abort_in_every_mode(spec: dict[str, Any], message: str) -> None:
    body = _deployment()
    body["spec"] = spec
    for mode in ("Ignore", "Warn", "Strict"):
        assert _error(json.dumps(body).encode(), mode=mode).message == PREFIX + message


def test_values_are_normalized_as_a_go_round_trip_would() -> None:
    body = _deployment(strategy={"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}})
    body["metadata"]["creationTimestamp"] = "2024-05-01T12:00:00+02:00"
    body["metadata"]["annotations"] = None
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": 0.5, "memory": "1Gi"}}
    body["spec"]["template"]["spec"]["containers"][0]["args"] = ["a", None]
    obj, _ = _decode_json(body)
    assert obj["metadata"]["creationTimestamp"] == "2024-05-01T10:00:00Z"
    assert "annotations" not in obj["metadata"]
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}}
    assert container["args"] == ["a", ""]
    assert obj["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 1}


def test_empty_maps_and_lists_in_omitempty_fields_are_dropped_as_go_encodes_them() -> None:
    body = _deployment()
    body["metadata"].update(labels={}, annotations={}, finalizers=[])
    body["spec"]["template"]["spec"]["containers"][0].update(args=[], resources={})
    obj, _ = _decode_json(body)
    assert obj["metadata"] == {"name": "web"}
    assert obj["spec"]["template"]["spec"]["containers"][0] == {"name": "web", "image": "nginx", "resources": {}}


def test_bad_timestamp_uses_time_parse_wording() -> None:
    body = _deployment()
    body["metadata"]["creationTimestamp"] = "yesterday"
    assert _error(json.dumps(body).encode()).message == PREFIX + (
        'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"')


@pytest.mark.parametrize(("written", "stored"), [
    ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),         # canonical: kept as is
    ("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z"),    # marshalled back in UTC
    ("2024-05-01T10:00:00.5Z", "2024-05-01T10:00:00Z"),       # metav1.Time keeps seconds
])
def test_timestamps_are_stored_as_go_marshals_them(written: str, stored: str) -> None:
    body = _deployment()
    body["metadata"]["creationTimestamp"] = written
    assert _decode_json(body)[0]["metadata"]["creationTimestamp"] == stored


def test_a_canonical_looking_timestamp_off_the_calendar_fails_as_time_parse_does() -> None:
    body = _deployment()
    body["metadata"]["creationTimestamp"] = "2024-02-30T10:00:00Z"
    assert _error(json.dumps(body).encode()).message == PREFIX + 'parsing time "2024-02-30T10:00:00Z": day out of range'


def test_managed_fields_with_a_repeated_key_are_still_reported() -> None:
    raw = (b'{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "managedFields": '
           b'[{"manager": "m", "fieldsV1": {"f:spec": {}, "f:spec": {}}}]}}')
    with pytest.raises(StatusError, match=r'duplicate field "metadata.managedFields\[0\].fieldsV1.f:spec"'):
        decode(raw, "application/json", "apps", "v1", "Deployment", "Strict")


def test_secret_data_must_be_base64() -> None:
    raw = b"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  password: hello\n"
    error = _error(raw, "application/yaml", kind="Secret", group="")
    assert error.message == 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4'
    obj, _ = decode(raw.replace(b"hello", b"aGVsbG8="), "application/yaml", "", "v1", "Secret")
    assert obj["data"] == {"password": "aGVsbG8="}


def test_opaque_and_preserved_fields_are_kept() -> None:
    body = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "r"}, "revision": 1,
            "data": {"anything": {"goes": [1, "x"]}}}
    obj, warnings = _decode_json(body, kind="ControllerRevision")
    assert obj == body and warnings == []


def test_yaml_reads_like_sigs_k8s_io_yaml() -> None:
    # YAML 1.1 as yaml.v2 reads it: timestamps stay strings, `on` is the boolean true.
    raw = (b"kind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    when: 2024-01-01\n    on: 'yes'\n"
           b"data:\n  true: x\n---\nkind: Ignored\n")
    obj = decode_object(raw, "application/yaml")
    assert obj == {"kind": "ConfigMap", "metadata": {"name": "c", "annotations": {"when": "2024-01-01", "true": "yes"}},
                   "data": {"true": "x"}}


@pytest.mark.parametrize(("raw", "content_type", "message"), [
    (b'{"kind": ', "application/json", "unexpected end of JSON input"),
    (b'{"kind" 1}', "application/json", "invalid character '1' after object key"),
    (b"apiVersion: v1", "application/json", "invalid character 'a' looking for beginning of value"),
    (b"a: [1", "application/yaml", "error converting YAML to JSON: yaml: line 2: did not find expected ',' or ']'"),
    (b"[1]", "application/json", 'json: cannot unmarshal array into Go value of type struct { APIVersion string '
                                 '"json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'),
])
def test_malformed_bodies(raw: bytes, content_type: str, message: str) -> None:
    with pytest.raises(StatusError) as info:
        decode_object(raw, content_type)
    assert (info.value.code, info.value.message) == (400, message)


def test_check_fields_on_a_plain_dict_and_unknown_kind() -> None:
    obj = {"kind": "Nope", "anything": 1}
    assert check_fields(obj, "example.com", "v1", "Nope") == []
    assert obj == {"kind": "Nope", "anything": 1}


def test_warning_header_format() -> None:
    assert warning_header('unknown field "spec.foo"') == '299 - "unknown field \\"spec.foo\\""'


def test_members_unchanged_from_the_checked_object_are_not_walked_again() -> None:
    """A patch's result is checked against the object it was applied to: identical members are
    taken as they are; a changed member is walked, unknown fields and type errors included."""
    stored = _deployment()
    check_fields(stored, "apps", "v1", "Deployment")
    patched = json.loads(json.dumps(stored))
    patched["status"] = {"replicas": 2, "bogus": 1}
    spec = patched["spec"]
    warnings = check_fields(patched, "apps", "v1", "Deployment", checked=stored)
    assert warnings == ['unknown field "status.bogus"']
    assert patched["spec"] is spec  # kept, not rebuilt by a walk
    assert patched["status"] == {"replicas": 2}
    assert list(patched) == ["apiVersion", "kind", "metadata", "spec", "status"]


@pytest.mark.parametrize("replicas", [True, 1.0])
def test_a_member_equal_only_to_python_is_walked(replicas: Any) -> None:
    """`true == 1 == 1.0` in Python, not to Go: a changed type is a change, and the decoder rejects it."""
    stored = _deployment(replicas=1)
    check_fields(stored, "apps", "v1", "Deployment")
    patched = json.loads(json.dumps(stored))
    patched["spec"]["replicas"] = replicas
    with pytest.raises(StatusError) as info:
        check_fields(patched, "apps", "v1", "Deployment", checked=stored)
    assert "spec.replicas of type int32" in info.value.message
