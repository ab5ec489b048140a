"""Container environments as the kubelet builds them (kubelet_pods.go makeEnvironmentVariables).

Order and precedence follow upstream: the Docker-link style service variables first, then envFrom,
then env in order, each `$(VAR)` reference expanded against what came before (`$$` escapes it).
"""

from __future__ import annotations

import base64
import re
from typing import Any, Iterable, Mapping

from kinn.api.containers import all_containers
from kinn.kubelet import fieldpath

Obj = dict[str, Any]
MASTER_NAMESPACE = "default"
MASTER_SERVICE = "kubernetes"
_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class EnvError(Exception):
    """A referenced ConfigMap, Secret or key is missing (kubelet reason `CreateContainerConfigError`)."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined references are replaced, undefined ones kept, `$$` → `$`."""
    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))
    return _REFERENCE.sub(substitute, text)


def _service_name(name: str) -> str:
    return name.upper().replace("-", "_")


def service_variables(service: Obj) -> dict[str, str]:
    """`<SVC>_SERVICE_HOST`, `_SERVICE_PORT[_<NAME>]`, `<SVC>_PORT` and the `_PORT_<p>_<PROTO>*` family."""
    spec = service.get("spec") or {}
    ip, ports = spec.get("clusterIP"), spec.get("ports") or []
    if not ip or ip == "None" or not ports:
        return {}
    prefix = _service_name(service["metadata"]["name"])
    env = {f"{prefix}_SERVICE_HOST": ip, f"{prefix}_SERVICE_PORT": str(ports[0]["port"])}
    for port in ports:
        if port.get("name"):
            env[f"{prefix}_SERVICE_PORT_{_service_name(port['name'])}"] = str(port["port"])
    first_protocol = ports[0].get("protocol", "TCP").lower()
    env[f"{prefix}_PORT"] = f"{first_protocol}://{ip}:{ports[0]['port']}"
    for port in ports:
        protocol = port.get("protocol", "TCP")
        base = f"{prefix}_PORT_{port['port']}_{protocol.upper()}"
        env[base] = f"{protocol.lower()}://{ip}:{port['port']}"
        env[f"{base}_PROTO"] = protocol.lower()
        env[f"{base}_PORT"] = str(port["port"])
        env[f"{base}_ADDR"] = ip
    return env


def services_environment(pod: Obj, services: Iterable[Obj]) -> dict[str, str]:
    """Variables for the services of the pod's namespace (if enableServiceLinks, the default) and
    always for the master service `default/kubernetes`, as getServiceEnvVarMap."""
    namespace = pod["metadata"]["namespace"]
    links = pod["spec"].get("enableServiceLinks", True)
    chosen: dict[str, Obj] = {}
    for service in services:
        meta = service["metadata"]
        if meta["namespace"] == namespace and links:
            chosen[meta["name"]] = service
        elif meta["namespace"] == MASTER_NAMESPACE and meta["name"] == MASTER_SERVICE:
            chosen.setdefault(meta["name"], service)
    env: dict[str, str] = {}
    for name in sorted(chosen):
        env.update(service_variables(chosen[name]))
    return env


def field_value(pod: Obj, path: str, pod_ips: list[str], host_ip: str) -> str:
    """A fieldRef's value (podFieldSelectorRuntimeValue): what only the kubelet knows — node, IPs,
    service account — then the metadata fields every downward API consumer shares."""
    spec = pod["spec"]
    kubelet_fields = {"spec.nodeName": spec.get("nodeName", ""),
                      "spec.serviceAccountName": spec.get("serviceAccountName", ""),
                      "status.podIP": pod_ips[0] if pod_ips else "", "status.podIPs": ",".join(pod_ips),
                      "status.hostIP": host_ip, "status.hostIPs": host_ip}
    if path in kubelet_fields:
        return kubelet_fields[path]
    try:
        return fieldpath.extract_field_path_as_string(pod, path)
    except fieldpath.FieldPathError as error:
        raise EnvError(str(error)) from None


def _data(obj: Obj, kind: str) -> dict[str, str]:
    data = dict(obj.get("data") or {})
    if kind == "secret":
        return {key: base64.b64decode(value).decode(errors="replace") for key, value in data.items()}
    return data


def _key_ref(ref: Obj, kind: str, objects: Mapping[str, Obj]) -> str | None:
    obj = objects.get(ref["name"])
    optional = ref.get("optional", False)
    if obj is None:
        if optional:
            return None
        raise EnvError(f'{kind} "{ref["name"]}" not found')
    data = _data(obj, kind)
    if ref["key"] not in data:
        if optional:
            return None
        raise EnvError(f"couldn't find key {ref['key']} in {kind.capitalize() if kind == 'secret' else 'ConfigMap'} "
                       f"{obj['metadata']['namespace']}/{ref['name']}")
    return data[ref["key"]]


def container_environment(pod: Obj, container: Obj, services: Iterable[Obj], pod_ips: list[str], host_ip: str,
                          configmaps: Mapping[str, Obj], secrets: Mapping[str, Obj],
                          allocatable: Mapping[str, str] | None = None) -> dict[str, str]:
    """The complete environment of one container (`allocatable`: the node's, for unset limits)."""
    env = services_environment(pod, services)
    for source in container.get("envFrom") or []:
        kind, ref = ("configmap", source["configMapRef"]) if "configMapRef" in source else ("secret", source["secretRef"])
        obj = (configmaps if kind == "configmap" else secrets).get(ref["name"])
        if obj is None:
            if ref.get("optional"):
                continue
            raise EnvError(f'{kind} "{ref["name"]}" not found')
        env.update({source.get("prefix", "") + key: value for key, value in _data(obj, kind).items()})
    for var in container.get("env") or []:
        value = _env_value(pod, container, var, env, pod_ips, host_ip, configmaps, secrets, allocatable or {})
        if value is not None:
            env[var["name"]] = value
    return env


def _env_value(pod: Obj, container: Obj, var: Obj, env: Mapping[str, str], pod_ips: list[str], host_ip: str,
               configmaps: Mapping[str, Obj], secrets: Mapping[str, Obj], allocatable: Mapping[str, str]) -> str | None:
    source = var.get("valueFrom")
    if source is None:
        return expand(var.get("value", ""), env)
    if "fieldRef" in source:
        return field_value(pod, source["fieldRef"]["fieldPath"], pod_ips, host_ip)
    if "resourceFieldRef" in source:
        try:
            return fieldpath.resource_field_value(source["resourceFieldRef"], pod, allocatable, container)
        except fieldpath.FieldPathError as error:
            raise EnvError(str(error)) from None
    if "configMapKeyRef" in source:
        return _key_ref(source["configMapKeyRef"], "configmap", configmaps)
    if "secretKeyRef" in source:
        return _key_ref(source["secretKeyRef"], "secret", secrets)
    raise EnvError(f"unsupported valueFrom for {var['name']}: {sorted(source)}")


def referenced_names(pod: Obj) -> tuple[set[str], set[str]]:
    """Names of the ConfigMaps and Secrets the pod's env, envFrom and volumes refer to (to fetch first)."""
    configmaps: set[str] = set()
    secrets: set[str] = set()
    spec = pod["spec"]
    for container in all_containers(spec):
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                configmaps.add(source["configMapRef"]["name"])
            if "secretRef" in source:
                secrets.add(source["secretRef"]["name"])
        for var in container.get("env") or []:
            value_from = var.get("valueFrom") or {}
            if "configMapKeyRef" in value_from:
                configmaps.add(value_from["configMapKeyRef"]["name"])
            if "secretKeyRef" in value_from:
                secrets.add(value_from["secretKeyRef"]["name"])
    for volume in spec.get("volumes") or []:
        if "configMap" in volume:
            configmaps.add(volume["configMap"]["name"])
        if "secret" in volume:
            secrets.add(volume["secret"]["secretName"])
        for projection in (volume.get("projected") or {}).get("sources") or []:
            if "configMap" in projection:
                configmaps.add(projection["configMap"]["name"])
            if "secret" in projection:
                secrets.add(projection["secret"]["name"])
    return configmaps, secrets
