"""Downward API values: pod fields (`fieldRef`) and container resources (`resourceFieldRef`), the
one resolver behind both env `valueFrom` and downwardAPI volume files.

Upstream splits it the same way: pkg/fieldpath knows the metadata fields any copy of the pod
carries (the only ones a volume may name, since its files are refreshed from the pod object),
and the kubelet adds what only it knows for env — node name, service account, pod and host IPs.
Resources follow pkg/api/v1/resource: unset limits read as the node's allocatable, and a value
is divided by `divisor` and rounded up.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from kinn.api.quantity import milli_value, parse_quantity, value

Obj = dict[str, Any]
_SUBSCRIPTED = re.compile(r"(metadata\.(?:labels|annotations))\['(.*)'\]")
# Limits that default to the node's allocatable when a container sets none (MergeContainerResourceLimits).
_ALLOCATABLE_DEFAULTED = ("cpu", "memory", "ephemeral-storage")


class FieldPathError(Exception):
    """A fieldPath or resource the downward API cannot resolve; the message is upstream's."""


def format_map(values: Mapping[str, str]) -> str:
    """`key="value"` lines sorted by key, the labels/annotations file format (fieldpath.FormatMap;
    the quoting is Go's %q, which JSON string quoting matches for printable text)."""
    return "\n".join(f"{key}={json.dumps(values[key], ensure_ascii=False)}" for key in sorted(values))


def extract_field_path_as_string(pod: Obj, path: str) -> str:
    """The metadata fields of ExtractFieldPathAsString: name, namespace, uid, labels, annotations
    (whole, as a format_map file, or one key by subscript)."""
    meta = pod["metadata"]
    subscripted = _SUBSCRIPTED.fullmatch(path)
    if subscripted:
        field, key = subscripted.groups()
        return (meta.get(field.split(".")[1]) or {}).get(key, "")
    if path in ("metadata.labels", "metadata.annotations"):
        return format_map(meta.get(path.split(".")[1]) or {})
    if path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return meta.get(path.split(".")[1], "")
    raise FieldPathError(f"unsupported fieldPath: {path}")


def _find_container(pod: Obj, name: str) -> Obj:
    spec = pod["spec"]
    for container in [*spec.get("containers", []), *(spec.get("initContainers") or [])]:
        if container["name"] == name:
            return container
    raise FieldPathError(f"container {name} not found")


def _ceil_div(dividend: int, divisor: int) -> int:
    return -(-dividend // divisor)


def resource_field_value(ref: Obj, pod: Obj, allocatable: Mapping[str, str], container: Obj | None = None) -> str:
    """A resourceFieldRef's value: of `ref.containerName`, or of `container` (env may leave the
    name out to mean its own container)."""
    if ref.get("containerName") or container is None:
        container = _find_container(pod, ref.get("containerName", ""))
    resources = container.get("resources") or {}
    limits = dict(resources.get("limits") or {})
    for name in _ALLOCATABLE_DEFAULTED:
        if parse_quantity(limits.get(name, "0")) == 0 and name in allocatable:
            limits[name] = allocatable[name]
    kind, _, name = ref["resource"].partition(".")
    if kind not in ("limits", "requests"):
        raise FieldPathError(f"unsupported container resource : {ref['resource']}")
    quantity = (limits if kind == "limits" else resources.get("requests") or {}).get(name, "0")
    divisor = ref.get("divisor") or "1"
    if parse_quantity(divisor) == 0:
        divisor = "1"
    if name == "cpu":
        return str(_ceil_div(milli_value(quantity), milli_value(divisor)))
    if name in ("memory", "ephemeral-storage") or name.startswith("hugepages-"):
        return str(_ceil_div(value(quantity), value(divisor)))
    raise FieldPathError(f"unsupported container resource : {ref['resource']}")
