"""Validation of core/v1 kinds, as pkg/apis/core/validation does it upstream.

Objects arrive already defaulted (see `kinn.api.defaults.core`), so fields the defaulters always
fill (restartPolicy, protocol, imagePullPolicy, …) are reported as Required only when a client
explicitly sends them empty. Error order and wording follow upstream's function order.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Mapping

from kinn.api import field
from kinn.api.field import ErrorList, Path, format_value
from kinn.api.sidecars import is_sidecar
from kinn.api.quantity import Quantity, QuantityError
from kinn.api.taints import TAINT_EFFECTS
from kinn.api.validation import meta as metav
from kinn.api.validation import names

Obj = Mapping[str, Any]

_PROTOCOLS = ("SCTP", "TCP", "UDP")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_FILE_MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"
_MAX_INT32 = 2**31 - 1
_MAX_DATA_SIZE = 1024 * 1024  # ConfigMap and Secret payloads (core.MaxSecretSize / MaxConfigMapSize)
_ENV_FIELD_PATHS = (
    "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
    "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
)  # fmt: skip
_VOLUME_FIELD_PATHS = ("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid")
_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_ONE_HANDLER = "may not specify more than 1 handler type"


# --- small shared checks ---


def _msgs(path: Path, value: Any, messages: Iterable[str]) -> ErrorList:
    """One Invalid error per upstream message string."""
    return [field.invalid(path, value, msg) for msg in messages]


def _nonnegative(obj: Obj, key: str, path: Path) -> ErrorList:
    value = obj.get(key)
    return metav.validate_nonnegative_field(value, path.child(key)) if isinstance(value, int) else []


def _enum(value: Any, supported: tuple[str, ...], path: Path, *, required: bool = True) -> ErrorList:
    """Required when empty, else one of `supported` (upstream's Required + NotSupported pair)."""
    if not value:
        return [field.required(path, "")] if required else []
    return [] if value in supported else [field.not_supported(path, value, supported)]


def _name_ref(obj: Obj, key: str, path: Path, name_fn: names.NameValidator = names.name_is_dns_subdomain) -> ErrorList:
    """A reference by name to another object: required and syntactically a valid name."""
    value = obj.get(key) or ""
    if not value:
        return [field.required(path.child(key), "")]
    return _msgs(path.child(key), value, name_fn(value, False))


def _one_of(obj: Obj, keys: Iterable[str]) -> list[str]:
    return [k for k in keys if obj.get(k) is not None]


def validate_port_num_or_name(port: Any, path: Path) -> ErrorList:
    """An IntOrString port: a number 1-65535 or an IANA_SVC_NAME."""
    if isinstance(port, int):
        return _msgs(path, port, names.is_valid_port_num(port))
    return _msgs(path, port, names.is_valid_port_name(str(port)))


def validate_local_descending_path(target: str, path: Path) -> ErrorList:
    """Relative paths inside a volume must not be absolute or climb out with '..'."""
    errs: ErrorList = []
    if target.startswith("/"):
        errs.append(field.invalid(path, target, "must be a relative path"))
    if ".." in target.replace("\\", "/").split("/"):
        errs.append(field.invalid(path, target, "must not contain '..'"))
    return errs


# --- resources and quantities ---


def parse_quantity_field(value: Any, path: Path) -> tuple[Quantity | None, ErrorList]:
    """Parse a quantity in a dict; upstream rejects a bad one while decoding, with the same text."""
    try:
        return Quantity.parse(str(value)), []
    except QuantityError as e:
        return None, [field.invalid(path, value, str(e))]


def _is_integer_resource(name: str) -> bool:
    """Extended resources (`example.com/gpu`) are counted in whole units."""
    return name not in _STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-") and "/" in name


def validate_resource_quantity(name: str, value: Any, path: Path) -> tuple[Quantity | None, ErrorList]:
    quantity, errs = parse_quantity_field(value, path)
    if quantity is None:
        return None, errs
    if quantity.value < 0:
        errs.append(field.invalid(path, str(quantity), "must be greater than or equal to 0"))
    if _is_integer_resource(name) and quantity.value.denominator != 1:
        errs.append(field.invalid(path, str(quantity), "must be an integer"))
    return quantity, errs


def _validate_container_resource_name(name: str, path: Path) -> ErrorList:
    errs = _msgs(path, name, names.is_qualified_name(name))
    if errs:
        return errs
    standard = name in _STANDARD_CONTAINER_RESOURCES or name.startswith("hugepages-")
    native = "/" not in name or name.startswith("kubernetes.io/")
    if native and not standard:
        return [field.invalid(path, name, "must be a standard resource for containers")]
    return []


def validate_resource_requirements(resources: Obj | None, path: Path) -> ErrorList:
    """Names are container resources, quantities non-negative, and each request ≤ its limit."""
    resources = resources or {}
    errs: ErrorList = []
    limits: dict[str, Quantity] = {}
    lim_path, req_path = path.child("limits"), path.child("requests")
    for name, value in sorted((resources.get("limits") or {}).items()):
        errs += _validate_container_resource_name(name, lim_path.key(name))
        quantity, q_errs = validate_resource_quantity(name, value, lim_path.key(name))
        errs += q_errs
        if quantity is not None:
            limits[name] = quantity
    for name, value in sorted((resources.get("requests") or {}).items()):
        errs += _validate_container_resource_name(name, req_path.key(name))
        quantity, q_errs = validate_resource_quantity(name, value, req_path.key(name))
        errs += q_errs
        limit = limits.get(name)
        if quantity is None or limit is None:
            continue
        if name.startswith("hugepages-") or _is_integer_resource(name):
            if quantity != limit:
                errs.append(field.invalid(req_path, str(quantity), f"must be equal to {name} limit of {limit}"))
        elif limit < quantity:
            errs.append(
                field.invalid(req_path, str(quantity), f"must be less than or equal to {name} limit of {limit}")
            )
    return errs


# --- containers ---


def _validate_object_field_selector(ref: Obj, allowed: tuple[str, ...], path: Path) -> ErrorList:
    if not ref.get("apiVersion"):
        return [field.required(path.child("apiVersion"), "")]
    field_path = ref.get("fieldPath") or ""
    if not field_path:
        return [field.required(path.child("fieldPath"), "")]
    base, bracket, subscript = field_path.partition("[")
    if bracket and base in ("metadata.annotations", "metadata.labels"):
        key = subscript.rstrip("]").strip("'")
        check = names.is_qualified_name(key.lower() if base == "metadata.annotations" else key)
        return _msgs(path.child("fieldPath"), key, check)
    if field_path not in allowed:
        return [field.not_supported(path.child("fieldPath"), field_path, sorted(allowed))]
    return []


def _validate_key_selector(ref: Obj, name_key: str, path: Path) -> ErrorList:
    """configMapKeyRef / secretKeyRef / volume items: an object name and a config key."""
    errs = _name_ref(ref, name_key, path)
    key = ref.get("key") or ""
    if not key:
        errs.append(field.required(path.child("key"), ""))
    else:
        errs += _msgs(path.child("key"), key, names.is_config_map_key(key))
    return errs


_RESOURCE_FIELD_REFS = tuple(
    f"{kind}.{res}" for kind in ("limits", "requests") for res in ("cpu", "memory", "ephemeral-storage")
)


def _validate_env_value_from(env: Obj, path: Path) -> ErrorList:
    source = env.get("valueFrom")
    if source is None:
        return []
    errs: ErrorList = []
    if source.get("fieldRef") is not None:
        errs += _validate_object_field_selector(source["fieldRef"], _ENV_FIELD_PATHS, path.child("fieldRef"))
    if source.get("resourceFieldRef") is not None:
        resource = source["resourceFieldRef"].get("resource") or ""
        res_path = path.child("resourceFieldRef", "resource")
        if not resource:
            errs.append(field.required(res_path, ""))
        elif resource not in _RESOURCE_FIELD_REFS and not resource.startswith(("limits.hugepages-", "requests.hugepages-")):
            errs.append(field.not_supported(res_path, resource, sorted(_RESOURCE_FIELD_REFS)))
    if source.get("configMapKeyRef") is not None:
        errs += _validate_key_selector(source["configMapKeyRef"], "name", path.child("configMapKeyRef"))
    if source.get("secretKeyRef") is not None:
        errs += _validate_key_selector(source["secretKeyRef"], "name", path.child("secretKeyRef"))
    count = len(_one_of(source, ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")))
    if count == 0:
        errs.append(
            field.invalid(path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`")
        )
    elif env.get("value"):
        errs.append(field.invalid(path, "", "may not be specified when `value` is not empty"))
    elif count > 1:
        errs.append(field.invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def _validate_env(env_list: list[Obj], path: Path) -> ErrorList:
    errs: ErrorList = []
    for i, env in enumerate(env_list):
        idx = path.index(i)
        name = env.get("name") or ""
        if not name:
            errs.append(field.required(idx.child("name"), ""))
        else:
            errs += _msgs(idx.child("name"), name, names.is_env_var_name(name))
        errs += _validate_env_value_from(env, idx.child("valueFrom"))
    return errs


def _validate_env_from(sources: list[Obj], path: Path) -> ErrorList:
    errs: ErrorList = []
    for i, source in enumerate(sources):
        idx = path.index(i)
        if source.get("prefix"):
            errs += _msgs(idx.child("prefix"), source["prefix"], names.is_env_var_name(source["prefix"]))
        for key in ("configMapRef", "secretRef"):
            if source.get(key) is not None:
                errs += _name_ref(source[key], "name", idx.child(key))
        count = len(_one_of(source, ("configMapRef", "secretRef")))
        if count == 0:
            errs.append(field.invalid(idx, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif count > 1:
            errs.append(field.invalid(idx, "", "may not have more than one field specified at a time"))
    return errs


def _validate_container_ports(ports: list[Obj], path: Path) -> ErrorList:
    errs: ErrorList = []
    seen: set[str] = set()
    for i, port in enumerate(ports):
        idx = path.index(i)
        name = port.get("name") or ""
        if name:
            name_errs = _msgs(idx.child("name"), name, names.is_valid_port_name(name))
            if name_errs:
                errs += name_errs
            elif name in seen:
                errs.append(field.duplicate(idx.child("name"), name))
            seen.add(name)
        container_port = port.get("containerPort") or 0
        if container_port == 0:
            errs.append(field.required(idx.child("containerPort"), ""))
        else:
            errs += _msgs(idx.child("containerPort"), container_port, names.is_valid_port_num(container_port))
        if port.get("hostPort"):
            errs += _msgs(idx.child("hostPort"), port["hostPort"], names.is_valid_port_num(port["hostPort"]))
        errs += _enum(port.get("protocol"), _PROTOCOLS, idx.child("protocol"))
    return errs


def _validate_volume_mounts(mounts: list[Obj], volumes: set[str], path: Path) -> ErrorList:
    errs: ErrorList = []
    mount_points: set[str] = set()
    for i, mount in enumerate(mounts):
        idx = path.index(i)
        name, mount_path = mount.get("name") or "", mount.get("mountPath") or ""
        if not name:
            errs.append(field.required(idx.child("name"), ""))
        if name not in volumes:
            errs.append(field.not_found(idx.child("name"), name))
        if not mount_path:
            errs.append(field.required(idx.child("mountPath"), ""))
        if mount_path in mount_points:
            errs.append(field.invalid(idx.child("mountPath"), mount_path, "must be unique"))
        mount_points.add(mount_path)
        if mount.get("subPath"):
            errs += validate_local_descending_path(mount["subPath"], idx.child("subPath"))
    return errs


def _validate_handler(handler: Obj, path: Path) -> ErrorList:
    """Probes and lifecycle hooks: exactly one of exec/httpGet/tcpSocket/grpc (sleep for hooks)."""
    errs: ErrorList = []
    kinds = _one_of(handler, ("exec", "httpGet", "tcpSocket", "grpc", "sleep"))
    for extra in kinds[1:]:
        errs.append(field.forbidden(path.child(extra), _ONE_HANDLER))
    if not kinds:
        return [field.required(path, "must specify a handler type")]
    kind = kinds[0]
    action, sub = handler[kind], path.child(kind)
    if kind == "exec" and not action.get("command"):
        errs.append(field.required(sub.child("command"), ""))
    if kind == "httpGet":
        if not action.get("path"):
            errs.append(field.required(sub.child("path"), ""))
        errs += validate_port_num_or_name(action.get("port", 0), sub.child("port"))
        errs += _enum(action.get("scheme"), ("HTTP", "HTTPS"), sub.child("scheme"), required=False)
    if kind == "tcpSocket":
        errs += validate_port_num_or_name(action.get("port", 0), sub.child("port"))
    if kind == "grpc":
        errs += _msgs(sub.child("port"), action.get("port", 0), names.is_valid_port_num(action.get("port", 0)))
    return errs


def _validate_probe(probe: Obj | None, path: Path, *, single_success: bool) -> ErrorList:
    if probe is None:
        return []
    errs = _validate_handler(probe, path)
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs += _nonnegative(probe, key, path)
    grace = probe.get("terminationGracePeriodSeconds")
    if grace is not None and grace <= 0:
        errs.append(field.invalid(path.child("terminationGracePeriodSeconds"), grace, "must be greater than 0"))
    if single_success and probe.get("successThreshold", 1) != 1:
        errs.append(field.invalid(path.child("successThreshold"), probe["successThreshold"], "must be 1"))
    return errs


def _validate_lifecycle(lifecycle: Obj | None, path: Path) -> ErrorList:
    if lifecycle is None:
        return []
    errs: ErrorList = []
    for hook in ("postStart", "preStop"):
        if lifecycle.get(hook) is not None:
            errs += _validate_handler(lifecycle[hook], path.child(hook))
    return errs


def _validate_container_common(container: Obj, volumes: set[str], path: Path) -> ErrorList:
    """What every container kind shares: name, image, pull policy, ports, env, mounts, resources."""
    errs: ErrorList = []
    name = container.get("name") or ""
    if not name:
        errs.append(field.required(path.child("name"), ""))
    else:
        errs += _msgs(path.child("name"), name, names.is_dns1123_label(name))
    image = container.get("image") or ""
    if not image:
        errs.append(field.required(path.child("image"), ""))
    elif image != image.strip():
        errs.append(field.invalid(path.child("image"), image, "must not have leading or trailing whitespace"))
    policy = container.get("terminationMessagePolicy")
    if policy not in ("File", "FallbackToLogsOnError"):
        message = "must be 'File' or 'FallbackToLogsOnError'"
        errs.append(
            field.required(path.child("terminationMessagePolicy"), message)
            if not policy
            else field.invalid(path.child("terminationMessagePolicy"), policy, message)
        )
    errs += _enum(container.get("imagePullPolicy"), _PULL_POLICIES, path.child("imagePullPolicy"))
    errs += _validate_container_ports(container.get("ports") or [], path.child("ports"))
    errs += _validate_env(container.get("env") or [], path.child("env"))
    errs += _validate_env_from(container.get("envFrom") or [], path.child("envFrom"))
    errs += _validate_volume_mounts(container.get("volumeMounts") or [], volumes, path.child("volumeMounts"))
    errs += validate_resource_requirements(container.get("resources"), path.child("resources"))
    errs += _validate_lifecycle(container.get("lifecycle"), path.child("lifecycle"))
    return errs


def _validate_container_names(containers: list[Obj], taken: set[str], path: Path) -> ErrorList:
    errs: ErrorList = []
    for i, container in enumerate(containers):
        name = container.get("name") or ""
        if name and name in taken:
            errs.append(field.duplicate(path.index(i).child("name"), name))
        taken.add(name)
    return errs


def _validate_containers(containers: list[Obj], volumes: set[str], taken: set[str], path: Path) -> ErrorList:
    if not containers:
        return [field.required(path, "")]
    errs = _validate_container_names(containers, taken, path)
    for i, container in enumerate(containers):
        idx = path.index(i)
        errs += _validate_container_common(container, volumes, idx)
        errs += _validate_probe(container.get("livenessProbe"), idx.child("livenessProbe"), single_success=True)
        errs += _validate_probe(container.get("readinessProbe"), idx.child("readinessProbe"), single_success=False)
        errs += _validate_probe(container.get("startupProbe"), idx.child("startupProbe"), single_success=True)
        if container.get("restartPolicy"):
            errs.append(field.forbidden(idx.child("restartPolicy"), "may not be set for non-init containers"))
    return errs


def _validate_init_containers(containers: list[Obj], volumes: set[str], taken: set[str], path: Path) -> ErrorList:
    """Init containers run to completion unless they are sidecars (restartPolicy: Always)."""
    errs = _validate_container_names(containers, taken, path)
    for i, container in enumerate(containers):
        idx = path.index(i)
        errs += _validate_container_common(container, volumes, idx)
        sidecar = is_sidecar(container)
        errs += _enum(container.get("restartPolicy"), ("Always",), idx.child("restartPolicy"), required=False)
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if container.get(probe) is None:
                continue
            if sidecar:
                errs += _validate_probe(container[probe], idx.child(probe), single_success=probe != "readinessProbe")
            else:
                errs.append(
                    field.forbidden(idx.child(probe), "may not be set for init containers without restartPolicy=Always")
                )
    return errs


# Container fields an ephemeral container may not set (upstream lists the others in
# allowedEphemeralContainerFields): a debugging container gets no ports, resources, probes or
# hooks and is never restarted, so nothing of the pod's own service may come to rely on it.
# In upstream's field order, which is the order of its errors.
_EPHEMERAL_FORBIDDEN = ("ports", "resources", "resizePolicy", "restartPolicy", "livenessProbe", "readinessProbe",
                        "startupProbe", "lifecycle")
_NOT_FOR_EPHEMERAL = "cannot be set for an Ephemeral Container"


def _is_set(container: Obj, key: str) -> bool:
    """Whether the field differs from Go's zero value, as upstream's validateFieldAllowList checks:
    null is unset, and so is `resources: {}` (a struct, where the other fields are pointers or lists)."""
    value = container.get(key)
    if key == "resources":
        return any(v is not None for v in (value or {}).values())
    return value is not None


def _validate_ephemeral_containers(containers: list[Obj], volumes: set[str], others: set[str], path: Path) -> ErrorList:
    """validateEphemeralContainers: valid containers, named uniquely across every container kind,
    targeting (`kubectl debug --target`) a container or init container, and without the fields a
    debugging container may not have. Subpath mounts are refused too: their bind mounts would
    outlive the container until the pod exits."""
    errs: ErrorList = []
    taken = set(others)
    for i, container in enumerate(containers):
        idx = path.index(i)
        errs += _validate_container_common(container, volumes, idx)
        name = container.get("name") or ""
        if name in taken:
            errs.append(field.duplicate(idx.child("name"), name))
        taken.add(name)
        target = container.get("targetContainerName")
        if target and target not in others:
            errs.append(field.not_found(idx.child("targetContainerName"), target))
        errs += [field.forbidden(idx.child(key), _NOT_FOR_EPHEMERAL) for key in _EPHEMERAL_FORBIDDEN
                 if _is_set(container, key)]
        for j, mount in enumerate(container.get("volumeMounts") or []):
            errs += [field.forbidden(idx.child("volumeMounts").index(j).child(key), _NOT_FOR_EPHEMERAL)
                     for key in ("subPath", "subPathExpr") if mount.get(key)]
    return errs


# --- volumes ---

_VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
    "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
    "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
    "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
)  # fmt: skip
_HOST_PATH_TYPES = (
    "", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice",
)  # fmt: skip


def _validate_mode(obj: Obj, key: str, path: Path) -> ErrorList:
    mode = obj.get(key)
    if mode is not None and not 0 <= mode <= 0o777:
        return [field.invalid(path.child(key), mode, _FILE_MODE_MSG)]
    return []


def _validate_key_to_paths(items: list[Obj], path: Path) -> ErrorList:
    errs: ErrorList = []
    for i, item in enumerate(items):
        idx = path.index(i)
        if not item.get("key"):
            errs.append(field.required(idx.child("key"), ""))
        if not item.get("path"):
            errs.append(field.required(idx.child("path"), ""))
        errs += validate_local_descending_path(item.get("path") or "", idx.child("path"))
        errs += _validate_mode(item, "mode", idx)
    return errs


def _validate_downward_api_items(items: list[Obj], path: Path) -> ErrorList:
    errs: ErrorList = []
    for i, item in enumerate(items):
        idx = path.index(i)
        if not item.get("path"):
            errs.append(field.required(idx.child("path"), ""))
        errs += validate_local_descending_path(item.get("path") or "", idx.child("path"))
        errs += _validate_mode(item, "mode", idx)
        if item.get("fieldRef") is not None:
            errs += _validate_object_field_selector(item["fieldRef"], _VOLUME_FIELD_PATHS, idx.child("fieldRef"))
    return errs


def _validate_projected(source: Obj, path: Path) -> ErrorList:
    errs = _validate_mode(source, "defaultMode", path)
    for i, projection in enumerate(source.get("sources") or []):
        idx = path.child("sources").index(i)
        for kind in ("configMap", "secret"):
            if projection.get(kind) is not None:
                errs += _validate_key_to_paths(projection[kind].get("items") or [], idx.child(kind, "items"))
        if projection.get("downwardAPI") is not None:
            errs += _validate_downward_api_items(projection["downwardAPI"].get("items") or [], idx.child("downwardAPI", "items"))
        token = projection.get("serviceAccountToken")
        if token is not None:
            if not token.get("path"):
                errs.append(field.required(idx.child("serviceAccountToken", "path"), ""))
            if token.get("expirationSeconds", 3600) < 600:
                errs.append(
                    field.invalid(idx.child("serviceAccountToken", "expirationSeconds"), token["expirationSeconds"],
                                  "may not specify a duration less than 10 minutes")
                )  # fmt: skip
    return errs


def _validate_volume_source(volume: Obj, path: Path) -> ErrorList:
    kinds = _one_of(volume, _VOLUME_SOURCES)
    if not kinds:
        return [field.required(path, "must specify a volume type")]
    errs = [field.forbidden(path.child(extra), "may not specify more than 1 volume type") for extra in kinds[1:]]
    kind = kinds[0]
    source, sub = volume[kind], path.child(kind)
    if kind == "hostPath":
        if not source.get("path"):
            errs.append(field.required(sub.child("path"), ""))
        if source.get("type") is not None and source["type"] not in _HOST_PATH_TYPES:
            errs.append(field.not_supported(sub.child("type"), source["type"], _HOST_PATH_TYPES))
    elif kind == "emptyDir":
        errs += _enum(source.get("medium"), ("", "Memory", "HugePages"), sub.child("medium"), required=False)
        if source.get("sizeLimit") is not None:
            errs += validate_resource_quantity("sizeLimit", source["sizeLimit"], sub.child("sizeLimit"))[1]
    elif kind in ("configMap", "secret"):
        errs += _name_ref(source, "name" if kind == "configMap" else "secretName", sub)
        errs += _validate_mode(source, "defaultMode", sub)
        errs += _validate_key_to_paths(source.get("items") or [], sub.child("items"))
    elif kind == "persistentVolumeClaim":
        if not source.get("claimName"):
            errs.append(field.required(sub.child("claimName"), ""))
    elif kind == "downwardAPI":
        errs += _validate_mode(source, "defaultMode", sub)
        errs += _validate_downward_api_items(source.get("items") or [], sub.child("items"))
    elif kind == "projected":
        errs += _validate_projected(source, sub)
    elif kind == "nfs":
        if not source.get("server"):
            errs.append(field.required(sub.child("server"), ""))
        if not source.get("path"):
            errs.append(field.required(sub.child("path"), ""))
        elif not source["path"].startswith("/"):
            errs.append(field.invalid(sub.child("path"), source["path"], "must be an absolute path"))
    return errs


def _validate_volumes(volumes: list[Obj], path: Path) -> tuple[set[str], ErrorList]:
    """Names are unique DNS labels, each volume has exactly one source. Returns the valid names."""
    errs: ErrorList = []
    seen: set[str] = set()
    for i, volume in enumerate(volumes):
        idx = path.index(i)
        name = volume.get("name") or ""
        name_errs = (
            [field.required(idx.child("name"), "")]
            if not name
            else _msgs(idx.child("name"), name, names.is_dns1123_label(name))
        )
        if not name_errs and name in seen:
            name_errs.append(field.duplicate(idx.child("name"), name))
        errs += name_errs + _validate_volume_source(volume, idx)
        if not name_errs:
            seen.add(name)
    return seen, errs


# --- scheduling constraints ---


_WHEN_UNSATISFIABLE = ("DoNotSchedule", "ScheduleAnyway")
_NODE_INCLUSION_POLICIES = ("Honor", "Ignore")


def validate_topology_spread_constraints(constraints: list[Obj], path: Path) -> ErrorList:
    """Upstream `validateTopologySpreadConstraints`: a positive maxSkew, a topologyKey, a supported
    whenUnsatisfiable, no two constraints on one {topologyKey, whenUnsatisfiable}, minDomains only
    positive and only with DoNotSchedule, known node inclusion policies, a valid labelSelector."""
    errs: ErrorList = []
    for i, constraint in enumerate(constraints):
        idx = path.index(i)
        skew, key = constraint.get("maxSkew") or 0, constraint.get("topologyKey") or ""
        when = constraint.get("whenUnsatisfiable") or ""
        if skew <= 0:
            errs.append(field.invalid(idx.child("maxSkew"), skew, "must be greater than zero"))
        if not key:
            errs.append(field.required(idx.child("topologyKey"), "can not be empty"))
        if when not in _WHEN_UNSATISFIABLE:
            errs.append(field.not_supported(idx.child("whenUnsatisfiable"), when, _WHEN_UNSATISFIABLE))
        if any((later.get("topologyKey") or "", later.get("whenUnsatisfiable") or "") == (key, when)
               for later in constraints[i + 1:]):
            errs.append(field.duplicate(idx.child("{topologyKey, whenUnsatisfiable}"), f"{{{key}, {when}}}"))
        min_domains = constraint.get("minDomains")
        if min_domains is not None:
            if min_domains <= 0:
                errs.append(field.invalid(idx.child("minDomains"), min_domains, "must be greater than zero"))
            if when != "DoNotSchedule":
                errs.append(field.invalid(idx.child("minDomains"), min_domains,
                                          f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {when}"))
        for policy in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            if constraint.get(policy) is not None and constraint[policy] not in _NODE_INCLUSION_POLICIES:
                errs.append(field.not_supported(idx.child(policy), constraint[policy], _NODE_INCLUSION_POLICIES))
        errs += metav.validate_label_selector(constraint.get("labelSelector"), idx.child("labelSelector"))
    return errs


def validate_tolerations(tolerations: list[Obj], path: Path) -> ErrorList:
    errs: ErrorList = []
    for i, toleration in enumerate(tolerations):
        idx = path.index(i)
        key, operator = toleration.get("key") or "", toleration.get("operator") or ""
        effect, value = toleration.get("effect") or "", toleration.get("value") or ""
        if key:
            errs += metav.validate_label_name(key, idx.child("key"))
        if not key and operator != "Exists":
            errs.append(
                field.invalid(idx.child("operator"), operator,
                              'operator must be Exists when `key` is empty, which means "match all values and all keys"')
            )  # fmt: skip
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(field.invalid(idx.child("effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if operator in ("Equal", ""):
            errs += _msgs(idx.child("operator"), value, names.is_valid_label_value(value))
        elif operator == "Exists":
            if value:
                errs.append(field.invalid(idx.child("operator"), dict(toleration), "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(field.not_supported(idx.child("operator"), operator, ("Equal", "Exists")))
        if effect:
            errs += _enum(effect, TAINT_EFFECTS, idx.child("effect"))
    return errs


def _validate_node_selector_requirement(req: Obj, path: Path) -> ErrorList:
    errs: ErrorList = []
    operator, values = req.get("operator", ""), req.get("values") or []
    if operator in ("In", "NotIn"):
        if not values:
            errs.append(field.required(path.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            errs.append(
                field.forbidden(path.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
            )
    elif operator in ("Gt", "Lt"):
        if len(values) != 1:
            errs.append(field.required(path.child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
    else:
        errs.append(field.invalid(path.child("operator"), operator, "not a valid selector operator"))
    return errs + metav.validate_label_name(req.get("key", ""), path.child("key"))


def _validate_node_selector_term(term: Obj, path: Path) -> ErrorList:
    errs: ErrorList = []
    for i, req in enumerate(term.get("matchExpressions") or []):
        errs += _validate_node_selector_requirement(req, path.child("matchExpressions").index(i))
    return errs


def _validate_weight(term: Obj, path: Path) -> ErrorList:
    weight = term.get("weight", 0)
    return [] if 1 <= weight <= 100 else [field.invalid(path.child("weight"), weight, "must be in the range 1-100")]


def _validate_pod_affinity_term(term: Obj, path: Path) -> ErrorList:
    errs = metav.validate_label_selector(term.get("labelSelector"), path.child("labelSelector"))
    errs += metav.validate_label_selector(term.get("namespaceSelector"), path.child("namespaceSelector"))
    for name in term.get("namespaces") or []:
        errs += _msgs(path.child("namespace"), name, names.is_dns1123_label(name))
    topology_key = term.get("topologyKey") or ""
    if not topology_key:
        errs.append(field.required(path.child("topologyKey"), "can not be empty"))
    else:
        errs += metav.validate_label_name(topology_key, path.child("topologyKey"))
    return errs


def _validate_affinity(affinity: Obj | None, path: Path) -> ErrorList:
    if not affinity:
        return []
    errs: ErrorList = []
    node = affinity.get("nodeAffinity") or {}
    required = node.get("requiredDuringSchedulingIgnoredDuringExecution")
    req_path = path.child("nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
    if required is not None:
        terms = required.get("nodeSelectorTerms") or []
        if not terms:
            errs.append(field.required(req_path.child("nodeSelectorTerms"), "must have at least one node selector term"))
        for i, term in enumerate(terms):
            errs += _validate_node_selector_term(term, req_path.child("nodeSelectorTerms").index(i))
    pref_path = path.child("nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution")
    for i, term in enumerate(node.get("preferredDuringSchedulingIgnoredDuringExecution") or []):
        errs += _validate_weight(term, pref_path.index(i))
        errs += _validate_node_selector_term(term.get("preference") or {}, pref_path.index(i).child("preference"))
    for kind in ("podAffinity", "podAntiAffinity"):
        pod = affinity.get(kind) or {}
        req_path = path.child(kind, "requiredDuringSchedulingIgnoredDuringExecution")
        for i, term in enumerate(pod.get("requiredDuringSchedulingIgnoredDuringExecution") or []):
            errs += _validate_pod_affinity_term(term, req_path.index(i))
        pref_path = path.child(kind, "preferredDuringSchedulingIgnoredDuringExecution")
        for i, term in enumerate(pod.get("preferredDuringSchedulingIgnoredDuringExecution") or []):
            errs += _validate_weight(term, pref_path.index(i))
            errs += _validate_pod_affinity_term(term.get("podAffinityTerm") or {}, pref_path.index(i).child("podAffinityTerm"))
    return errs


# --- pod spec ---


def _validate_dns(spec: Obj, path: Path) -> ErrorList:
    errs = _enum(spec.get("dnsPolicy"), _DNS_POLICIES, path.child("dnsPolicy"))
    if spec.get("dnsPolicy") == "None" and spec.get("dnsConfig") is None:
        errs.append(field.required(path.child("dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
    config = spec.get("dnsConfig") or {}
    for i, server in enumerate(config.get("nameservers") or []):
        errs += _msgs(path.child("dnsConfig", "nameservers").index(i), server, names.is_valid_ip(server))
    return errs


def _validate_host_network_ports(spec: Obj, path: Path) -> ErrorList:
    """With hostNetwork the container port is the host port, so the two must agree."""
    if not spec.get("hostNetwork"):
        return []
    errs: ErrorList = []
    for kind in ("containers", "initContainers"):
        for i, container in enumerate(spec.get(kind) or []):
            for j, port in enumerate(container.get("ports") or []):
                if port.get("hostPort") not in (None, 0, port.get("containerPort")):
                    errs.append(
                        field.invalid(path.child(kind).index(i).child("ports").index(j).child("hostPort"), port["hostPort"],
                                      "must match `containerPort` when `hostNetwork` is true")
                    )  # fmt: skip
    return errs


def validate_pod_spec(spec: Obj, path: Path) -> ErrorList:
    """Upstream `ValidatePodSpec`: volumes, containers, policies, scheduling and identity fields."""
    volumes, errs = _validate_volumes(spec.get("volumes") or [], path.child("volumes"))
    taken: set[str] = set()
    errs += _validate_containers(spec.get("containers") or [], volumes, taken, path.child("containers"))
    errs += _validate_init_containers(spec.get("initContainers") or [], volumes, taken, path.child("initContainers"))
    errs += _validate_ephemeral_containers(spec.get("ephemeralContainers") or [], volumes, taken,
                                           path.child("ephemeralContainers"))
    errs += _enum(spec.get("restartPolicy"), _RESTART_POLICIES, path.child("restartPolicy"))
    errs += _validate_dns(spec, path)
    errs += metav.validate_labels(spec.get("nodeSelector"), path.child("nodeSelector"))
    for key in ("serviceAccountName", "nodeName"):
        if spec.get(key):
            errs += _msgs(path.child(key), spec[key], names.name_is_dns_subdomain(spec[key], False))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= _MAX_INT32:
        errs.append(field.invalid(path.child("activeDeadlineSeconds"), deadline, names.inclusive_range_error(1, _MAX_INT32)))
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            errs += _msgs(path.child(key), spec[key], names.is_dns1123_label(spec[key]))
    errs += validate_tolerations(spec.get("tolerations") or [], path.child("tolerations"))
    errs += _validate_affinity(spec.get("affinity"), path.child("affinity"))
    errs += validate_topology_spread_constraints(spec.get("topologySpreadConstraints") or [],
                                                 path.child("topologySpreadConstraints"))
    errs += _validate_host_network_ports(spec, path)
    if spec.get("priorityClassName"):
        errs += _msgs(path.child("priorityClassName"), spec["priorityClassName"],
                      names.name_is_dns_subdomain(spec["priorityClassName"], False))  # fmt: skip
    errs += _enum(spec.get("preemptionPolicy"), ("Never", "PreemptLowerPriority"), path.child("preemptionPolicy"), required=False)
    for i, host in enumerate(spec.get("hostAliases") or []):
        errs += _msgs(path.child("hostAliases").index(i).child("ip"), host.get("ip", ""), names.is_valid_ip(host.get("ip", "")))
    return errs


def validate_pod_template_spec(template: Obj | None, path: Path) -> ErrorList:
    """A pod template: its labels and annotations (reported at `<path>.labels`, as upstream does)
    and its pod spec."""
    template = template or {}
    template_meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    errs = (
        metav.validate_labels(template_meta.get("labels"), path.child("labels"))
        + metav.validate_annotations(template_meta.get("annotations"), path.child("annotations"))
        + validate_pod_spec(spec, path.child("spec"))
    )
    if spec.get("ephemeralContainers"):
        errs.append(field.forbidden(path.child("spec", "ephemeralContainers"),
                                    "ephemeral containers not allowed in pod template"))
    return errs


# --- Pod ---


MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"


def _validate_pod_metadata_and_spec(pod: Obj) -> ErrorList:
    return metav.validate_object_meta(pod, True, names.name_is_dns_subdomain) + validate_pod_spec(
        pod.get("spec") or {}, Path("spec")
    )


def _validate_pod_create(pod: Obj) -> ErrorList:
    """Ephemeral containers come only through the `ephemeralcontainers` subresource of a pod that exists."""
    errs = _validate_pod_metadata_and_spec(pod)
    if (pod.get("spec") or {}).get("ephemeralContainers"):
        errs.append(field.forbidden(Path("spec", "ephemeralContainers"), "cannot be set on create"))
    return errs


_POD_UPDATABLE = (
    "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def spec_diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    """A short `-old`/`+new` listing of what differs, standing in for upstream's cmp.Diff."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines: list[str] = []
        for key in sorted(set(old) | set(new)):
            lines += spec_diff(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else key)
        return lines
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [line for i, (o, n) in enumerate(zip(old, new)) for line in spec_diff(o, n, f"{prefix}[{i}]")]
    if old == new:
        return []
    dump = lambda v: json.dumps(v, separators=(",", ":"), sort_keys=True)  # noqa: E731
    return [f"- \t{prefix}: {dump(old)}", f"+ \t{prefix}: {dump(new)}"]


def _validate_container_updates(new: list[Obj], old: list[Obj], path: Path) -> tuple[ErrorList, bool]:
    if len(new) != len(old):
        return [field.forbidden(path, "pod updates may not add or remove containers")], True
    return [field.required(path.index(i).child("image"), "") for i, c in enumerate(new) if not c.get("image")], False


def _validate_only_added_tolerations(new: list[Obj], old: list[Obj], path: Path) -> ErrorList:
    """Existing tolerations stay; only a NoExecute toleration's tolerationSeconds may shrink."""
    errs: ErrorList = []
    for toleration in old:
        if toleration in new:
            continue
        same = lambda t: all(t.get(k) == toleration.get(k) for k in ("key", "operator", "value", "effect"))  # noqa: E731
        shrunk = [t for t in new if same(t) and (t.get("tolerationSeconds") or 0) <= (toleration.get("tolerationSeconds") or 0)]
        if toleration.get("effect") != "NoExecute" or not shrunk:
            errs.append(field.forbidden(path, "existing toleration can not be modified except its tolerationSeconds"))
    return errs


def _munge_updatable(new_spec: Obj, old_spec: Obj) -> dict[str, Any]:
    """The new spec with every legitimately updatable field set back to its old value."""
    munged = json.loads(json.dumps(new_spec))
    for kind in ("containers", "initContainers"):
        for container, old in zip(munged.get(kind) or [], old_spec.get(kind) or []):
            container["image"] = old.get("image")
    for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        munged.pop(key, None)
        if key in old_spec:
            munged[key] = old_spec[key]
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if old_grace is not None and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    return munged


def _validate_active_deadline_update(new: Any, old: Any, path: Path) -> ErrorList:
    """Only from unset to a value, or to a smaller value."""
    if new is None:
        return [field.invalid(path, None, "must not update from a positive integer to nil value")] if old is not None else []
    if not 0 <= new <= _MAX_INT32:
        return [field.invalid(path, new, names.inclusive_range_error(0, _MAX_INT32))]
    if old is not None and old < new:
        return [field.invalid(path, new, "must be less than or equal to previous value")]
    return []


def _validate_pod_update(new: Obj, old: Obj) -> ErrorList:
    errs = metav.validate_object_meta_update(new, old) + _validate_pod_metadata_and_spec(new)
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    spec_path = Path("spec")
    for kind in ("containers", "initContainers"):
        container_errs, stop = _validate_container_updates(
            new_spec.get(kind) or [], old_spec.get(kind) or [], spec_path.child(kind)
        )
        errs += container_errs
        if stop:
            return errs
    errs += _validate_active_deadline_update(
        new_spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds"), spec_path.child("activeDeadlineSeconds")
    )
    errs += _validate_only_added_tolerations(
        new_spec.get("tolerations") or [], old_spec.get("tolerations") or [], spec_path.child("tolerations")
    )
    munged = _munge_updatable(new_spec, old_spec)
    if munged != old_spec:
        diff = "\n".join(spec_diff(old_spec, munged))
        errs.append(field.forbidden(spec_path, f"pod updates may not change fields other than {_POD_UPDATABLE}\n{diff}"))
    return errs


def validate_pod_ephemeral_containers_update(new: Obj, old: Obj) -> ErrorList:
    """ValidatePodEphemeralContainersUpdate: the pod stays valid and its ephemeral containers may
    only be added to; one already there may have run, so it is neither changed nor removed. The
    kubelet runs no ephemeral container in a static pod, so a mirror pod takes none."""
    if MIRROR_POD_ANNOTATION in (old["metadata"].get("annotations") or {}):
        return [field.forbidden("", "static pods do not support ephemeral containers")]
    errs = metav.validate_object_meta_update(new, old) + _validate_pod_metadata_and_spec(new)
    path = Path("spec", "ephemeralContainers")
    # Patches may reorder the list: containers are matched by name.
    by_name = {c.get("name"): c for c in (new.get("spec") or {}).get("ephemeralContainers") or []}
    for container in (old.get("spec") or {}).get("ephemeralContainers") or []:
        name = container.get("name") or ""
        existing = f"existing ephemeral containers {format_value(name)}"
        if name not in by_name:
            errs.append(field.forbidden(path, f"{existing} may not be removed\n"))
        elif by_name[name] != container:
            diff = "\n".join(spec_diff(container, by_name[name]))
            errs.append(field.forbidden(path, f"{existing} may not be changed\n{diff}"))
    return errs


def _validate_ip_list(ips: list[Obj], path: Path) -> ErrorList:
    """status.podIPs / hostIPs: valid, unique, at most one per family."""
    errs: ErrorList = []
    seen: set[str] = set()
    families: set[int] = set()
    for i, entry in enumerate(ips):
        ip = entry.get("ip", "")
        parsed = names.parse_ip(ip)
        if parsed is None:
            errs += _msgs(path.index(i), ip, names.is_valid_ip(ip))
            continue
        if ip in seen:
            errs.append(field.duplicate(path.index(i), ip))
        seen.add(ip)
        families.add(parsed.version)
    if len(ips) > 2 or (len(ips) == 2 and len(families) != 2):
        errs.append(field.invalid(path, ips, "may specify no more than one IP for each IP family"))
    return errs


def _validate_pod_status_update(new: Obj, old: Obj) -> ErrorList:
    status = new.get("status") or {}
    errs = metav.validate_object_meta_update(new, old)
    errs += _validate_ip_list(status.get("podIPs") or [], Path("status", "podIPs"))
    errs += _validate_ip_list(status.get("hostIPs") or [], Path("status", "hostIPs"))
    return errs


# --- Service ---

_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_KUBELET_PORT = 10250


def externally_accessible(spec: Obj) -> bool:
    """Upstream `ExternallyAccessible`: reachable from outside the cluster network."""
    kind = spec.get("type")
    return kind in ("LoadBalancer", "NodePort") or (kind == "ClusterIP" and bool(spec.get("externalIPs")))


def _validate_service_port(port: Obj, require_name: bool, seen: set[str], path: Path) -> ErrorList:
    errs: ErrorList = []
    name = port.get("name") or ""
    if require_name and not name:
        errs.append(field.required(path.child("name"), ""))
    elif name:
        errs += _msgs(path.child("name"), name, names.is_dns1123_label(name))
        if name in seen:
            errs.append(field.duplicate(path.child("name"), name))
        seen.add(name)
    errs += _msgs(path.child("port"), port.get("port", 0), names.is_valid_port_num(port.get("port", 0)))
    errs += _enum(port.get("protocol"), _PROTOCOLS, path.child("protocol"))
    errs += validate_port_num_or_name(port.get("targetPort", 0), path.child("targetPort"))
    return errs


def _validate_service_ports(spec: Obj, path: Path) -> ErrorList:
    ports = spec.get("ports") or []
    kind = spec.get("type")
    errs: ErrorList = []
    if not ports and spec.get("clusterIP") != "None" and kind != "ExternalName":
        errs.append(field.required(path, ""))
    seen_names: set[str] = set()
    node_ports: set[tuple[Any, Any]] = set()
    pairs: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        idx = path.index(i)
        errs += _validate_service_port(port, len(ports) > 1, seen_names, idx)
        if kind == "LoadBalancer" and port.get("port") == _KUBELET_PORT:
            errs.append(field.invalid(idx, _KUBELET_PORT, f"may not expose port {_KUBELET_PORT} externally since it is used by kubelet"))
        if port.get("nodePort"):
            if kind == "ClusterIP":
                errs.append(field.forbidden(idx.child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
            key = (port.get("protocol"), port["nodePort"])
            if key in node_ports:
                errs.append(field.duplicate(idx.child("nodePort"), port["nodePort"]))
            node_ports.add(key)
        pair = (port.get("protocol"), port.get("port"))
        if pair in pairs:
            errs.append(field.duplicate(idx, {"port": pair[1], "protocol": pair[0]}))
        pairs.add(pair)
    return errs


def _validate_cluster_ips(spec: Obj, path: Path) -> ErrorList:
    errs: ErrorList = []
    cluster_ips = spec.get("clusterIPs") or []
    cluster_ip = spec.get("clusterIP") or ""
    if cluster_ips and cluster_ip != cluster_ips[0]:
        errs.append(field.invalid(path.child("clusterIPs"), cluster_ips, "first value must match `clusterIP`"))
    for i, ip in enumerate(cluster_ips):
        if ip == "None":
            if len(cluster_ips) > 1:
                errs.append(field.invalid(path.child("clusterIPs").index(i), ip, "'None' must be the first and only value"))
            continue
        errs += _msgs(path.child("clusterIPs").index(i), ip, names.is_valid_ip(ip))
    families = spec.get("ipFamilies") or []
    for i, family in enumerate(families):
        if family not in ("IPv4", "IPv6"):
            errs.append(field.not_supported(path.child("ipFamilies").index(i), family, ("IPv4", "IPv6")))
        elif family in families[:i]:
            errs.append(field.duplicate(path.child("ipFamilies").index(i), family))
    policy = spec.get("ipFamilyPolicy")
    if policy is not None:
        errs += _enum(policy, ("PreferDualStack", "RequireDualStack", "SingleStack"), path.child("ipFamilyPolicy"))
    return errs


def _validate_service_type(spec: Obj, path: Path) -> ErrorList:
    kind = spec.get("type")
    errs = _enum(kind, _SERVICE_TYPES, path.child("type"))
    headless = spec.get("clusterIP") == "None"
    if kind in ("LoadBalancer", "NodePort") and headless:
        errs.append(field.invalid(path.child("clusterIPs").index(0), "None", f"may not be set to 'None' for {kind} services"))
    if kind == "ExternalName":
        for key in ("clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if spec.get(key):
                errs.append(field.forbidden(path.child(key), "may not be set for ExternalName services"))
        cname = (spec.get("externalName") or "").removesuffix(".")
        if cname:
            errs += _msgs(path.child("externalName"), cname, names.is_dns1123_subdomain(cname))
        else:
            errs.append(field.required(path.child("externalName"), ""))
    return errs


def _validate_session_affinity(spec: Obj, path: Path) -> ErrorList:
    affinity = spec.get("sessionAffinity")
    errs = _enum(affinity, ("ClientIP", "None"), path.child("sessionAffinity"))
    config = spec.get("sessionAffinityConfig")
    if affinity == "ClientIP":
        timeout = ((config or {}).get("clientIP") or {}).get("timeoutSeconds")
        timeout_path = path.child("sessionAffinityConfig", "clientIP", "timeoutSeconds")
        if timeout is None:
            errs.append(field.required(timeout_path, ""))
        elif not 0 < timeout <= 86400:
            errs.append(field.invalid(timeout_path, timeout, names.inclusive_range_error(1, 86400)))
    elif affinity == "None" and config is not None:
        errs.append(field.invalid(path.child("sessionAffinityConfig"), config, "must not be set when session affinity is None"))
    return errs


def _validate_traffic_policies(spec: Obj, path: Path) -> ErrorList:
    errs: ErrorList = []
    external = spec.get("externalTrafficPolicy") or ""
    if not externally_accessible(spec):
        if external:
            errs.append(field.invalid(path.child("externalTrafficPolicy"), external, "may only be set for externally-accessible services"))
    else:
        errs += _enum(external, ("Cluster", "Local"), path.child("externalTrafficPolicy"))
    if spec.get("healthCheckNodePort") and not (spec.get("type") == "LoadBalancer" and external == "Local"):
        errs.append(field.invalid(path.child("healthCheckNodePort"), spec["healthCheckNodePort"],
                                  "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))  # fmt: skip
    internal = spec.get("internalTrafficPolicy")
    if internal is None:
        if spec.get("type") != "ExternalName":
            errs.append(field.required(path.child("internalTrafficPolicy"), ""))
    else:
        errs += _enum(internal, ("Cluster", "Local"), path.child("internalTrafficPolicy"))
    return errs


def _validate_service(svc: Obj) -> ErrorList:
    spec = svc.get("spec") or {}
    path = Path("spec")
    errs = metav.validate_object_meta(svc, True, names.name_is_dns1035_label)
    errs += _validate_service_type(spec, path)
    errs += _validate_service_ports(spec, path.child("ports"))
    errs += metav.validate_labels(spec.get("selector"), path.child("selector"))
    errs += _validate_session_affinity(spec, path)
    for i, ip in enumerate(spec.get("externalIPs") or []):
        errs += _msgs(path.child("externalIPs").index(i), ip, names.is_valid_ip(ip))
    for i, cidr in enumerate(spec.get("loadBalancerSourceRanges") or []):
        errs += _msgs(path.child("loadBalancerSourceRanges").index(i), cidr, names.is_valid_cidr(cidr))
    errs += _validate_cluster_ips(spec, path)
    errs += _validate_traffic_policies(spec, path)
    return errs


def _validate_cluster_ips_update(new: Obj, old: Obj, path: Path) -> ErrorList:
    """A Service keeps its allocated addresses unless it becomes, or stops being, ExternalName."""
    old_ips, new_ips = old.get("clusterIPs") or [], new.get("clusterIPs") or []
    if not old_ips or new.get("type") == "ExternalName" or old.get("type") == "ExternalName":
        return []
    if not new_ips:
        return [field.invalid(path.index(0), new_ips, "primary clusterIP can not be unset")]
    errs: ErrorList = []
    if new_ips[0] != old_ips[0]:
        errs.append(field.invalid(path.index(0), new_ips, "may not change once set"))
    if len(old_ips) > 1 and len(new_ips) > 1 and old_ips[1] != new_ips[1]:
        errs.append(field.invalid(path.index(1), new_ips, "may not change once set"))
    return errs


def _validate_service_update(new: Obj, old: Obj) -> ErrorList:
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    errs = metav.validate_object_meta_update(new, old)
    errs += _validate_cluster_ips_update(new_spec, old_spec, Path("spec", "clusterIPs"))
    return errs + _validate_service(new)


def _validate_service_status_update(new: Obj, old: Obj) -> ErrorList:
    errs = metav.validate_object_meta_update(new, old)
    ingress_path = Path("status", "loadBalancer", "ingress")
    for i, ingress in enumerate(((new.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []):
        if ingress.get("ip"):
            errs += _msgs(ingress_path.index(i).child("ip"), ingress["ip"], names.is_valid_ip(ingress["ip"]))
        if ingress.get("hostname"):
            errs += _msgs(ingress_path.index(i).child("hostname"), ingress["hostname"],
                          names.is_dns1123_subdomain(ingress["hostname"]))  # fmt: skip
    return errs


# --- Namespace, Node ---

_STANDARD_FINALIZERS = ("kubernetes", "kubernetes.io/pv-protection", "kubernetes.io/pvc-protection",
                        "orphan", "foregroundDeletion")  # fmt: skip


def _validate_namespace(ns: Obj) -> ErrorList:
    errs = metav.validate_object_meta(ns, False, names.name_is_dns_label)
    path = Path("spec", "finalizers")
    for name in (ns.get("spec") or {}).get("finalizers") or []:
        errs += _msgs(path, name, names.is_qualified_name(name))
        if "/" not in name and name not in _STANDARD_FINALIZERS:
            errs.append(field.invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def _validate_namespace_status_update(new: Obj, old: Obj) -> ErrorList:
    errs = metav.validate_object_meta_update(new, old)
    phase = (new.get("status") or {}).get("phase")
    deleting = bool((new.get("metadata") or {}).get("deletionTimestamp"))
    if not deleting and phase != "Active":
        errs.append(field.invalid(Path("status", "Phase"), phase, "may only be 'Active' if `deletionTimestamp` is empty"))
    elif deleting and phase != "Terminating":
        errs.append(field.invalid(Path("status", "Phase"), phase, "may only be 'Terminating' if `deletionTimestamp` is not empty"))
    return errs


def _validate_taints(taints: list[Obj], path: Path) -> ErrorList:
    errs: ErrorList = []
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(taints):
        idx = path.index(i)
        errs += metav.validate_label_name(taint.get("key", ""), idx.child("key"))
        errs += _msgs(idx.child("value"), taint.get("value", ""), names.is_valid_label_value(taint.get("value", "")))
        errs += _enum(taint.get("effect"), TAINT_EFFECTS, idx.child("effect"))
        key = (taint.get("key", ""), taint.get("effect", ""))
        if key in seen:
            errs.append(field.duplicate(idx, dict(taint)))
        seen.add(key)
    return errs


def _validate_node(node: Obj) -> ErrorList:
    spec, path = node.get("spec") or {}, Path("spec")
    errs = metav.validate_object_meta(node, False, names.name_is_dns_subdomain)
    errs += _validate_taints(spec.get("taints") or [], path.child("taints"))
    if spec.get("podCIDR"):
        errs += _msgs(path.child("podCIDR"), spec["podCIDR"], names.is_valid_cidr(spec["podCIDR"]))
    for i, cidr in enumerate(spec.get("podCIDRs") or []):
        errs += _msgs(path.child("podCIDRs").index(i), cidr, names.is_valid_cidr(cidr))
    for resource in ("capacity", "allocatable"):
        for name, value in sorted(((node.get("status") or {}).get(resource) or {}).items()):
            errs += validate_resource_quantity(name, value, Path("status", resource).key(name))[1]
    return errs


def _validate_node_update(new: Obj, old: Obj) -> ErrorList:
    errs = metav.validate_object_meta_update(new, old) + _validate_node(new)
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    if old_spec.get("podCIDRs") and new_spec.get("podCIDRs") != old_spec.get("podCIDRs"):
        errs.append(field.forbidden(Path("spec", "podCIDRs"), 'node updates may not change podCIDR except from "" to valid'))
    if old_spec.get("providerID") and new_spec.get("providerID") != old_spec.get("providerID"):
        errs.append(field.forbidden(Path("spec", "providerID"), 'node updates may not change providerID except from "" to valid'))
    return errs


# --- ConfigMap, Secret, ServiceAccount ---


def _validate_data_keys(data: Obj, path: Path) -> ErrorList:
    errs: ErrorList = []
    for key in sorted(data):
        errs += _msgs(path.key(key), key, names.is_config_map_key(key))
    return errs


def _validate_config_map(cm: Obj) -> ErrorList:
    errs = metav.validate_object_meta(cm, True, names.name_is_dns_subdomain)
    data, binary = cm.get("data") or {}, cm.get("binaryData") or {}
    errs += _validate_data_keys(data, Path("data"))
    for key in sorted(binary):
        errs += _msgs(Path("binaryData").key(key), key, names.is_config_map_key(key))
        if key in data:
            errs.append(field.invalid(Path("data").key(key), key, "duplicate of key present in binaryData"))
    size = sum(len(str(v).encode()) for v in data.values()) + sum(_decoded_len(v) for v in binary.values())
    if size > _MAX_DATA_SIZE:
        errs.append(field.too_long(Path(""), _MAX_DATA_SIZE))
    return errs


def _validate_immutable_data(new: Obj, old: Obj, keys: tuple[str, ...]) -> ErrorList:
    """`immutable: true` freezes the payload and the flag itself."""
    if not old.get("immutable"):
        return []
    errs = [
        field.forbidden(Path(key), "field is immutable when `immutable` is set")
        for key in keys
        if (new.get(key) or {}) != (old.get(key) or {})
    ]
    if not new.get("immutable"):
        errs.append(field.forbidden(Path("immutable"), "field is immutable when `immutable` is set"))
    return errs


def _validate_config_map_update(new: Obj, old: Obj) -> ErrorList:
    return (
        metav.validate_object_meta_update(new, old)
        + _validate_immutable_data(new, old, ("data", "binaryData"))
        + _validate_config_map(new)
    )


def _decoded_len(value: Any) -> int:
    """Secret data travels base64-encoded; the limit applies to the decoded bytes."""
    text = str(value).rstrip("=")
    return len(text) * 3 // 4


# The keys each secret type must have; present is enough (an empty placeholder TLS secret is
# valid), except for ssh-auth's key, which must hold something. Upstream's order.
_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def _validate_secret(secret: Obj) -> ErrorList:
    errs = metav.validate_object_meta(secret, True, names.name_is_dns_subdomain)
    data, data_path = secret.get("data") or {}, Path("data")
    errs += _validate_data_keys(data, data_path)
    if sum(_decoded_len(v) for v in data.values()) > _MAX_DATA_SIZE:
        errs.append(field.too_long(data_path, _MAX_DATA_SIZE))
    kind = secret.get("type") or "Opaque"
    if kind == "kubernetes.io/service-account-token":
        annotations = (secret.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            errs.append(field.required(Path("metadata", "annotations").key("kubernetes.io/service-account.name"), ""))
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.append(field.required(data_path.key("username"), ""))
            errs.append(field.required(data_path.key("password"), ""))
    elif kind == "kubernetes.io/ssh-auth" and not data.get("ssh-privatekey"):
        errs.append(field.required(data_path.key("ssh-privatekey"), ""))
    errs += [field.required(data_path.key(key), "") for key in _SECRET_REQUIRED_KEYS.get(kind, ()) if key not in data]
    return errs


def _validate_secret_update(new: Obj, old: Obj) -> ErrorList:
    errs = metav.validate_object_meta_update(new, old)
    errs += metav.validate_immutable_field(new.get("type"), old.get("type"), Path("type"))
    return errs + _validate_immutable_data(new, old, ("data",)) + _validate_secret(new)


def _validate_service_account(sa: Obj) -> ErrorList:
    errs = metav.validate_object_meta(sa, True, names.name_is_dns_subdomain)
    for i, ref in enumerate(sa.get("secrets") or []):
        if ref.get("name"):
            errs += _msgs(Path("secrets").index(i).child("name"), ref["name"], names.name_is_dns_subdomain(ref["name"], False))
    return errs


# --- Endpoints, Event, Binding ---


def _validate_endpoint_address(address: Obj, path: Path) -> ErrorList:
    ip = address.get("ip", "")
    errs = _msgs(path.child("ip"), ip, names.is_valid_ip(ip))
    parsed = names.parse_ip(ip)
    if parsed is not None:
        if parsed.is_unspecified:
            errs.append(field.invalid(path.child("ip"), ip, f"may not be unspecified ({ip})"))
        elif parsed.is_loopback:
            errs.append(field.invalid(path.child("ip"), ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
        elif parsed.is_link_local:
            errs.append(field.invalid(path.child("ip"), ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
        elif parsed.is_multicast:
            errs.append(field.invalid(path.child("ip"), ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    if address.get("hostname"):
        errs += _msgs(path.child("hostname"), address["hostname"], names.is_dns1123_label(address["hostname"]))
    if address.get("nodeName"):
        errs += _msgs(path.child("nodeName"), address["nodeName"], names.name_is_dns_subdomain(address["nodeName"], False))
    return errs


def _validate_endpoints(ep: Obj) -> ErrorList:
    errs = metav.validate_object_meta(ep, True, names.name_is_dns_subdomain)
    for i, subset in enumerate(ep.get("subsets") or []):
        sub = Path("subsets").index(i)
        for key in ("addresses", "notReadyAddresses"):
            for j, address in enumerate(subset.get(key) or []):
                errs += _validate_endpoint_address(address, sub.child(key).index(j))
        ports = subset.get("ports") or []
        for j, port in enumerate(ports):
            idx = sub.child("ports").index(j)
            if len(ports) > 1 and not port.get("name"):
                errs.append(field.required(idx.child("name"), ""))
            elif port.get("name"):
                errs += _msgs(idx.child("name"), port["name"], names.is_dns1123_label(port["name"]))
            errs += _msgs(idx.child("port"), port.get("port", 0), names.is_valid_port_num(port.get("port", 0)))
            errs += _enum(port.get("protocol"), _PROTOCOLS, idx.child("protocol"))
    return errs


def _validate_event(event: Obj) -> ErrorList:
    """core/v1 Events: the involved object lives in the event's namespace (unless cluster-scoped)."""
    errs = metav.validate_object_meta(event, True, names.name_is_dns_subdomain)
    namespace = (event.get("metadata") or {}).get("namespace", "")
    involved = event.get("involvedObject") or {}
    if involved.get("namespace") and involved["namespace"] != namespace:
        errs.append(field.invalid(Path("involvedObject", "namespace"), involved["namespace"], "does not match event.namespace"))
    if event.get("type") and event["type"] not in ("Normal", "Warning"):
        errs.append(field.not_supported(Path("type"), event["type"], ("Normal", "Warning")))
    return errs


def _validate_binding(binding: Obj) -> ErrorList:
    target = binding.get("target") or {}
    errs: ErrorList = []
    if target.get("kind") and target["kind"] != "Node":
        errs.append(field.not_supported(Path("target", "kind"), target["kind"], ("Node", "<empty>")))
    if not target.get("name"):
        errs.append(field.required(Path("target", "name"), ""))
    return errs


# --- ReplicationController, PodTemplate ---


def _validate_rc_spec(spec: Obj, path: Path) -> ErrorList:
    errs = _nonnegative(spec, "replicas", path) + _nonnegative(spec, "minReadySeconds", path)
    selector = spec.get("selector") or {}
    if not selector:
        errs.append(field.required(path.child("selector"), ""))
    errs += metav.validate_labels(selector, path.child("selector"))
    template = spec.get("template")
    if template is None:
        return errs + [field.required(path.child("template"), "")]
    labels = (template.get("metadata") or {}).get("labels") or {}
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        errs.append(
            field.invalid(path.child("template", "metadata", "labels"), labels, "`selector` does not match template `labels`")
        )
    errs += validate_pod_template_spec(template, path.child("template"))
    pod_spec = template.get("spec") or {}
    if pod_spec.get("restartPolicy") not in (None, "Always"):
        errs.append(field.not_supported(path.child("template", "spec", "restartPolicy"), pod_spec["restartPolicy"], ("Always",)))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        errs.append(field.forbidden(path.child("template", "spec", "activeDeadlineSeconds"),
                                    "activeDeadlineSeconds in ReplicationController is not Supported"))  # fmt: skip
    return errs


def _validate_rc(rc: Obj) -> ErrorList:
    return metav.validate_object_meta(rc, True, names.name_is_dns_subdomain) + _validate_rc_spec(rc.get("spec") or {}, Path("spec"))


def _validate_rc_status_update(new: Obj, old: Obj) -> ErrorList:
    errs = metav.validate_object_meta_update(new, old)
    status = new.get("status") or {}
    for key in ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"):
        errs += _nonnegative(status, key, Path("status"))
    return errs


def _validate_pod_template(template: Obj) -> ErrorList:
    return metav.validate_object_meta(template, True, names.name_is_dns_subdomain) + validate_pod_template_spec(
        template.get("template"), Path("template")
    )


# --- PersistentVolume, PersistentVolumeClaim ---

_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
_PV_SOURCES = tuple(s for s in _VOLUME_SOURCES if s not in ("emptyDir", "secret", "configMap", "downwardAPI",
                    "projected", "persistentVolumeClaim", "gitRepo", "ephemeral", "image")) + ("local",)  # fmt: skip


def _validate_access_modes(modes: list[str], path: Path, required_detail: str) -> ErrorList:
    if not modes:
        return [field.required(path, required_detail)]
    return [field.not_supported(path, mode, _ACCESS_MODES) for mode in modes if mode not in _ACCESS_MODES]


def _validate_persistent_volume(pv: Obj) -> ErrorList:
    spec, path = pv.get("spec") or {}, Path("spec")
    errs = metav.validate_object_meta(pv, False, names.validate_path_segment_name)
    errs += _validate_access_modes(spec.get("accessModes") or [], path.child("accessModes"), "")
    capacity = spec.get("capacity") or {}
    if not capacity:
        errs.append(field.required(path.child("capacity"), ""))
    elif set(capacity) != {"storage"}:
        errs.append(field.not_supported(path.child("capacity"), capacity, ("storage",)))
    else:
        errs += validate_resource_quantity("storage", capacity["storage"], path.child("capacity").key("storage"))[1]
    errs += _enum(spec.get("persistentVolumeReclaimPolicy"), ("Delete", "Recycle", "Retain"),
                  path.child("persistentVolumeReclaimPolicy"), required=False)  # fmt: skip
    errs += _enum(spec.get("volumeMode"), ("Block", "Filesystem"), path.child("volumeMode"), required=False)
    if spec.get("storageClassName"):
        errs += _msgs(path.child("storageClassName"), spec["storageClassName"],
                      names.name_is_dns_subdomain(spec["storageClassName"], False))  # fmt: skip
    sources = _one_of(spec, _PV_SOURCES)
    if not sources:
        errs.append(field.required(path, "must specify a volume type"))
    errs += [field.forbidden(path.child(extra), "may not specify more than 1 volume type") for extra in sources[1:]]
    for kind in ("hostPath", "local"):
        if kind in sources[:1] and not spec[kind].get("path"):
            errs.append(field.required(path.child(kind, "path"), ""))
    return errs


def _validate_persistent_volume_update(new: Obj, old: Obj) -> ErrorList:
    errs = metav.validate_object_meta_update(new, old) + _validate_persistent_volume(new)
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    if any(new_spec.get(k) != old_spec.get(k) for k in _PV_SOURCES):
        errs.append(field.forbidden(Path("spec", "persistentvolumesource"), "spec.persistentvolumesource is forbidden once set"))
    errs += metav.validate_immutable_field(new_spec.get("volumeMode"), old_spec.get("volumeMode"), Path("spec", "volumeMode"))
    return errs


def _validate_pvc_spec(spec: Obj, path: Path) -> ErrorList:
    errs = _validate_access_modes(spec.get("accessModes") or [], path.child("accessModes"), "at least 1 access mode is required")
    errs += metav.validate_label_selector(spec.get("selector"), path.child("selector"))
    storage_path = path.child("resources").key("storage")
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if storage is None:
        errs.append(field.required(storage_path, ""))
    else:
        quantity, q_errs = validate_resource_quantity("storage", storage, storage_path)
        errs += q_errs
        if quantity is not None and quantity.value <= 0:
            errs.append(field.invalid(storage_path, str(quantity), "must be greater than zero"))
    errs += _enum(spec.get("volumeMode"), ("Block", "Filesystem"), path.child("volumeMode"), required=False)
    if spec.get("storageClassName"):
        errs += _msgs(path.child("storageClassName"), spec["storageClassName"],
                      names.name_is_dns_subdomain(spec["storageClassName"], False))  # fmt: skip
    return errs


def _validate_pvc(pvc: Obj) -> ErrorList:
    return metav.validate_object_meta(pvc, True, names.name_is_dns_subdomain) + _validate_pvc_spec(pvc.get("spec") or {}, Path("spec"))


def _validate_pvc_update(new: Obj, old: Obj) -> ErrorList:
    """Only the storage request of a bound claim may change (to expand it)."""
    errs = metav.validate_object_meta_update(new, old) + _validate_pvc(new)
    new_spec, old_spec = dict(new.get("spec") or {}), dict(old.get("spec") or {})
    if old_spec.get("volumeName"):
        new_spec["resources"] = old_spec.get("resources")
    if not old_spec.get("volumeName"):  # the binder sets volumeName once (ValidatePersistentVolumeClaimUpdate)
        new_spec.pop("volumeName", None)
        old_spec.pop("volumeName", None)
    if new_spec != old_spec:
        diff = "\n".join(spec_diff(old_spec, new_spec))
        errs.append(field.forbidden(Path("spec"), f"spec is immutable after creation except resources.requests for bound claims\n{diff}"))
    return errs


# --- ResourceQuota, LimitRange ---


def _validate_resource_list(resources: Obj, path: Path) -> tuple[dict[str, Quantity], ErrorList]:
    parsed: dict[str, Quantity] = {}
    errs: ErrorList = []
    for name, value in sorted(resources.items()):
        errs += _msgs(path.key(name), name, names.is_qualified_name(name))
        quantity, q_errs = validate_resource_quantity(name, value, path.key(name))
        errs += q_errs
        if quantity is not None:
            parsed[name] = quantity
    return parsed, errs


_QUOTA_SCOPES = ("BestEffort", "CrossNamespacePodAffinity", "NotBestEffort", "NotTerminating", "PriorityClass", "Terminating")


def _validate_resource_quota(quota: Obj) -> ErrorList:
    spec, path = quota.get("spec") or {}, Path("spec")
    errs = metav.validate_object_meta(quota, True, names.name_is_dns_subdomain)
    errs += _validate_resource_list(spec.get("hard") or {}, path.child("hard"))[1]
    for i, scope in enumerate(spec.get("scopes") or []):
        if scope not in _QUOTA_SCOPES:
            errs.append(field.invalid(path.child("scopes").index(i), scope, "unsupported scope"))
    return errs


def _validate_resource_quota_status_update(new: Obj, old: Obj) -> ErrorList:
    status = new.get("status") or {}
    errs = metav.validate_object_meta_update(new, old)
    errs += _validate_resource_list(status.get("hard") or {}, Path("status", "hard"))[1]
    return errs + _validate_resource_list(status.get("used") or {}, Path("status", "used"))[1]


def _validate_limit_range_item(item: Obj, path: Path) -> ErrorList:
    errs = _enum(item.get("type"), ("Container", "PersistentVolumeClaim", "Pod"), path.child("type"))
    lists = {}
    for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
        lists[key], list_errs = _validate_resource_list(item.get(key) or {}, path.child(key))
        errs += list_errs
    if item.get("type") == "Pod":
        for key in ("default", "defaultRequest"):
            if item.get(key):
                errs.append(field.forbidden(path.child(key), "may not be specified when `type` is 'Pod'"))
    for name, low in lists["min"].items():
        high = lists["max"].get(name)
        if high is not None and high < low:
            errs.append(field.invalid(path.child("min").key(name), str(low), f"min value {low} is greater than max value {high}"))
    for key in ("default", "defaultRequest"):
        for name, value in lists[key].items():
            low, high = lists["min"].get(name), lists["max"].get(name)
            if low is not None and value < low:
                errs.append(field.invalid(path.child(key).key(name), str(value), f"min value {low} is greater than {key} value {value}"))
            if high is not None and high < value:
                errs.append(field.invalid(path.child(key).key(name), str(value), f"{key} value {value} is greater than max value {high}"))
    return errs


def _validate_limit_range(lr: Obj) -> ErrorList:
    errs = metav.validate_object_meta(lr, True, names.name_is_dns_subdomain)
    for i, item in enumerate((lr.get("spec") or {}).get("limits") or []):
        errs += _validate_limit_range_item(item, Path("spec", "limits").index(i))
    return errs


# --- registry ---


def _with_meta_update(create: Callable[[Obj], ErrorList]) -> Callable[[Obj, Obj], ErrorList]:
    """The update check of kinds whose every field may change: meta rules plus the create checks."""

    def update(new: Obj, old: Obj) -> ErrorList:
        return metav.validate_object_meta_update(new, old) + create(new)

    return update


def _meta_update_only(new: Obj, old: Obj) -> ErrorList:
    return metav.validate_object_meta_update(new, old)


CREATE: dict[str, Callable[[Obj], ErrorList]] = {
    "Pod": _validate_pod_create,
    "Service": _validate_service,
    "Namespace": _validate_namespace,
    "Node": _validate_node,
    "ConfigMap": _validate_config_map,
    "Secret": _validate_secret,
    "ServiceAccount": _validate_service_account,
    "Endpoints": _validate_endpoints,
    "Event": _validate_event,
    "ReplicationController": _validate_rc,
    "PersistentVolume": _validate_persistent_volume,
    "PersistentVolumeClaim": _validate_pvc,
    "ResourceQuota": _validate_resource_quota,
    "LimitRange": _validate_limit_range,
    "PodTemplate": _validate_pod_template,
    "Binding": _validate_binding,
}

UPDATE: dict[str, Callable[[Obj, Obj], ErrorList]] = {
    "Pod": _validate_pod_update,
    "Service": _validate_service_update,
    "Namespace": _with_meta_update(_validate_namespace),
    "Node": _validate_node_update,
    "ConfigMap": _validate_config_map_update,
    "Secret": _validate_secret_update,
    "ServiceAccount": _with_meta_update(_validate_service_account),
    "Endpoints": _with_meta_update(_validate_endpoints),
    "Event": _with_meta_update(_validate_event),
    "ReplicationController": _with_meta_update(_validate_rc),
    "PersistentVolume": _validate_persistent_volume_update,
    "PersistentVolumeClaim": _validate_pvc_update,
    "ResourceQuota": _with_meta_update(_validate_resource_quota),
    "LimitRange": _with_meta_update(_validate_limit_range),
    "PodTemplate": _with_meta_update(_validate_pod_template),
}

STATUS_UPDATE: dict[str, Callable[[Obj, Obj], ErrorList]] = {
    "Pod": _validate_pod_status_update,
    "Service": _validate_service_status_update,
    "Namespace": _validate_namespace_status_update,
    "Node": _validate_node_update,
    "ReplicationController": _validate_rc_status_update,
    "PersistentVolume": _meta_update_only,
    "PersistentVolumeClaim": _meta_update_only,
    "ResourceQuota": _validate_resource_quota_status_update,
}
