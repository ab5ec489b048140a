"""Static pods: manifest decoding, naming, hashing, the file source and mirror pods (no API, no root)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from kinn.kubelet.config.file import ManifestError, SourceFile, decode_static_pod
from kinn.kubelet.static_pods import StaticPods, is_mirror_pod, is_mirror_pod_of, mirror_pod, seen_timestamp

MANIFEST = b"""apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: nginx
    image: nginx
"""
SOURCE = "/etc/kubernetes/manifests/web.yaml"


def test_manifest_becomes_this_nodes_static_pod() -> None:
    pod = decode_static_pod(MANIFEST, SOURCE, "worker-1")
    meta, spec = pod["metadata"], pod["spec"]
    assert meta["name"] == "web-worker-1" and meta["namespace"] == "default"
    assert re.fullmatch(r"[0-9a-f]{32}", meta["uid"])
    assert meta["annotations"] == {"kubernetes.io/config.hash": meta["uid"]}
    assert spec["nodeName"] == "worker-1"
    assert spec["tolerations"] == [{"operator": "Exists", "effect": "NoExecute"}]
    assert spec["restartPolicy"] == "Always" and spec["terminationGracePeriodSeconds"] == 30  # API defaults
    assert pod["status"] == {"phase": "Pending"}


def test_hash_names_content_node_and_file() -> None:
    uid = decode_static_pod(MANIFEST, SOURCE, "worker-1")["metadata"]["uid"]
    assert decode_static_pod(MANIFEST, SOURCE, "worker-1")["metadata"]["uid"] == uid
    assert decode_static_pod(MANIFEST, SOURCE, "worker-2")["metadata"]["uid"] != uid
    assert decode_static_pod(MANIFEST, SOURCE + ".bak", "worker-1")["metadata"]["uid"] != uid
    changed = MANIFEST.replace(b"image: nginx", b"image: nginx:1.25")
    assert decode_static_pod(changed, SOURCE, "worker-1")["metadata"]["uid"] != uid


def test_json_manifest_keeps_its_namespace() -> None:
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dns", "namespace": "kube-system"},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    pod = decode_static_pod(json.dumps(manifest).encode(), "/m/dns.json", "control-plane")
    assert (pod["metadata"]["namespace"], pod["metadata"]["name"]) == ("kube-system", "dns-control-plane")


@pytest.mark.parametrize("manifest, message", [
    (b"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
     r"^/m/x\.yaml: couldn't parse as pod\(.*Deployment"),
    (b"{not yaml: [", r"^/m/x\.yaml: couldn't parse as pod\(.*\), please check config file$"),
    (b"apiVersion: v1\nkind: Pod\nspec: {}\n", r"^invalid pod: name is needed for the pod$"),
    (b"apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {}\n",
     r"^invalid pod: \[spec\.containers: Required value"),
])
def test_invalid_manifests_say_why(manifest: bytes, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        decode_static_pod(manifest, "/m/x.yaml", "worker-1")


def test_source_reads_visible_regular_files_and_follows_changes(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_bytes(MANIFEST)
    (tmp_path / ".hidden.yaml").write_bytes(MANIFEST.replace(b"name: web", b"name: hidden"))
    (tmp_path / "broken.yaml").write_bytes(b"kind: Pod\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.yaml").write_bytes(MANIFEST.replace(b"name: web", b"name: deep"))
    source = SourceFile(tmp_path, "worker-1")
    [first] = source.pods().values()
    assert first["metadata"]["name"] == "web-worker-1"
    assert source.pods() == {first["metadata"]["uid"]: first}  # unchanged file: same pod
    (tmp_path / "web.yaml").write_bytes(MANIFEST.replace(b"image: nginx", b"image: busybox"))
    [second] = source.pods().values()
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    (tmp_path / "web.yaml").unlink()
    assert source.pods() == {}
    assert SourceFile(tmp_path / "missing", "worker-1").pods() == {}
    assert SourceFile(None, "worker-1").pods() == {}


def node() -> dict[str, Any]:
    return {"metadata": {"name": "worker-1", "uid": "node-uid"}}


def test_mirror_pod_carries_the_hash_and_belongs_to_the_node() -> None:
    pod = decode_static_pod(MANIFEST, SOURCE, "worker-1")
    mirror = mirror_pod(pod, node())
    meta = mirror["metadata"]
    assert "uid" not in meta and "status" not in mirror
    assert meta["annotations"]["kubernetes.io/config.mirror"] == pod["metadata"]["uid"]
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "worker-1", "uid": "node-uid",
                                        "controller": True}]
    assert is_mirror_pod(mirror) and not is_mirror_pod(pod)
    assert is_mirror_pod_of(mirror, pod)
    other = decode_static_pod(MANIFEST.replace(b"image: nginx", b"image: busybox"), SOURCE, "worker-1")
    assert not is_mirror_pod_of(mirror, other)  # an outdated mirror
    assert "kubernetes.io/config.mirror" not in pod["metadata"]["annotations"]  # the static pod is untouched


def test_config_seen_is_rfc3339_with_nanoseconds() -> None:
    moment = datetime(2024, 3, 11, 9, 40, 11, 453208, tzinfo=timezone.utc)
    assert seen_timestamp(moment) == "2024-03-11T09:40:11.453208000Z"


def test_status_goes_to_the_current_mirror_only() -> None:
    static = StaticPods(None, SourceFile(None, "worker-1"), 1.0, lambda pod: None, None)  # type: ignore[arg-type]
    pod = decode_static_pod(MANIFEST, SOURCE, "worker-1")
    uid = pod["metadata"]["uid"]
    static.pods[uid] = pod
    assert static.translate_uid("api-pod") == "api-pod"
    assert static.translate_uid(uid) is None  # no mirror yet: nothing to write to
    mirror = mirror_pod(pod, node())
    mirror["metadata"]["uid"] = "mirror-uid"
    static.mirror_changed(mirror)
    assert static.translate_uid(uid) == "mirror-uid"
    deleting = json.loads(json.dumps(mirror))
    deleting["metadata"]["deletionTimestamp"] = "2024-03-11T09:40:11Z"
    static.mirror_changed(deleting)
    assert static.translate_uid(uid) is None
    static.mirror_deleted(mirror)
    assert static.mirrors == {}
