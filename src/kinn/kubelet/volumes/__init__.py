"""Pod volumes on the node's filesystem, laid out as the kubelet lays them out:
`<root>/pods/<uid>/volumes/kubernetes.io~<plugin>/<volume>`; hostPath volumes are the host path.

emptyDir is a directory; configMap and secret volumes hold one file per key (or per `items` entry),
with defaultMode; hostPath honours `type` (DirectoryOrCreate and FileOrCreate create, the rest check).
Containers get them as bind mounts (`volumeMounts`, with subPath and readOnly).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any, Mapping

from kinn.kubelet.runtime import Mount

Obj = dict[str, Any]
DEFAULT_MODE = 0o644


class VolumeError(Exception):
    """A volume cannot be set up (kubelet event `FailedMount`); the message is upstream's wording."""


def volume_dir(pod_dir: Path, plugin: str, name: str) -> Path:
    return pod_dir / "volumes" / f"kubernetes.io~{plugin}" / name


def _write_keys(directory: Path, data: Mapping[str, bytes], source: Obj) -> None:
    """One file per key, or per `items` entry (key → path) when items are listed."""
    directory.mkdir(parents=True, exist_ok=True)
    mode = source.get("defaultMode", DEFAULT_MODE)
    items = source.get("items")
    mapping = [(item["key"], item["path"], item.get("mode", mode)) for item in items] if items else \
        [(key, key, mode) for key in data]
    for key, relative, file_mode in mapping:
        if key not in data:
            raise VolumeError(f"configmap references non-existent config key: {key}")
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data[key])
        os.chmod(path, file_mode)


def _host_path(volume: Obj) -> Path:
    source = volume["hostPath"]
    path, kind = Path(source["path"]), source.get("type", "")
    if kind == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True)
    elif kind == "FileOrCreate" and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    elif kind == "Directory" and not path.is_dir():
        raise VolumeError(f"hostPath type check failed: {path} is not a directory")
    elif kind == "File" and not path.is_file():
        raise VolumeError(f"hostPath type check failed: {path} is not a file")
    elif kind == "" and not path.exists():
        path.mkdir(parents=True)  # the unset type creates nothing upstream; runc then creates the dir
    return path


def _configmap(pod_dir: Path, volume: Obj, configmaps: Mapping[str, Obj]) -> Path:
    source = volume["configMap"]
    directory = volume_dir(pod_dir, "configmap", volume["name"])
    obj = configmaps.get(source["name"])
    if obj is None and not source.get("optional"):
        raise VolumeError(f'MountVolume.SetUp failed for volume "{volume["name"]}" : configmap "{source["name"]}" '
                          "not found")
    data = {key: value.encode() for key, value in ((obj or {}).get("data") or {}).items()}
    data.update({key: base64.b64decode(value) for key, value in ((obj or {}).get("binaryData") or {}).items()})
    _write_keys(directory, data, source)
    return directory


def _secret(pod_dir: Path, volume: Obj, secrets: Mapping[str, Obj]) -> Path:
    source = volume["secret"]
    directory = volume_dir(pod_dir, "secret", volume["name"])
    obj = secrets.get(source["secretName"])
    if obj is None and not source.get("optional"):
        raise VolumeError(f'MountVolume.SetUp failed for volume "{volume["name"]}" : secret "{source["secretName"]}" '
                          "not found")
    data = {key: base64.b64decode(value) for key, value in ((obj or {}).get("data") or {}).items()}
    _write_keys(directory, data, source)
    return directory


def set_up_volumes(pod_dir: Path, pod: Obj, configmaps: Mapping[str, Obj],
                   secrets: Mapping[str, Obj]) -> dict[str, Path]:
    """Create every volume of the pod; returns volume name → host directory (or file)."""
    paths: dict[str, Path] = {}
    for volume in pod["spec"].get("volumes") or []:
        name = volume["name"]
        if "emptyDir" in volume:
            paths[name] = volume_dir(pod_dir, "empty-dir", name)
            paths[name].mkdir(parents=True, exist_ok=True)
        elif "hostPath" in volume:
            paths[name] = _host_path(volume)
        elif "configMap" in volume:
            paths[name] = _configmap(pod_dir, volume, configmaps)
        elif "secret" in volume:
            paths[name] = _secret(pod_dir, volume, secrets)
        else:
            kinds = sorted(set(volume) - {"name"})
            raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : kinn does not support {kinds} yet')
    return paths


def container_mounts(container: Obj, volumes: Mapping[str, Path]) -> list[Mount]:
    """The container's volumeMounts as bind mounts (subPath: a path inside the volume, created if missing)."""
    mounts = []
    for mount in container.get("volumeMounts") or []:
        source = volumes.get(mount["name"])
        if source is None:
            raise VolumeError(f'volume "{mount["name"]}" not found in pod volumes')
        if mount.get("subPath"):
            source = source / mount["subPath"]
            if not source.exists():
                source.mkdir(parents=True)
        mounts.append(Mount(source, Path(mount["mountPath"]), bool(mount.get("readOnly"))))
    return mounts
