"""Field selectors: fields.ParseSelector syntax and escapes, per-kind labels and their errors."""

import pytest

from kinn.api.fields import escape_value, parse_field_selector
from kinn.api.resources import TABLE
from kinn.api.selectors import SelectorError

PODS = TABLE.lookup("", "v1", "pods")
EVENTS = TABLE.lookup("", "v1", "events")
EVENTS_V1 = TABLE.lookup("events.k8s.io", "v1", "events")
NODES = TABLE.lookup("", "v1", "nodes")
DEPLOYMENTS = TABLE.lookup("apps", "v1", "deployments")
JOBS = TABLE.lookup("batch", "v1", "jobs")

POD = {
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"nodeName": "worker-1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
             "serviceAccountName": "default"},
    "status": {"phase": "Running", "podIPs": [{"ip": "10.244.1.2"}]},
}


@pytest.mark.parametrize("text,expected", [
    ("", True),
    ("spec.nodeName=worker-1", True),
    ("spec.nodeName==worker-1,status.phase!=Pending", True),
    ("spec.nodeName=", False),
    ("spec.nodeName!=worker-1", False),
    ("spec.hostNetwork=false", True),
    ("status.podIP=10.244.1.2", True),
    ("status.nominatedNodeName=", True),
    ("metadata.namespace=default,metadata.name=web", True),
    ("spec.host=worker-1", True),  # the old name is converted
])
def test_pod_fields(text, expected):
    selector = parse_field_selector(text, PODS)
    assert selector.matches(POD) is expected
    assert selector.matches_values(selector.values(POD)) is expected  # what the API server caches per object


@pytest.mark.parametrize("text,resource,message", [
    ("spec.foo=x", PODS, "field label not supported: spec.foo"),
    ("metadata.namespace=x", NODES, "field label not supported: metadata.namespace"),
    ("spec.replicas=1", DEPLOYMENTS,
     '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ("source=kubelet", EVENTS_V1, "field label not supported: source"),
    ("a", PODS, "invalid selector: 'a'; can't understand 'a'"),
    ("metadata.name=a=b", PODS, "invalid field selector: unescaped character in value: 61"),
    ("metadata.name=a\\x", PODS, "invalid field selector: invalid escape sequence: \\x"),
    ("metadata.name=a\\", PODS, "invalid field selector: invalid escape sequence: \\"),
])
def test_errors(text, resource, message):
    with pytest.raises(SelectorError) as info:
        parse_field_selector(text, resource)
    assert info.value.message == message
    assert info.value.code == 400


def test_escapes_round_trip():
    selector = parse_field_selector("metadata.name=a\\,b\\=c\\\\", PODS)
    assert selector.exact_value("metadata.name") == "a,b=c\\"
    assert escape_value("a,b=c\\") == "a\\,b\\=c\\\\"
    assert str(selector) == "metadata.name=a\\,b\\=c\\\\"


def test_exact_value_for_index_lookups():
    selector = parse_field_selector("spec.nodeName=n1,metadata.name!=x", PODS)
    assert selector.exact_value("spec.nodeName") == "n1"
    assert selector.exact_value("metadata.name") is None


def test_event_fields_as_kubectl_describe_sends_them():
    event = {"metadata": {"name": "e", "namespace": "default"}, "type": "Normal", "reason": "Scheduled",
             "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default", "uid": "u1"},
             "reportingComponent": "default-scheduler"}
    text = "involvedObject.name=web,involvedObject.namespace=default,involvedObject.uid=u1"
    assert parse_field_selector(text, EVENTS).matches(event)
    assert parse_field_selector("source=default-scheduler", EVENTS).matches(event)
    v1 = {"metadata": {"name": "e"}, "regarding": {"kind": "Pod", "name": "web"}, "reportingController": "k"}
    assert parse_field_selector("regarding.name=web,reportingController=k", EVENTS_V1).matches(v1)


def test_counters_and_booleans_read_as_strings():
    assert parse_field_selector("status.successful=0", JOBS).matches({"status": {}})
    assert parse_field_selector("status.successful=2", JOBS).matches({"status": {"succeeded": 2}})
    assert parse_field_selector("spec.unschedulable=true", NODES).matches({"spec": {"unschedulable": True}})
