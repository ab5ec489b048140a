"""The files of configMap, secret, downwardAPI and projected volumes, as payloads for the
AtomicWriter (upstream configmap.MakePayload, secret.MakePayload, downwardapi.CollectData and
projected's collectData).

`items` pick keys and name their files; without items every key becomes a file. A file's mode
is its item's `mode`, else the volume's `defaultMode` (for a projected volume, the projected
volume's). A projected volume merges its sources into one directory; its service-account
token is bound to the pod, so it dies with it.
"""

from __future__ import annotations

import base64
from typing import Any, Mapping

from kinn.api.errors import aggregate
from kinn.kubelet import fieldpath
from kinn.kubelet.token_manager import TokenError
from kinn.kubelet.volumes.atomic_writer import FileProjection
from kinn.kubelet.volumes.host import VolumeError, VolumeHost

Obj = dict[str, Any]
Payload = dict[str, FileProjection]
DEFAULT_MODE = 0o644


def object_data(kind: str, obj: Obj | None) -> dict[str, bytes]:
    """A ConfigMap's data and binaryData, or a Secret's decoded data, as bytes."""
    obj = obj or {}
    if kind == "secret":
        return {key: base64.b64decode(value) for key, value in (obj.get("data") or {}).items()}
    data = {key: value.encode() for key, value in (obj.get("data") or {}).items()}
    data.update({key: base64.b64decode(value) for key, value in (obj.get("binaryData") or {}).items()})
    return data


def key_payload(kind: str, data: Mapping[str, bytes], items: list[Obj], default_mode: int, optional: bool) -> Payload:
    """One file per key, or per item (key → path); a missing item key fails unless optional."""
    if not items:
        return {key: FileProjection(value, default_mode) for key, value in data.items()}
    payload = {}
    for item in items:
        if item["key"] not in data:
            if optional:
                continue
            what = "configmap references non-existent config key" if kind == "configmap" else \
                "references non-existent secret key"
            raise VolumeError(f"{what}: {item['key']}")
        payload[item["path"]] = FileProjection(data[item["key"]], item.get("mode", default_mode))
    return payload


def _source_object(kind: str, name: str, optional: bool, host: VolumeHost) -> Obj | None:
    """The named ConfigMap or Secret; a missing one fails unless optional (then it has no keys)."""
    obj = (host.configmaps if kind == "configmap" else host.secrets).get(name)
    if obj is None and not optional:
        raise VolumeError(f'{kind} "{name}" not found')
    return obj


def configmap_payload(source: Obj, host: VolumeHost, default_mode: int) -> Payload:
    optional = bool(source.get("optional"))
    obj = _source_object("configmap", source["name"], optional, host)
    return key_payload("configmap", object_data("configmap", obj), source.get("items") or [], default_mode, optional)


def secret_payload(source: Obj, name: str, host: VolumeHost, default_mode: int) -> Payload:
    optional = bool(source.get("optional"))
    obj = _source_object("secret", name, optional, host)
    return key_payload("secret", object_data("secret", obj), source.get("items") or [], default_mode, optional)


def downward_api_payload(items: list[Obj], pod: Obj, allocatable: Mapping[str, str], default_mode: int) -> Payload:
    """One file per item: a metadata field (labels/annotations as `key="value"` lines) or a
    container resource; every item is tried and the errors reported together."""
    payload, errors = {}, []
    for item in items:
        try:
            if item.get("fieldRef"):
                text = fieldpath.extract_field_path_as_string(pod, item["fieldRef"]["fieldPath"])
            else:
                text = fieldpath.resource_field_value(item["resourceFieldRef"], pod, allocatable)
        except fieldpath.FieldPathError as error:
            errors.append(str(error))
            continue
        payload[item["path"]] = FileProjection(text.encode(), item.get("mode", default_mode))
    if errors:
        raise VolumeError(aggregate(errors))
    return payload


async def token_payload(projection: Obj, pod: Obj, host: VolumeHost, default_mode: int) -> Payload:
    """A token for the pod's service account, bound to the pod, for the projection's audience."""
    meta = pod["metadata"]
    spec = {"audiences": [projection["audience"]] if projection.get("audience") else [],
            "expirationSeconds": projection.get("expirationSeconds", 3600),
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]}}
    try:
        issued = await host.tokens.get_service_account_token(meta["namespace"], pod["spec"].get(
            "serviceAccountName") or "default", spec)
    except TokenError as error:
        raise VolumeError(str(error)) from None
    return {projection["path"]: FileProjection(issued["status"]["token"].encode(), default_mode)}


async def projected_payload(source: Obj, pod: Obj, host: VolumeHost) -> Payload:
    """Every source's files in one payload; failing sources are reported together."""
    mode = source.get("defaultMode", DEFAULT_MODE)
    payload: Payload = {}
    errors = []
    for projection in source.get("sources") or []:
        try:
            if projection.get("serviceAccountToken"):
                payload.update(await token_payload(projection["serviceAccountToken"], pod, host, mode))
            elif projection.get("configMap"):
                payload.update(configmap_payload(projection["configMap"], host, mode))
            elif projection.get("secret"):
                payload.update(secret_payload(projection["secret"], projection["secret"]["name"], host, mode))
            elif projection.get("downwardAPI"):
                payload.update(downward_api_payload(projection["downwardAPI"].get("items") or [], pod,
                                                    host.allocatable, mode))
        except VolumeError as error:
            errors.append(str(error))
    if errors:
        raise VolumeError(aggregate(errors))
    return payload

