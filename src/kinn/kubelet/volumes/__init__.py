"""Pod volumes on the node's filesystem, laid out as the kubelet lays them out:
`<root>/pods/<uid>/volumes/kubernetes.io~<plugin>/<volume>`; hostPath volumes are the host path.

emptyDir is a directory; configMap, secret, downwardAPI and projected volumes are written by the
AtomicWriter (their contents follow the API: the kubelet sets them up again on every pod sync,
which rewrites only what changed); hostPath honours `type`; persistentVolumeClaim mounts the
bound volume's path. Containers get them as bind mounts (`volumeMounts`, subPath and readOnly).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from kinn.kubelet.runtime import Mount
from kinn.kubelet.volumes import atomic_writer, payloads
from kinn.kubelet.volumes.host import VolumeError, VolumeHost
from kinn.kubelet.volumes.hostpath import host_path
from kinn.kubelet.volumes.persistent import ClaimError, claim_path

__all__ = ["VolumeError", "VolumeHost", "container_mounts", "set_up_volumes", "volume_dir"]

Obj = dict[str, Any]
# Sources written as files, with the plugin directory upstream names them by.
_PROJECTING_PLUGINS = {"configMap": "configmap", "secret": "secret", "downwardAPI": "downward-api",
                       "projected": "projected"}


def volume_dir(pod_dir: Path, plugin: str, name: str) -> Path:
    return pod_dir / "volumes" / f"kubernetes.io~{plugin}" / name


async def _payload(kind: str, source: Obj, pod: Obj, host: VolumeHost) -> payloads.Payload:
    mode = source.get("defaultMode", payloads.DEFAULT_MODE)
    if kind == "configMap":
        return payloads.configmap_payload(source, host, mode)
    if kind == "secret":
        return payloads.secret_payload(source, source["secretName"], host, mode)
    if kind == "downwardAPI":
        return payloads.downward_api_payload(source.get("items") or [], pod, host.allocatable, mode)
    return await payloads.projected_payload(source, pod, host)


async def _set_up(pod_dir: Path, pod: Obj, volume: Obj, host: VolumeHost) -> Path:
    name = volume["name"]
    if "emptyDir" in volume:
        path = volume_dir(pod_dir, "empty-dir", name)
        path.mkdir(parents=True, exist_ok=True)
        return path
    if "hostPath" in volume:
        return host_path(volume["hostPath"])
    if "persistentVolumeClaim" in volume:
        return await claim_path(host.client, pod["metadata"]["namespace"], volume["persistentVolumeClaim"])
    kind = next((k for k in _PROJECTING_PLUGINS if k in volume), None)
    if kind is None:
        raise VolumeError(f"kinn does not support {sorted(set(volume) - {'name'})} yet")
    path = volume_dir(pod_dir, _PROJECTING_PLUGINS[kind], name)
    try:
        atomic_writer.write(path, await _payload(kind, volume[kind], pod, host))
    except atomic_writer.PayloadError as error:
        raise VolumeError(str(error)) from None
    return path


async def set_up_volumes(pod_dir: Path, pod: Obj, host: VolumeHost) -> dict[str, Path]:
    """Create or refresh every volume of the pod; returns volume name → host directory (or file).

    Every volume is tried; the failures come back together in one VolumeError, one line per
    FailedMount event: `MountVolume.SetUp failed for volume …` for a volume that could not be
    written, and the volume manager's `Unable to attach or mount volumes: …` for claims that do
    not resolve to a bound volume yet.
    """
    paths: dict[str, Path] = {}
    failures: list[str] = []
    unprocessed: dict[str, str] = {}
    for volume in pod["spec"].get("volumes") or []:
        name = volume["name"]
        try:
            paths[name] = await _set_up(pod_dir, pod, volume, host)
        except ClaimError as error:
            unprocessed[name] = str(error)
        except VolumeError as error:
            failures.append(f'MountVolume.SetUp failed for volume "{name}" : {error}')
    if unprocessed:
        unmounted = sorted(v["name"] for v in pod["spec"]["volumes"] if v["name"] not in paths)
        failures.append(f"Unable to attach or mount volumes: unmounted volumes=[{' '.join(unmounted)}], "
                        f"unattached volumes=[], failed to process volumes=[{' '.join(sorted(unprocessed))}]: "
                        + "; ".join(unprocessed.values()))
    if failures:
        raise VolumeError("\n".join(failures))
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
