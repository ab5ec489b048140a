"""The official `kubernetes` Python client works against kinn unchanged: typed APIs, subresources,
watch (resume, 410, bookmarks, timeouts), create_from_yaml, the DynamicClient and an informer."""

from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from kubernetes import client, dynamic, utils, watch
from kubernetes.client.exceptions import ApiException

from conftest import RunningAPIServer, start_apiserver

_names = itertools.count()


@pytest.fixture(scope="module")
def api(apiserver: RunningAPIServer) -> Iterator[client.ApiClient]:
    with apiserver.api_client() as api_client:
        yield api_client


@pytest.fixture(scope="module")
def core(api):
    return client.CoreV1Api(api)


@pytest.fixture(scope="module")
def apps(api):
    return client.AppsV1Api(api)


@pytest.fixture
def namespace(core) -> str:
    """A fresh namespace per test, so lists and watches see only the test's own objects."""
    name = f"py-{next(_names)}"
    core.create_namespace({"metadata": {"name": name}})
    return name


def status_of(error: ApiException) -> dict[str, Any]:
    return json.loads(error.body)


def deployment(name: str, replicas: int = 1, image: str = "nginx:1.27") -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]}}},
    }


def collect(stream: Iterator[dict[str, Any]], w: watch.Watch, count: int) -> list[dict[str, Any]]:
    """The first `count` events of a watch stream, then stop it (the stream's timeout bounds the wait)."""
    events = []
    for event in stream:
        events.append(event)
        if len(events) == count:
            w.stop()
    return events


# -- typed CRUD ------------------------------------------------------------------------------------


def test_configmap_crud(core, namespace):
    created = core.create_namespaced_config_map(namespace, {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    assert created.metadata.uid and int(created.metadata.resource_version) > 0

    read = core.read_namespaced_config_map("cfg", namespace)
    read.data["b"] = "2"
    replaced = core.replace_namespaced_config_map("cfg", namespace, read)
    assert replaced.data == {"a": "1", "b": "2"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)

    merged = core.patch_namespaced_config_map("cfg", namespace, {"data": {"a": None, "c": "3"}},
                                              _content_type="application/merge-patch+json")
    assert merged.data == {"b": "2", "c": "3"}
    strategic = core.patch_namespaced_config_map("cfg", namespace, {"metadata": {"labels": {"tier": "x"}}})
    assert strategic.metadata.labels == {"tier": "x"}
    patched = core.patch_namespaced_config_map("cfg", namespace, [
        {"op": "test", "path": "/data/b", "value": "2"}, {"op": "replace", "path": "/data/b", "value": "20"}])
    assert patched.data == {"b": "20", "c": "3"}

    status = core.delete_namespaced_config_map("cfg", namespace)  # this client hands back the Status as a dict
    assert status == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                      "details": {"name": "cfg", "kind": "configmaps", "uid": created.metadata.uid}}
    with pytest.raises(ApiException) as e:
        core.read_namespaced_config_map("cfg", namespace)
    assert e.value.status == 404
    assert status_of(e.value) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'configmaps "cfg" not found', "reason": "NotFound",
        "details": {"name": "cfg", "kind": "configmaps"}, "code": 404}


def test_create_twice_and_stale_replace_are_conflicts(apps, namespace):
    created = apps.create_namespaced_deployment(namespace, deployment("web"))
    with pytest.raises(ApiException) as e:
        apps.create_namespaced_deployment(namespace, deployment("web"))
    assert (e.value.status, status_of(e.value)["reason"]) == (409, "AlreadyExists")
    assert status_of(e.value)["message"] == 'deployments.apps "web" already exists'

    apps.patch_namespaced_deployment("web", namespace, {"metadata": {"labels": {"v": "2"}}})
    with pytest.raises(ApiException) as e:
        apps.replace_namespaced_deployment("web", namespace, created)  # carries the old resourceVersion
    assert e.value.status == 409
    assert status_of(e.value)["message"] == (
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
        "please apply your changes to the latest version and try again")


def test_strategic_merge_patch_merges_containers_by_name(apps, namespace):
    apps.create_namespaced_deployment(namespace, deployment("web"))
    sidecar = {"spec": {"template": {"spec": {"containers": [{"name": "log", "image": "busybox"}]}}}}
    patched = apps.patch_namespaced_deployment("web", namespace, sidecar)
    assert [c.name for c in patched.spec.template.spec.containers] == ["log", "web"]
    assert patched.metadata.generation == 2
    replaced = apps.patch_namespaced_deployment("web", namespace, sidecar,
                                                _content_type="application/merge-patch+json")
    assert [c.name for c in replaced.spec.template.spec.containers] == ["log"]


def test_list_with_label_and_field_selectors(core, namespace):
    for name, tier, node in [("a", "web", "n1"), ("b", "web", "n2"), ("c", "db", "n1")]:
        core.create_namespaced_pod(namespace, {"metadata": {"name": name, "labels": {"tier": tier}}, "spec": {
            "nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}})

    def names(**selectors: str) -> list[str]:
        return [p.metadata.name for p in core.list_namespaced_pod(namespace, **selectors).items]

    assert names() == ["a", "b", "c"]
    assert names(label_selector="tier=web") == ["a", "b"]
    assert names(label_selector="tier!=web") == ["c"]
    assert names(field_selector="spec.nodeName=n1") == ["a", "c"]
    assert names(field_selector="spec.nodeName=n1", label_selector="tier in (web)") == ["a"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="status.phase=Pending") == ["a", "b", "c"]
    all_pods = core.list_pod_for_all_namespaces(field_selector=f"metadata.namespace={namespace}")
    assert len(all_pods.items) == 3
    first = core.list_namespaced_pod(namespace, limit=2)
    rest = core.list_namespaced_pod(namespace, limit=2, _continue=first.metadata._continue)
    assert [p.metadata.name for p in first.items + rest.items] == ["a", "b", "c"]
    assert rest.metadata._continue is None


def test_batch_job_gets_a_generated_selector(api, namespace):
    batch = client.BatchV1Api(api)
    job = batch.create_namespaced_job(namespace, {"metadata": {"name": "once"}, "spec": {"template": {
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}})
    uid = job.metadata.uid
    assert job.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert job.spec.template.metadata.labels["batch.kubernetes.io/job-name"] == "once"
    assert [j.metadata.name for j in batch.list_namespaced_job(namespace, label_selector="").items] == ["once"]
    batch.delete_namespaced_job("once", namespace, propagation_policy="Background")
    assert batch.list_namespaced_job(namespace).items == []


# -- subresources ----------------------------------------------------------------------------------


def test_status_subresource_writes_only_status(apps, namespace):
    apps.create_namespaced_deployment(namespace, deployment("web", replicas=2))
    with_status = apps.patch_namespaced_deployment_status(
        "web", namespace, {"spec": {"replicas": 9}, "status": {"replicas": 2, "readyReplicas": 1}})
    assert (with_status.spec.replicas, with_status.status.ready_replicas) == (2, 1)
    assert with_status.metadata.generation == 1

    spec_write = apps.patch_namespaced_deployment("web", namespace, {"spec": {"replicas": 3},
                                                                    "status": {"readyReplicas": 7}})
    assert (spec_write.spec.replicas, spec_write.status.ready_replicas) == (3, 1)
    assert spec_write.metadata.generation == 2
    assert apps.read_namespaced_deployment_status("web", namespace).status.replicas == 2


def test_scale_subresource(apps, namespace):
    apps.create_namespaced_deployment(namespace, deployment("web", replicas=1))
    scale = apps.read_namespaced_deployment_scale("web", namespace)
    assert (scale.api_version, scale.kind, scale.spec.replicas) == ("autoscaling/v1", "Scale", 1)
    assert scale.status.selector == "app=web"

    scaled = apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 4}})
    assert scaled.spec.replicas == 4
    scale = apps.read_namespaced_deployment_scale("web", namespace)
    scale.spec.replicas = 5
    assert apps.replace_namespaced_deployment_scale("web", namespace, scale).spec.replicas == 5
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 5

    with pytest.raises(ApiException) as e:
        apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": -1}})
    assert e.value.status == 422
    assert status_of(e.value)["details"]["causes"][0]["field"] == "spec.replicas"


# -- watch -----------------------------------------------------------------------------------------


def test_watch_from_a_list_sees_every_change_in_order(core, namespace):
    listed = core.list_namespaced_config_map(namespace)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "w"}, "data": {"n": "0"}})
    core.patch_namespaced_config_map("w", namespace, {"data": {"n": "1"}})
    core.delete_namespaced_config_map("w", namespace)

    w = watch.Watch()
    stream = w.stream(core.list_namespaced_config_map, namespace,
                      resource_version=listed.metadata.resource_version, timeout_seconds=10)
    events = collect(stream, w, 3)
    assert [(e["type"], e["object"].data) for e in events] == [
        ("ADDED", {"n": "0"}), ("MODIFIED", {"n": "1"}), ("DELETED", {"n": "1"})]
    versions = [int(e["object"].metadata.resource_version) for e in events]
    assert versions == sorted(set(versions))
    assert w.resource_version == events[-1]["object"].metadata.resource_version


def test_watch_resumes_from_a_resource_version(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "a"}})
    w = watch.Watch()
    first = collect(w.stream(core.list_namespaced_config_map, namespace, timeout_seconds=10), w, 1)
    assert [(e["type"], e["object"].metadata.name) for e in first] == [("ADDED", "a")]  # synthetic ADDED

    core.create_namespaced_config_map(namespace, {"metadata": {"name": "b"}})
    core.patch_namespaced_config_map("a", namespace, {"data": {"x": "1"}})
    w2 = watch.Watch()
    resumed = collect(w2.stream(core.list_namespaced_config_map, namespace, resource_version=w.resource_version,
                                timeout_seconds=10), w2, 2)
    assert [(e["type"], e["object"].metadata.name) for e in resumed] == [("ADDED", "b"), ("MODIFIED", "a")]


def test_watch_filters_by_label_selector(core, namespace):
    listed = core.list_namespaced_config_map(namespace)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "x", "labels": {"app": "other"}}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "y", "labels": {"app": "web"}}})
    core.patch_namespaced_config_map("x", namespace, {"metadata": {"labels": {"app": "web"}}})
    core.patch_namespaced_config_map("y", namespace, {"metadata": {"labels": {"app": "gone"}}})
    w = watch.Watch()
    events = collect(w.stream(core.list_namespaced_config_map, namespace, label_selector="app=web",
                              resource_version=listed.metadata.resource_version, timeout_seconds=10), w, 3)
    assert [(e["type"], e["object"].metadata.name) for e in events] == [
        ("ADDED", "y"), ("ADDED", "x"), ("DELETED", "y")]


def test_bookmarks_carry_the_current_resource_version(core, namespace):
    created = core.create_namespaced_config_map(namespace, {"metadata": {"name": "b"}})
    w = watch.Watch()
    stream = w.stream(core.list_namespaced_config_map, namespace, allow_watch_bookmarks=True,
                      resource_version=created.metadata.resource_version, timeout_seconds=10)
    bookmark = next(e for e in stream if e["type"] == "BOOKMARK")
    w.stop()
    revision = int(bookmark["raw_object"]["metadata"]["resourceVersion"])
    assert revision >= int(created.metadata.resource_version)
    assert bookmark["raw_object"]["kind"] == "ConfigMap"
    assert w.resource_version == str(revision)


def test_timeout_seconds_ends_the_stream(core, namespace):
    started = time.monotonic()
    events = list(watch.Watch().stream(core.list_namespaced_config_map, namespace, timeout_seconds=1,
                                       allow_watch_bookmarks=True))
    assert 0.9 < time.monotonic() - started < 5
    assert all(e["type"] == "BOOKMARK" for e in events)


@pytest.fixture(scope="module")
def short_history(tmp_path_factory) -> Iterator[RunningAPIServer]:
    """A server that keeps only 5 revisions of watch history, so 410 Expired is easy to provoke."""
    server = start_apiserver(tmp_path_factory.mktemp("short-history"), ("--watch-history", "5"))
    yield server
    server.stop()


def test_watch_beyond_history_is_410_expired(short_history):
    with short_history.api_client() as api_client:
        core = client.CoreV1Api(api_client)
        first = core.create_namespaced_config_map("default", {"metadata": {"name": "churn"}})
        for i in range(10):
            latest = core.patch_namespaced_config_map("churn", "default", {"data": {"i": str(i)}})
        stale = first.metadata.resource_version
        with pytest.raises(ApiException) as e:
            list(watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=stale,
                                      timeout_seconds=5))
        oldest_kept = int(latest.metadata.resource_version) - 5
        assert e.value.status == 410
        assert e.value.reason == f"Expired: too old resource version: {stale} ({oldest_kept})"

        # The client's recovery: re-list and watch from the list's resourceVersion.
        relisted = core.list_namespaced_config_map("default")
        assert relisted.items[0].data == {"i": "9"}
        core.patch_namespaced_config_map("churn", "default", {"data": {"i": "10"}})
        w = watch.Watch()
        events = collect(w.stream(core.list_namespaced_config_map, "default",
                                  resource_version=relisted.metadata.resource_version, timeout_seconds=10), w, 1)
        assert [(e["type"], e["object"].data) for e in events] == [("MODIFIED", {"i": "10"})]


def test_periodic_compaction_expires_what_the_previous_interval_saw(tmp_path_factory):
    """--etcd-compaction-interval: each compaction drops the history up to the revision the previous
    one ended at, as kube-apiserver compacts etcd, however few revisions there were."""
    server = start_apiserver(tmp_path_factory.mktemp("compaction"), ("--etcd-compaction-interval", "1s"))
    try:
        with server.api_client() as api_client:
            core = client.CoreV1Api(api_client)
            stale = core.create_namespaced_config_map("default", {"metadata": {"name": "idle"}}).metadata
            core.patch_namespaced_config_map("idle", "default", {"data": {"a": "0"}})

            def expired() -> ApiException | None:
                """The watch from the create's revision fails once a compaction has passed the patch."""
                try:
                    list(watch.Watch().stream(core.list_namespaced_config_map, "default",
                                              resource_version=stale.resource_version, timeout_seconds=1))
                except ApiException as error:
                    return error
                return None

            deadline = time.monotonic() + 15  # the second compaction after the patch, about 2 s
            while (error := expired()) is None:
                assert time.monotonic() < deadline, "the create's revision was never compacted"
            assert error.status == 410 and "too old resource version" in error.reason
            fresh = core.list_namespaced_config_map("default").metadata.resource_version
            core.patch_namespaced_config_map("idle", "default", {"data": {"a": "b"}})
            w = watch.Watch()
            events = collect(w.stream(core.list_namespaced_config_map, "default", resource_version=fresh,
                                      timeout_seconds=10), w, 1)
            assert [(e["type"], e["object"].data) for e in events] == [("MODIFIED", {"a": "b"})]
    finally:
        server.stop()


# -- create_from_yaml and the DynamicClient ---------------------------------------------------------


def test_create_from_yaml_multi_document_and_list(api, core, apps, namespace, tmp_path: Path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: front
spec:
  replicas: 2
  selector: {{matchLabels: {{app: front}}}}
  template:
    metadata: {{labels: {{app: front}}}}
    spec: {{containers: [{{name: web, image: nginx}}]}}
---
apiVersion: v1
kind: Service
metadata:
  name: front
spec:
  selector: {{app: front}}
  ports: [{{port: 80}}]
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {{name: one}}
  data: {{k: "1"}}
- apiVersion: v1
  kind: Secret
  metadata: {{name: two}}
  stringData: {{k: "2"}}
""")
    created = utils.create_from_yaml(api, str(manifest), namespace=namespace)
    assert [[o.kind for o in group] for group in created] == [["Deployment"], ["Service"], ["ConfigMap", "Secret"]]
    assert apps.read_namespaced_deployment("front", namespace).spec.replicas == 2
    assert core.read_namespaced_service("front", namespace).spec.cluster_ip.startswith("10.")
    assert core.read_namespaced_config_map("one", namespace).data == {"k": "1"}
    assert core.read_namespaced_secret("two", namespace).data == {"k": "Mg=="}

    with pytest.raises(utils.FailToCreateError) as e:
        utils.create_from_yaml(api, str(manifest), namespace=namespace)
    assert sorted(json.loads(f.body)["reason"] for f in e.value.api_exceptions) == ["AlreadyExists"] * 4


def test_dynamic_client(api, namespace):
    dyn = dynamic.DynamicClient(api)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert (deployments.name, deployments.namespaced) == ("deployments", True)
    assert "deployments/scale" in {f"{deployments.name}/{s}" for s in deployments.subresources}

    deployments.create(body=deployment("dyn", replicas=1), namespace=namespace)
    assert deployments.get(name="dyn", namespace=namespace).spec.replicas == 1
    patched = deployments.patch(name="dyn", namespace=namespace, body={"spec": {"replicas": 3}},
                                content_type="application/merge-patch+json")
    assert patched.spec.replicas == 3
    assert [d.metadata.name for d in deployments.get(namespace=namespace).items] == ["dyn"]
    deployments.delete(name="dyn", namespace=namespace)
    with pytest.raises(dynamic.exceptions.NotFoundError):
        deployments.get(name="dyn", namespace=namespace)

    configmaps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    configmaps.create(body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}}, namespace=namespace)
    assert [c.metadata.name for c in configmaps.get(namespace=namespace, label_selector="").items] == ["d"]


# -- informer --------------------------------------------------------------------------------------


class Informer:
    """client-go's Reflector in miniature: list, then watch from the list's resourceVersion, keep a
    local cache, re-list on 410. Short watch timeouts make it reconnect (and resume) often."""

    def __init__(self, list_func: Callable[..., Any], namespace: str, bookmarks: bool = True) -> None:
        self.list_func, self.namespace, self.bookmarks = list_func, namespace, bookmarks
        self.cache: dict[str, Any] = {}
        self.resource_version = "0"
        self.relists = 0
        self._watch = watch.Watch()
        self._stopped = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Informer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._watch.stop()
        self._thread.join(timeout=10)

    def _relist(self) -> None:
        listed = self.list_func(self.namespace)
        self.cache = {o.metadata.name: o for o in listed.items}
        self.resource_version = listed.metadata.resource_version
        self.relists += 1

    def _run(self) -> None:
        try:
            self._relist()
            while not self._stopped.is_set():
                try:
                    self._watch_once()
                except ApiException as e:
                    if e.status != 410:
                        raise
                    self._relist()
        except BaseException as e:  # noqa: BLE001 - surfaced to the test by synced()
            self.error = e

    def _watch_once(self) -> None:
        for event in self._watch.stream(self.list_func, self.namespace, resource_version=self.resource_version,
                                        allow_watch_bookmarks=self.bookmarks, timeout_seconds=1):
            obj = event["object"]
            if event["type"] != "BOOKMARK":
                if event["type"] == "DELETED":
                    self.cache.pop(obj.metadata.name, None)
                else:
                    self.cache[obj.metadata.name] = obj
                self.resource_version = obj.metadata.resource_version
            else:
                self.resource_version = event["raw_object"]["metadata"]["resourceVersion"]
            if self._stopped.is_set():
                return

    def wait_for(self, condition: Callable[[], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.error is None, f"informer failed: {self.error!r}"
            assert time.monotonic() < deadline, f"informer stuck at {self.resource_version}, {self.relists} lists"
            time.sleep(0.02)

    def wait_synced(self, revision: int) -> None:
        self.wait_for(lambda: int(self.resource_version) >= revision)


def cache_view(objects: Any) -> dict[str, tuple[str, Any]]:
    return {o.metadata.name: (o.metadata.resource_version, o.data) for o in objects}


def test_informer_cache_matches_a_fresh_list_after_many_changes(core, namespace):
    with Informer(core.list_namespaced_config_map, namespace) as informer:
        last = None
        for i in range(150):
            name = f"cm-{i % 15}"
            if i % 7 == 3:
                try:
                    last = core.delete_namespaced_config_map(name, namespace)
                except ApiException as e:
                    assert e.status == 404
                continue
            try:
                last = core.patch_namespaced_config_map(name, namespace, {"data": {"i": str(i)}})
            except ApiException as e:
                assert e.status == 404
                last = core.create_namespaced_config_map(namespace, {"metadata": {"name": name},
                                                                     "data": {"i": str(i)}})
        fresh = core.list_namespaced_config_map(namespace)
        informer.wait_synced(int(fresh.metadata.resource_version))
        assert cache_view(informer.cache.values()) == cache_view(fresh.items)
        assert last is not None


def test_informer_recovers_from_410_by_relisting(short_history):
    with short_history.api_client() as api_client:
        core = client.CoreV1Api(api_client)
        core.create_namespace({"metadata": {"name": "informed"}})
        # Without bookmarks the resume point stays at the namespace's last event, and writes elsewhere
        # push it out of the 5-revision window: the next reconnect gets 410 and must re-list.
        with Informer(core.list_namespaced_config_map, "informed", bookmarks=False) as informer:
            informer.wait_for(lambda: informer.relists == 1)
            for i in range(20):
                core.create_namespaced_config_map("default", {"metadata": {"name": f"noise-{i}"}})
            informer.wait_for(lambda: informer.relists == 2)
            core.create_namespaced_config_map("informed", {"metadata": {"name": "after"}, "data": {"k": "v"}})
            fresh = core.list_namespaced_config_map("informed")
            informer.wait_synced(int(fresh.metadata.resource_version))
            assert cache_view(informer.cache.values()) == cache_view(fresh.items)


def test_node_and_pod_status_writes_keep_metadata_but_deployment_status_resets_labels(apiserver):
    """nodeStatusStrategy/podStatusStrategy keep metadata (kubelets annotate through status);
    deployments reset labels (metav1.ResetObjectMetaForStatus)."""
    api = apiserver.api_client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_node({"metadata": {"name": "status-meta"}})
    core.patch_node_status("status-meta", {"metadata": {"annotations": {"flannel.alpha.coreos.com/public-ip": "10.240.0.21"}},
                                           "status": {"phase": "Running"}})
    assert core.read_node("status-meta").metadata.annotations == {"flannel.alpha.coreos.com/public-ip": "10.240.0.21"}
    core.create_namespaced_pod("default", {"metadata": {"name": "status-meta", "ownerReferences": []},
                                           "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    core.patch_namespaced_pod_status("status-meta", "default", {"metadata": {"labels": {"seen": "yes"}}})
    assert core.read_namespaced_pod("status-meta", "default").metadata.labels == {"seen": "yes"}
    apps.create_namespaced_deployment("default", {
        "metadata": {"name": "status-meta", "labels": {"app": "x"}},
        "spec": {"selector": {"matchLabels": {"app": "x"}},
                 "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    apps.patch_namespaced_deployment_status("status-meta", "default", {"metadata": {"labels": {"app": "changed"}}})
    assert apps.read_namespaced_deployment("status-meta", "default").metadata.labels == {"app": "x"}
