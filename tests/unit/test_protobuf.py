"""Decoding Kubernetes protobuf request bodies (`kinn.api.protobuf`).

The fixtures under fixtures/protobuf are real bodies the real kubectl 1.32 POSTed for `kubectl
create ...` (`<name>.pb`) next to what the same command prints with `--dry-run=client -o json`
(`<name>.json`); both come from the one Go object kubectl builds, so decoding must reproduce the
JSON exactly, key order included (`kubectl create token` has no dry run: token.json is hand-written).
pod_debug_copy.pb is what `kubectl debug rich --copy-to=rich-dbg --container=dbg -- sleep 1` POSTed
for a pod with security contexts, hooks, downwardAPI and projected volumes. Refresh them with `python tests/unit/kubectl_capture.py`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kinn.api.errors import StatusError
from kinn.api.protobuf import KINDS, MEDIA_TYPE, decode_protobuf_object
from kinn.api.protobuf.schema import MESSAGES, SPECIAL, parse_field
from kinn.api.protobuf.wire import bytes_field, varint_field

from kubectl_capture import COMMANDS, FIXTURES, StubServer, kubectl_available, run_kubectl

# --- a tiny protobuf writer, to build bodies kubectl does not send ------------------------------


def pb(number: int, value: int | bool | str | bytes) -> bytes:
    if isinstance(value, (bool, int)):
        return varint_field(number, int(value))
    data = value.encode() if isinstance(value, str) else value
    return bytes_field(number, data)


def body(api_version: str, kind: str, *fields: bytes, envelope: bytes = b"") -> bytes:
    type_meta = pb(1, api_version) + pb(2, kind)
    return b"k8s\x00" + pb(1, type_meta) + pb(2, b"".join(fields)) + envelope


def meta(name: str, *fields: bytes) -> bytes:
    return pb(1, pb(1, name) + b"".join(fields))


# --- real kubectl bodies -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_kubectl_body_decodes_to_the_json_kubectl_prints(name: str) -> None:
    decoded = decode_protobuf_object((FIXTURES / f"{name}.pb").read_bytes())
    expected = json.loads((FIXTURES / f"{name}.json").read_text())
    assert decoded == expected
    assert json.dumps(decoded) == json.dumps(expected)  # same key order as Go's encoder


def test_debug_copy_of_a_pod_decodes_to_the_pod_it_copies() -> None:
    """`kubectl debug POD --copy-to` POSTs the pod's spec as the API server returned it (its
    service-account projected volume, security contexts, hooks …) with nodeName dropped and the
    debug container added; pod_debug_copy.json is that server JSON with those two changes."""
    decoded = decode_protobuf_object((FIXTURES / "pod_debug_copy.pb").read_bytes())
    assert decoded == json.loads((FIXTURES / "pod_debug_copy.json").read_text())


def test_deployment_body_in_detail() -> None:
    """gogo sends every non-pointer field; only the ones JSON would print survive."""
    obj = decode_protobuf_object((FIXTURES / "deployment.pb").read_bytes())
    assert obj["metadata"] == {"name": "web", "creationTimestamp": None, "labels": {"app": "web"}}
    assert obj["spec"]["strategy"] == {} and obj["status"] == {}
    assert obj["spec"]["template"]["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}], "resources": {}}
    ]


def test_secret_data_is_base64_as_in_json() -> None:
    obj = decode_protobuf_object((FIXTURES / "secret.pb").read_bytes())
    assert obj["data"] == {"pass": "czNjcjN0", "user": "YWRtaW4="}


# --- field semantics (hand-built bodies) --------------------------------------------------------


def test_pointer_scalar_zero_is_kept_but_omitempty_zero_is_dropped() -> None:
    spec = pb(1, 0) + pb(5, 0) + pb(6, 10)  # replicas=0 (*int32), minReadySeconds=0, revisionHistoryLimit
    obj = decode_protobuf_object(body("apps/v1", "Deployment", meta("web"), pb(2, spec)))
    assert obj["spec"] == {"replicas": 0, "revisionHistoryLimit": 10, "template": {
        "metadata": {"creationTimestamp": None}, "spec": {"containers": None}}, "strategy": {}}


def test_time_is_rfc3339_utc_and_zero_time_is_null() -> None:
    created = pb(8, pb(1, 1704067200) + pb(2, 500))  # nanoseconds are not part of Time's JSON
    deleted = pb(9, b"")
    obj = decode_protobuf_object(body("v1", "Namespace", meta("ns", created, deleted)))
    assert obj["metadata"]["creationTimestamp"] == "2024-01-01T00:00:00Z"
    assert obj["metadata"]["deletionTimestamp"] is None


def test_negative_integers() -> None:
    obj = decode_protobuf_object(body("scheduling.k8s.io/v1", "PriorityClass", meta("low"), pb(2, -5)))
    assert obj["value"] == -5


def test_no_omitempty_scalar_is_printed_even_when_absent() -> None:
    obj = decode_protobuf_object(body("scheduling.k8s.io/v1", "PriorityClass", meta("zero")))
    assert obj == {"kind": "PriorityClass", "apiVersion": "scheduling.k8s.io/v1",
                   "metadata": {"name": "zero", "creationTimestamp": None}, "value": 0}


def test_int_or_string_and_quantity() -> None:
    spec = pb(1, pb(1, 1) + pb(3, "50%")) + pb(3, pb(1, 0) + pb(2, 2))
    obj = decode_protobuf_object(body("policy/v1", "PodDisruptionBudget", meta("p"), pb(2, spec)))
    assert obj["spec"] == {"minAvailable": "50%", "maxUnavailable": 2}
    hard = pb(1, pb(1, "cpu") + pb(2, pb(1, "500m"))) + pb(1, pb(1, "pods") + pb(2, b""))
    obj = decode_protobuf_object(body("v1", "ResourceQuota", meta("q"), pb(2, hard)))
    assert obj["spec"] == {"hard": {"cpu": "500m", "pods": "0"}}


def test_service_port_without_target_port_prints_zero_as_go_does() -> None:
    """targetPort is a non-pointer IntOrString struct: `omitempty` cannot drop it."""
    port = pb(3, 80) + pb(4, b"")
    obj = decode_protobuf_object(body("v1", "Service", meta("s"), pb(2, pb(1, port))))
    assert obj["spec"]["ports"] == [{"port": 80, "targetPort": 0}]
    assert obj["status"] == {"loadBalancer": {}}


def test_inline_structs_and_binary_data() -> None:
    env = pb(1, "MODE") + pb(3, pb(3, pb(1, pb(1, "settings")) + pb(2, "mode")))
    container = pb(1, "app") + pb(7, env)
    volume = pb(1, "cfg") + pb(2, pb(19, pb(1, pb(1, "settings"))))
    pod = pb(1, volume) + pb(2, container)
    job = decode_protobuf_object(body("batch/v1", "Job", meta("j"), pb(2, pb(6, pb(2, pod)))))
    spec = job["spec"]["template"]["spec"]
    assert spec["volumes"] == [{"name": "cfg", "configMap": {"name": "settings"}}]
    assert spec["containers"][0]["env"] == [
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}]
    binary = pb(3, pb(1, "blob") + pb(2, b"\x00\xff"))
    assert decode_protobuf_object(body("v1", "ConfigMap", meta("c"), binary))["binaryData"] == {"blob": "AP8="}


def test_pointer_without_omitempty_is_null_when_unset() -> None:
    """`kubectl create token robot` with no flags: TokenRequestSpec's fields lack `omitempty`."""
    obj = decode_protobuf_object(body("authentication.k8s.io/v1", "TokenRequest", pb(1, b""), pb(2, b"")))
    assert obj["spec"] == {"audiences": None, "expirationSeconds": None, "boundObjectRef": None}
    assert obj["status"] == {"token": "", "expirationTimestamp": None}


def test_unknown_fields_are_skipped() -> None:
    extra = pb(99, 7) + pb(98, "future") + b"\x59" + b"\x00" * 8 + b"\x65" + b"\x00" * 4  # fixed64, fixed32
    obj = decode_protobuf_object(body("v1", "ServiceAccount", meta("sa", pb(60, "x")), extra))
    assert obj == {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "sa", "creationTimestamp": None}}


def test_envelope_content_type_may_name_protobuf() -> None:
    obj = decode_protobuf_object(body("v1", "ServiceAccount", meta("sa"), envelope=pb(4, MEDIA_TYPE)))
    assert obj["metadata"]["name"] == "sa"


# --- errors ------------------------------------------------------------------------------------


def _error(data: bytes) -> StatusError:
    with pytest.raises(StatusError) as caught:
        decode_protobuf_object(data)
    return caught.value


def test_body_without_magic_is_a_bad_request() -> None:
    err = _error(b'{"kind": "Pod"}')
    assert (err.code, err.reason) == (400, "BadRequest")
    assert err.message == ("unable to decode protobuf body: provided data does not appear to be a protobuf "
                           "message, expected prefix [107, 56, 115, 0]")


def test_truncated_body_is_a_bad_request() -> None:
    data = (FIXTURES / "deployment.pb").read_bytes()
    assert _error(data[:-3]).message == "unable to decode protobuf body: unexpected EOF"


def test_malformed_object_names_the_field() -> None:
    template = pb(2, pb(2, b"\x0a\x05ab"))  # a container whose name claims 5 bytes but has 2
    err = _error(body("apps/v1", "Deployment", meta("web"), pb(2, pb(3, template))))
    assert err.code == 400
    assert err.message == ("unable to decode protobuf body of kind Deployment: "
                           "spec.template.spec.containers: unexpected EOF")


def test_wrong_wire_type_is_a_bad_request() -> None:
    err = _error(body("v1", "ConfigMap", pb(1, 5)))  # metadata as a varint
    assert err.message == ("unable to decode protobuf body of kind ConfigMap: "
                           "metadata: expected a length-delimited value, got a varint")


def test_compressed_envelope_is_refused() -> None:
    err = _error(body("v1", "ConfigMap", meta("c"), envelope=pb(3, "gzip")))
    assert err.message == "unable to decode protobuf body: unsupported contentEncoding 'gzip'"


def test_kind_without_descriptor_is_415_naming_it() -> None:
    err = _error(body("apps/v1", "StatefulSet", meta("db")))
    assert (err.code, err.reason) == (415, "UnsupportedMediaType")
    assert '"StatefulSet"' in err.message and '"apps/v1"' in err.message


# --- the descriptor tables themselves -----------------------------------------------------------


def test_every_referenced_message_is_described() -> None:
    for message in MESSAGES.values():
        for field in message.fields.values():
            assert field.scalar or field.type in SPECIAL or field.type in MESSAGES, (message.name, field)


def test_kubectl_create_kinds_are_all_covered() -> None:
    covered = {kind for _, kind in KINDS}
    for name in COMMANDS:
        kind = json.loads((FIXTURES / f"{name}.json").read_text())["kind"]
        assert kind in covered


def test_field_spec_syntax() -> None:
    assert parse_field("replicas int32?").pointer
    spec = parse_field("rules []PolicyRule!")
    assert (spec.repeated, spec.always, spec.type) == (True, True, "PolicyRule")
    assert parse_field("hard {}Quantity").map
    assert parse_field("... VolumeSource").inline
    with pytest.raises(ValueError):
        parse_field("bad spec here")


# --- live: the real kubectl against a stub server that decodes what it receives -----------------


@pytest.mark.skipif(not kubectl_available(), reason="kubectl is not installed")
@pytest.mark.parametrize("name", ["deployment", "configmap", "secret", "namespace", "service_clusterip", "job"])
async def test_live_kubectl_create(name: str) -> None:
    def respond(request: Any) -> dict[str, Any]:
        assert request.content_type == MEDIA_TYPE
        return decode_protobuf_object(request.body)

    stub = StubServer(respond)
    printed = await run_kubectl(stub, COMMANDS[name], "-o", "json")
    dry_run = await run_kubectl(stub, COMMANDS[name], "--dry-run=client", "-o", "json")
    (posted,) = stub.posts
    # The stub echoes the decoded object, so kubectl prints it back: compare with the client dry run.
    assert json.loads(printed) == json.loads(dry_run) == decode_protobuf_object(posted.body)
