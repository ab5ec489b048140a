"""The file source of static pods (pkg/kubelet/config/file.go and common.go).

`--pod-manifest-path` names a directory (or one file) of Pod manifests, YAML or JSON. Each regular
file whose name does not start with "." holds one Pod; subdirectories are not read. A manifest is
decoded, defaulted and validated as the API server would a created pod, then given what makes it
this node's static pod, as upstream's applyDefaults does:

- UID: an MD5 of the defaulted pod plus `host:<node>` and `file:<path>`, so the same file on the
  same node always yields the same pod, and any edit yields a new one;
- name `<name>-<node>`, namespace `default` unless set, `spec.nodeName` this node;
- annotation `kubernetes.io/config.hash` = the UID (the mirror pod carries it as config.mirror);
- a toleration of every NoExecute taint, so taint-based eviction never targets it.

Files are re-read only when their inode, size or modification time change, so the source can be
polled often (kinn polls instead of using inotify as upstream does alongside its 20 s re-list).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kinn.api.decoding import decode
from kinn.api.defaults import apply_defaults
from kinn.api.errors import StatusError
from kinn.api.resources import TABLE
from kinn.api.validation import validate_create

log = logging.getLogger("kinn.kubelet.config")
CONFIG_HASH_ANNOTATION = "kubernetes.io/config.hash"
MAX_CONFIG_LENGTH = 10 * 1024 * 1024  # maxConfigLength: larger files are refused
_PODS = TABLE.lookup("", "v1", "pods")

Obj = dict[str, Any]


class ManifestError(Exception):
    """A manifest that is not a valid Pod; the message is upstream's."""


def generate_pod_name(name: str, node_name: str) -> str:
    return f"{name}-{node_name.lower()}"


def pod_uid(pod: Obj, source: str, node_name: str) -> str:
    """The static pod's UID: a hash of its defaulted content and where it comes from."""
    hasher = hashlib.md5(json.dumps(pod, sort_keys=True, separators=(",", ":")).encode())
    hasher.update(f"host:{node_name}".encode())
    hasher.update(f"file:{source}".encode())
    return hasher.hexdigest()


def apply_static_defaults(pod: Obj, source: str, node_name: str) -> None:
    """applyDefaults for a file: UID, name, namespace, node, hash annotation, NoExecute toleration."""
    meta, spec = pod.setdefault("metadata", {}), pod["spec"]
    meta["uid"] = meta.get("uid") or pod_uid(pod, source, node_name)
    meta["name"] = generate_pod_name(meta["name"], node_name)
    meta["namespace"] = meta.get("namespace") or "default"
    spec["nodeName"] = node_name
    meta.setdefault("annotations", {})[CONFIG_HASH_ANNOTATION] = meta["uid"]
    tolerations = spec.setdefault("tolerations", [])
    tolerate_all = {"operator": "Exists", "effect": "NoExecute"}
    if tolerate_all not in tolerations:
        tolerations.append(tolerate_all)
    pod["status"] = {"phase": "Pending"}


def decode_static_pod(data: bytes, source: str, node_name: str) -> Obj:
    """tryDecodeSinglePod: one Pod from YAML or JSON, defaulted, made static, validated."""
    try:
        pod, _ = decode(data, "application/yaml", "", "v1", "Pod", mode="Ignore")
    except StatusError as error:
        raise ManifestError(f"{source}: couldn't parse as pod({error.message}), please check config file") from None
    if pod.get("apiVersion") != "v1" or pod.get("kind") != "Pod":
        raise ManifestError(f"{source}: couldn't parse as pod(invalid pod: kind {pod.get('kind')!r} of apiVersion "
                            f"{pod.get('apiVersion')!r} is not a v1 Pod), please check config file")
    if not (pod.get("metadata") or {}).get("name"):
        raise ManifestError("invalid pod: name is needed for the pod")
    pod.setdefault("spec", {})
    assert _PODS is not None
    apply_defaults(_PODS, pod)
    apply_static_defaults(pod, source, node_name)
    errors = validate_create(_PODS, pod)
    if errors:
        raise ManifestError(f"invalid pod: [{' '.join(str(error) for error in errors)}]")
    return pod


@dataclass(frozen=True)
class _Parsed:
    signature: tuple[int, int, int]  # inode, size, mtime: a changed file is read again
    pod: Obj | None  # None: the file is not a valid manifest (logged once)


class SourceFile:
    """The static pods in `path` (a directory of manifests, or one manifest; None: no file
    source) for node `node_name`."""

    def __init__(self, path: Path | None, node_name: str) -> None:
        self.path = path
        self.node_name = node_name
        self._parsed: dict[Path, _Parsed] = {}

    def _manifests(self) -> list[Path]:
        """extractFromDir: non-hidden regular files, sorted; a missing path has none."""
        if self.path is None:
            return []
        if self.path.is_file():
            return [self.path]
        if not self.path.is_dir():
            return []
        files = []
        for entry in sorted(self.path.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                log.debug("provided manifest path %s is a directory, not recursing into it", entry)
            elif entry.is_file():
                files.append(entry)
        return files

    def _read(self, path: Path) -> Obj | None:
        try:
            stat = path.stat()
            signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            cached = self._parsed.get(path)
            if cached is not None and cached.signature == signature:
                return cached.pod
            if stat.st_size > MAX_CONFIG_LENGTH:
                raise ManifestError(f"{path}: file is larger than {MAX_CONFIG_LENGTH} bytes")
            pod: Obj | None = decode_static_pod(path.read_bytes(), str(path), self.node_name)
        except FileNotFoundError:
            return None  # removed between listing and reading
        except (OSError, ManifestError) as error:
            log.error("could not process manifest file %s: %s", path, error)
            pod = None
        self._parsed[path] = _Parsed(signature, pod)
        return pod

    def pods(self) -> dict[str, Obj]:
        """The static pods the manifests describe now, by UID."""
        files = self._manifests()
        for gone in set(self._parsed) - set(files):
            del self._parsed[gone]
        pods = (self._read(path) for path in files)
        return {pod["metadata"]["uid"]: pod for pod in pods if pod is not None}
