"""Kubelet volumes without a cluster: the AtomicWriter's on-disk layout, downward API values (one
resolver for env and files), configMap/secret payloads, and when a projected token is refreshed."""

from __future__ import annotations

import base64
import os
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from kinn.kubelet import envvars, fieldpath
from kinn.kubelet.token_manager import TokenManager
from kinn.kubelet.volumes import VolumeError, VolumeHost, atomic_writer, payloads, set_up_volumes
from kinn.kubelet.volumes.atomic_writer import FileProjection


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web-0", "namespace": "shop", "uid": "u-1",
                         "labels": {"app": "web", "tier": "front"}, "annotations": {"note": 'say "hi"'}},
            "spec": {"nodeName": "worker-1", "serviceAccountName": "robot", "containers": [
                {"name": "app", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"},
                                              "limits": {"cpu": "1500m"}}}], **spec}}


ALLOCATABLE = {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "20Gi"}


def test_atomic_writer_layout_and_updates(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert atomic_writer.write(target, {"podname": FileProjection(b"web-0", 0o644),
                                        "k8s/labels": FileProjection(b'app="web"', 0o400)})
    data = os.readlink(target / "..data")
    assert data.startswith("..") and (target / data).is_dir() and not (target / data).is_symlink()
    assert os.readlink(target / "podname") == "..data/podname" and os.readlink(target / "k8s") == "..data/k8s"
    assert (target / "k8s" / "labels").read_text() == 'app="web"'
    assert stat.S_IMODE((target / data / "k8s" / "labels").stat().st_mode) == 0o400
    assert sorted(p.name for p in target.iterdir()) == sorted([data, "..data", "k8s", "podname"])

    assert not atomic_writer.write(target, {"podname": FileProjection(b"web-0", 0o644),
                                            "k8s/labels": FileProjection(b'app="web"', 0o400)})
    assert os.readlink(target / "..data") == data  # nothing changed, nothing written

    assert atomic_writer.write(target, {"podname": FileProjection(b"web-1", 0o644)})
    new = os.readlink(target / "..data")
    assert new != data and not (target / data).exists()
    assert sorted(p.name for p in target.iterdir()) == sorted([new, "..data", "podname"])
    assert (target / "podname").read_text() == "web-1"
    with pytest.raises(atomic_writer.PayloadError, match="must not contain '..'"):
        atomic_writer.write(target, {"a/../../etc": FileProjection(b"", 0o644)})
    with pytest.raises(atomic_writer.PayloadError, match="must not start with '..'"):
        atomic_writer.write(target, {"..data": FileProjection(b"", 0o644)})


def test_field_refs_are_resolved_once_for_env_and_files() -> None:
    assert fieldpath.extract_field_path_as_string(pod(), "metadata.labels") == 'app="web"\ntier="front"'
    assert fieldpath.extract_field_path_as_string(pod(), "metadata.annotations") == 'note="say \\"hi\\""'
    assert fieldpath.extract_field_path_as_string(pod(), "metadata.labels['tier']") == "front"
    assert fieldpath.extract_field_path_as_string(pod(), "metadata.uid") == "u-1"
    with pytest.raises(fieldpath.FieldPathError, match="unsupported fieldPath: spec.nodeName"):
        fieldpath.extract_field_path_as_string(pod(), "spec.nodeName")  # env only: files follow the pod object
    assert envvars.field_value(pod(), "spec.nodeName", [], "") == "worker-1"
    assert envvars.field_value(pod(), "metadata.labels['app']", [], "") == "web"
    with pytest.raises(envvars.EnvError, match="unsupported fieldPath: status.phase"):
        envvars.field_value(pod(), "status.phase", [], "")


@pytest.mark.parametrize("resource, divisor, expected", [
    ("limits.cpu", None, "2"),            # 1500m rounded up to whole cores
    ("limits.cpu", "1m", "1500"),
    ("requests.cpu", "100m", "3"),        # 250m / 100m, rounded up
    ("requests.memory", "1Mi", "64"),
    ("limits.memory", "1Gi", "4"),        # no limit: the node's allocatable
    ("limits.ephemeral-storage", "1Gi", "20"),
])
def test_resource_field_refs_divide_and_round_up(resource: str, divisor: str | None, expected: str) -> None:
    ref = {"containerName": "app", "resource": resource, **({"divisor": divisor} if divisor else {})}
    assert fieldpath.resource_field_value(ref, pod(), ALLOCATABLE) == expected


def test_resource_field_ref_in_env_defaults_to_its_own_container() -> None:
    container = pod()["spec"]["containers"][0]
    env = envvars.container_environment(pod(), {**container, "env": [
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}}]},
        [], [], "", {}, {}, ALLOCATABLE)
    assert env == {"CPU": "250"}
    with pytest.raises(fieldpath.FieldPathError, match="container other not found"):
        fieldpath.resource_field_value({"containerName": "other", "resource": "limits.cpu"}, pod(), ALLOCATABLE)


def test_key_payloads_honour_items_modes_and_optional() -> None:
    binary = base64.b64encode(b"\0").decode()
    data = payloads.object_data("configmap", {"data": {"a": "1"}, "binaryData": {"b": binary}})
    assert payloads.key_payload("configmap", data, [], 0o644, False) == {
        "a": FileProjection(b"1", 0o644), "b": FileProjection(b"\0", 0o644)}
    assert payloads.key_payload("configmap", data, [{"key": "a", "path": "x/a.txt", "mode": 0o600}], 0o644, False) == {
        "x/a.txt": FileProjection(b"1", 0o600)}
    with pytest.raises(VolumeError, match="configmap references non-existent config key: z"):
        payloads.key_payload("configmap", data, [{"key": "z", "path": "z"}], 0o644, False)
    with pytest.raises(VolumeError, match="references non-existent secret key: z"):
        payloads.key_payload("secret", data, [{"key": "z", "path": "z"}], 0o644, False)
    assert payloads.key_payload("configmap", data, [{"key": "z", "path": "z"}], 0o644, True) == {}


async def test_downward_api_and_configmap_volumes_on_disk(tmp_path: Path) -> None:
    volumes = [{"name": "info", "downwardAPI": {"defaultMode": 0o644, "items": [
                   {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                   {"path": "cpu_limit", "mode": 0o400,
                    "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu", "divisor": "1m"}}]}},
               {"name": "conf", "configMap": {"name": "settings", "defaultMode": 0o644}},
               {"name": "gone", "configMap": {"name": "missing", "defaultMode": 0o644}}]
    # No claim or token volumes here: the host's API client and token manager are never asked.
    host = VolumeHost(client=None, tokens=None,  # type: ignore[arg-type]
                      configmaps={"settings": {"data": {"mode": "fast"}}}, secrets={}, allocatable=ALLOCATABLE)
    with pytest.raises(VolumeError) as failed:
        await set_up_volumes(tmp_path, pod(volumes=volumes), host)
    assert str(failed.value) == 'MountVolume.SetUp failed for volume "gone" : configmap "missing" not found'
    paths = await set_up_volumes(tmp_path, pod(volumes=volumes[:2]), host)
    info = tmp_path / "volumes" / "kubernetes.io~downward-api" / "info"
    assert paths == {"info": info, "conf": tmp_path / "volumes" / "kubernetes.io~configmap" / "conf"}
    assert (info / "labels").read_text() == 'app="web"\ntier="front"'
    assert (info / "cpu_limit").read_text() == "1500"
    assert stat.S_IMODE((info / "cpu_limit").stat().st_mode) == 0o400
    assert (paths["conf"] / "mode").read_text() == "fast"
    relabelled = pod(volumes=volumes[:2])
    relabelled["metadata"]["labels"]["tier"] = "back"
    await set_up_volumes(tmp_path, relabelled, host)
    assert (info / "labels").read_text() == 'app="web"\ntier="back"'


def token_request(issued: float, seconds: int) -> dict[str, Any]:
    expires = datetime.fromtimestamp(issued + seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"spec": {"expirationSeconds": seconds}, "status": {"expirationTimestamp": expires}}


def test_tokens_are_refreshed_after_80_percent_of_their_lifetime() -> None:
    now = [0.0]
    manager = TokenManager(client=None, clock=lambda: now[0], jitter=lambda: 0.0)  # type: ignore[arg-type]
    issued = 1_000_000.0
    hourly, weekly = token_request(issued, 3600), token_request(issued, 7 * 86400)
    now[0] = issued + 2879
    assert not manager.requires_refresh(hourly)
    now[0] = issued + 2881
    assert manager.requires_refresh(hourly)
    now[0] = issued + 86401
    assert manager.requires_refresh(weekly)  # never older than a day, whatever its lifetime
