"""What client-go-style callers rely on, through the official Python client against `kinn apiserver`:
dry runs that do not write, the events.k8s.io API, server-side apply to a status, delete defaults
of the v1 kinds older than the garbage collector, eviction checks, the last finalizer's removal as
watchers see it, patch options and placeholder secrets."""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any, Iterator

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from conftest import RunningAPIServer

pytestmark = pytest.mark.e2e

_names = itertools.count()
APPLY = "application/apply-patch+yaml"


@pytest.fixture(scope="module")
def api(apiserver: RunningAPIServer) -> Iterator[client.ApiClient]:
    with apiserver.api_client() as api_client:
        yield api_client


@pytest.fixture(scope="module")
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def namespace(core: client.CoreV1Api) -> str:
    name = f"sem-{next(_names)}"
    core.create_namespace({"metadata": {"name": name}})
    return name


def status_of(call: Any) -> dict[str, Any]:
    """The Status body of the ApiException `call()` raises."""
    with pytest.raises(ApiException) as raised:
        call()
    return json.loads(raised.value.body)


def config_map(name: str, **metadata: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, **metadata}, "data": {"k": "v"}}


def test_dry_run_delete_in_the_body_deletes_nothing(core: client.CoreV1Api, namespace: str) -> None:
    """kubectl and client-go send a delete's dryRun in its DeleteOptions body."""
    core.create_namespaced_config_map(namespace, config_map("kept"))
    core.delete_namespaced_config_map("kept", namespace, body=client.V1DeleteOptions(dry_run=["All"]))
    core.delete_collection_namespaced_config_map(namespace, body=client.V1DeleteOptions(dry_run=["All"]))
    assert core.read_namespaced_config_map("kept", namespace).data == {"k": "v"}
    bogus = status_of(lambda: core.create_namespaced_config_map(namespace, config_map("not-written"),
                                                                 dry_run="Bogus"))
    assert (bogus["code"], bogus["message"]) == (422, 'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported '
                                                      'value: "Bogus": supported values: "All"')
    assert [cm.metadata.name for cm in core.list_namespaced_config_map(namespace).items
            if cm.metadata.name != "kube-root-ca.crt"] == ["kept"]
    bogus = status_of(lambda: core.delete_namespaced_config_map("kept", namespace,
                                                                 body=client.V1DeleteOptions(dry_run=["Bogus"])))
    assert bogus["code"] == 422 and bogus["details"]["kind"] == "DeleteOptions", bogus
    core.read_namespaced_config_map("kept", namespace)


def test_events_api_creates_and_patches_a_series(api: client.ApiClient, core: client.CoreV1Api,
                                                 namespace: str) -> None:
    """events.k8s.io/v1, as a new-style recorder writes it: the event, then its series."""
    events = client.EventsV1Api(api)
    created = events.create_namespaced_event(namespace, {
        "metadata": {"name": "e1"}, "eventTime": "2026-01-02T03:04:05.000000Z", "reportingController": "example.com/c",
        "reportingInstance": "c-1", "action": "Sync", "reason": "Synced", "type": "Normal", "note": "done",
        "regarding": {"kind": "Pod", "name": "p", "namespace": namespace}})
    assert created.regarding.name == "p" and created.reporting_controller == "example.com/c"
    patched = events.patch_namespaced_event("e1", namespace, {
        "series": {"count": 2, "lastObservedTime": "2026-01-02T03:04:15.000000Z"}})
    assert patched.series.count == 2
    legacy = core.read_namespaced_event("e1", namespace)
    assert (legacy.involved_object.name, legacy.message, legacy.reporting_component) == ("p", "done", "example.com/c")
    invalid = status_of(lambda: events.create_namespaced_event(namespace, {
        "metadata": {"name": "e2"}, "eventTime": "2026-01-02T03:04:05.000000Z", "reportingInstance": "c-1",
        "action": "Sync", "reason": "Synced", "type": "Normal", "regarding": {"kind": "Pod", "namespace": namespace}}))
    assert {cause["field"] for cause in invalid["details"]["causes"]} == {"reportingController"}, invalid
    assert invalid["details"]["causes"][0]["reason"] == "FieldValueRequired"


def test_apply_to_a_status_records_its_manager(api: client.ApiClient, namespace: str) -> None:
    apps = client.AppsV1Api(api)
    labels = {"app": "ap"}
    apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "ap"}, "spec": {"selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    applied = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ap"},
               "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Ready"}]}}
    apps.patch_namespaced_deployment_status("ap", namespace, applied, field_manager="status-writer",
                                            _content_type=APPLY)
    deployment = apps.read_namespaced_deployment("ap", namespace)
    entry = next(e for e in deployment.metadata.managed_fields if e.manager == "status-writer")
    assert (entry.operation, entry.subresource) == ("Apply", "status")
    assert 'k:{"type":"Available"}' in entry.fields_v1["f:status"]["f:conditions"]


def test_v1_jobs_and_replication_controllers_keep_their_pods_by_default(api: client.ApiClient,
                                                                       core: client.CoreV1Api,
                                                                       namespace: str) -> None:
    """A delete that names no propagation orphans a batch/v1 Job's or a v1 RC's pods (the `orphan`
    finalizer the garbage collector acts on), and the Job's says so in a Warning header."""
    batch = client.BatchV1Api(api)
    template = {"metadata": {"labels": {"app": "j"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}
    batch.create_namespaced_job(namespace, {"metadata": {"name": "j"}, "spec": {"template": template}})
    response = batch.delete_namespaced_job("j", namespace, _preload_content=False)
    assert response.headers.get("Warning", "").startswith(
        '299 - "child pods are preserved by default when jobs are deleted;'), response.headers
    assert batch.read_namespaced_job("j", namespace).metadata.finalizers == ["orphan"]
    core.create_namespaced_replication_controller(namespace, {
        "metadata": {"name": "rc"}, "spec": {"replicas": 0, "selector": {"app": "rc"}, "template": {
            "metadata": {"labels": {"app": "rc"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    core.delete_namespaced_replication_controller("rc", namespace)
    assert core.read_namespaced_replication_controller("rc", namespace).metadata.finalizers == ["orphan"]
    batch.create_namespaced_job(namespace, {"metadata": {"name": "gone"}, "spec": {"template": template}})
    response = batch.delete_namespaced_job("gone", namespace, propagation_policy="Background", _preload_content=False)
    assert "Warning" not in response.headers
    assert status_of(lambda: batch.read_namespaced_job("gone", namespace))["code"] == 404


def test_eviction_names_the_pod_it_evicts(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, {"metadata": {"name": "a"},
                                           "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    mismatch = status_of(lambda: core.create_namespaced_pod_eviction("a", namespace, {
        "apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "other", "namespace": namespace}}))
    assert (mismatch["code"], mismatch["message"]) == (400, "name in URL does not match name in Eviction object")
    core.create_namespaced_pod_eviction("a", namespace, {
        "apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "a", "namespace": namespace},
        "deleteOptions": {"dryRun": ["All"]}})
    core.read_namespaced_pod("a", namespace)  # a dry-run eviction leaves the pod


def test_removing_the_last_finalizer_is_seen_as_written(core: client.CoreV1Api, namespace: str) -> None:
    """Watchers see the update that removed the finalizers, then the object deleted as written."""
    version = core.create_namespaced_config_map(namespace, config_map("fin", finalizers=["example.com/x"])) \
        .metadata.resource_version
    core.delete_namespaced_config_map("fin", namespace)
    w = watch.Watch()
    seen: list[tuple[str, Any]] = []

    def collect() -> None:
        for event in w.stream(core.list_namespaced_config_map, namespace, field_selector="metadata.name=fin",
                              resource_version=version, timeout_seconds=10):
            seen.append((event["type"], event["object"].metadata.finalizers))
            if event["type"] == "DELETED":
                w.stop()

    watcher = threading.Thread(target=collect)
    watcher.start()
    patched = core.patch_namespaced_config_map("fin", namespace, [{"op": "remove", "path": "/metadata/finalizers"}])
    watcher.join(timeout=15)
    assert patched.metadata.finalizers is None
    assert seen == [("MODIFIED", ["example.com/x"]), ("MODIFIED", None), ("DELETED", None)], seen


def test_patch_options_as_upstream_validates_them(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, config_map("p"))
    forced = status_of(lambda: core.patch_namespaced_config_map("p", namespace, {"data": {"k": "w"}}, force=True))
    assert (forced["code"], forced["message"]) == (422, 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: '
                                                        'may not be specified for non-apply patch')
    unnamed = status_of(lambda: core.patch_namespaced_config_map(
        "p", namespace, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"}}, _content_type=APPLY))
    assert unnamed["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required '
                                  'for apply patch'), unnamed


def test_placeholder_secrets_are_valid(core: client.CoreV1Api, namespace: str) -> None:
    """Typed secrets need their keys present, not filled (as upstream, except ssh-auth's key)."""
    core.create_namespaced_secret(namespace, {"metadata": {"name": "tls"}, "type": "kubernetes.io/tls",
                                              "data": {"tls.crt": "", "tls.key": ""}})
    core.create_namespaced_secret(namespace, {"metadata": {"name": "basic"}, "type": "kubernetes.io/basic-auth",
                                              "stringData": {"username": ""}})
    missing = status_of(lambda: core.create_namespaced_secret(namespace, {
        "metadata": {"name": "bad"}, "type": "kubernetes.io/tls", "data": {"tls.key": ""}}))
    assert [cause["field"] for cause in missing["details"]["causes"]] == ["data[tls.crt]"], missing


def test_list_options_as_upstream_reads_them(core: client.CoreV1Api, namespace: str) -> None:
    """A revision the store has not reached is a 504 a reflector retries; resourceVersionMatch
    combinations upstream forbids are 422s; a page at a given revision is that revision's."""
    first = core.create_namespaced_config_map(namespace, config_map("first")).metadata.resource_version
    core.create_namespaced_config_map(namespace, config_map("second"))
    future = status_of(lambda: core.list_namespaced_config_map(namespace, resource_version="99999999",
                                                               resource_version_match="NotOlderThan"))
    assert (future["code"], future["reason"], future["details"]["causes"][0]["reason"]) == \
        (504, "Timeout", "ResourceVersionTooLarge"), future
    assert future["message"].startswith("Timeout: Too large resource version: 99999999, current: "), future
    exact_zero = status_of(lambda: core.list_namespaced_config_map(namespace, resource_version="0",
                                                                   resource_version_match="Exact"))
    assert exact_zero["message"] == ('ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
                                     'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'), exact_zero
    unanchored = status_of(lambda: core.list_namespaced_config_map(namespace, resource_version_match="Exact"))
    assert unanchored["code"] == 422 and "unless resourceVersion is provided" in unanchored["message"]
    page = core.list_namespaced_config_map(namespace, resource_version=first, limit=10)
    assert (page.metadata.resource_version, [cm.metadata.name for cm in page.items
                                             if cm.metadata.name != "kube-root-ca.crt"]) == (first, ["first"])
