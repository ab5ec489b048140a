"""core/v1 validation reports the errors a 1.32 API server reports, worded the same way."""

import copy

from kinn.api.defaults.core import DEFAULTERS
from kinn.api.validation.core import CREATE, STATUS_UPDATE, UPDATE


def defaulted(kind: str, obj: dict) -> dict:
    if kind in DEFAULTERS:
        DEFAULTERS[kind](obj)
    return obj


def errors(kind: str, obj: dict) -> list[str]:
    return [str(e) for e in CREATE[kind](defaulted(kind, obj))]


def pod(**container) -> dict:
    c = {"name": "web", "image": "nginx:1.27", **container}
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": {"containers": [c]}}


def test_valid_pod() -> None:
    assert errors("Pod", pod(ports=[{"containerPort": 80, "name": "http"}])) == []


def test_missing_image_and_containers() -> None:
    p = pod()
    del p["spec"]["containers"][0]["image"]
    assert errors("Pod", p) == ["spec.containers[0].image: Required value"]
    empty = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"containers": []}}
    assert errors("Pod", empty) == ["spec.containers: Required value"]


def test_container_name_and_duplicates() -> None:
    p = pod()
    p["spec"]["containers"].append({"name": "web", "image": "x"})
    p["spec"]["initContainers"] = [{"name": "Init", "image": "x"}]
    errs = errors("Pod", p)
    assert errs[0] == 'spec.containers[1].name: Duplicate value: "web"'
    assert errs[1].startswith('spec.initContainers[0].name: Invalid value: "Init": a lowercase RFC 1123 label')


def test_ports() -> None:
    p = pod(ports=[{"containerPort": 70000, "protocol": "ICMP"}, {"containerPort": 0, "name": "a--b"}])
    assert errors("Pod", p) == [
        "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        'spec.containers[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        'spec.containers[0].ports[1].name: Invalid value: "a--b": must not contain consecutive hyphens',
        "spec.containers[0].ports[1].containerPort: Required value",
    ]


def test_env() -> None:
    p = pod(env=[{"name": "A=B"}, {"name": "X", "value": "1", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}, {"name": "Y", "valueFrom": {}}])
    assert errors("Pod", p) == [
        'spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than \'=\'',
        'spec.containers[0].env[1].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
        'spec.containers[0].env[2].valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`',
    ]


def test_volume_mount_must_name_a_volume() -> None:
    p = pod(volumeMounts=[{"name": "data", "mountPath": "/data"}])
    assert errors("Pod", p) == ['spec.containers[0].volumeMounts[0].name: Not found: "data"']


def test_volumes() -> None:
    p = pod()
    p["spec"]["volumes"] = [{"name": "a", "emptyDir": {}}, {"name": "a", "configMap": {}}, {"name": "b", "emptyDir": {}, "hostPath": {"path": "/x"}}]
    assert errors("Pod", p) == [
        'spec.volumes[1].name: Duplicate value: "a"',
        "spec.volumes[1].configMap.name: Required value",
        "spec.volumes[2].emptyDir: Forbidden: may not specify more than 1 volume type"  # hostPath comes first upstream,
    ]


def test_requests_must_not_exceed_limits() -> None:
    p = pod(resources={"limits": {"cpu": "500m"}, "requests": {"cpu": "1", "memory": "-1"}})
    assert errors("Pod", p) == [
        'spec.containers[0].resources.requests: Invalid value: "1": must be less than or equal to cpu limit of 500m',
        'spec.containers[0].resources.requests[memory]: Invalid value: "-1": must be greater than or equal to 0',
    ]


def test_bad_quantity() -> None:
    # The Pod copies limits into unset requests, so both report the bad value.
    assert errors("Pod", pod(resources={"limits": {"cpu": "lots"}}))[0::2] == [
        "spec.containers[0].resources.limits[cpu]: Invalid value: \"lots\": quantities must match the regular "
        "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
    ]


def test_policies_and_tolerations() -> None:
    p = pod()
    p["spec"].update(restartPolicy="Sometimes", dnsPolicy="None", tolerations=[{"operator": "Equal", "value": "x"}])
    assert errors("Pod", p) == [
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None",
        'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"',
    ]


def test_topology_spread_constraints() -> None:
    p = pod()
    p["spec"]["topologySpreadConstraints"] = [
        {"maxSkew": 0},
        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway", "minDomains": 0,
         "nodeTaintsPolicy": "Maybe", "labelSelector": {"matchLabels": {"app": "-x"}}},
        {"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"},
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule", "minDomains": 2},
    ]
    c = "spec.topologySpreadConstraints"
    assert errors("Pod", p) == [
        f"{c}[0].maxSkew: Invalid value: 0: must be greater than zero",
        f"{c}[0].topologyKey: Required value: can not be empty",
        f'{c}[0].whenUnsatisfiable: Unsupported value: "": supported values: "DoNotSchedule", "ScheduleAnyway"',
        f'{c}[1].{{topologyKey, whenUnsatisfiable}}: Duplicate value: "{{zone, ScheduleAnyway}}"',
        f"{c}[1].minDomains: Invalid value: 0: must be greater than zero",
        f"{c}[1].minDomains: Invalid value: 0: can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway",
        f'{c}[1].nodeTaintsPolicy: Unsupported value: "Maybe": supported values: "Honor", "Ignore"',
        f"{c}[1].labelSelector.matchLabels: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ]


def test_probe_handler_required_and_liveness_success_threshold() -> None:
    p = pod(livenessProbe={"successThreshold": 2}, readinessProbe={"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}})
    assert errors("Pod", p) == [
        "spec.containers[0].livenessProbe: Required value: must specify a handler type",
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
    ]


def test_pod_update_only_mutable_fields() -> None:
    old = defaulted("Pod", pod())
    old["metadata"]["resourceVersion"] = "1"
    image_change = copy.deepcopy(old)
    image_change["spec"]["containers"][0]["image"] = "nginx:1.28"
    assert UPDATE["Pod"](image_change, old) == []
    port_change = copy.deepcopy(old)
    port_change["spec"]["restartPolicy"] = "Never"
    (err,) = UPDATE["Pod"](port_change, old)
    assert str(err).startswith(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
        "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"
    )
    assert "restartPolicy" in str(err)


def test_pod_status_update_checks_ips() -> None:
    old = defaulted("Pod", pod())
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["status"]["podIPs"] = [{"ip": "10.244.1.5"}, {"ip": "10.244.1.6"}]
    assert [str(e) for e in STATUS_UPDATE["Pod"](new, old)] == [
        'status.podIPs: Invalid value: [{"ip":"10.244.1.5"},{"ip":"10.244.1.6"}]: may specify no more than one IP for each IP family'
    ]


def service(**spec) -> dict:
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}, **spec}}


def test_service_ports() -> None:
    assert errors("Service", service()) == ["spec.ports: Required value"]
    svc = service(ports=[{"port": 80}, {"port": 443, "name": "https", "targetPort": "HTTPS"}])
    assert errors("Service", svc) == [
        "spec.ports[0].name: Required value",
        'spec.ports[1].targetPort: Invalid value: "HTTPS": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
        'spec.ports[1].targetPort: Invalid value: "HTTPS": must contain at least one letter (a-z)',
    ]


def test_service_name_is_dns1035() -> None:
    svc = service(ports=[{"port": 80}])
    svc["metadata"]["name"] = "1web"
    assert errors("Service", svc)[0].startswith('metadata.name: Invalid value: "1web": a DNS-1035 label must consist')


def test_service_type_and_node_port() -> None:
    svc = service(type="Balanced", ports=[{"port": 80}])
    assert errors("Service", svc)[0] == (
        'spec.type: Unsupported value: "Balanced": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'
    )
    svc = service(ports=[{"port": 80, "nodePort": 30080}])
    assert errors("Service", svc) == ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
    svc = service(ports=[{"port": 80}], externalTrafficPolicy="Local")
    assert errors("Service", svc) == [
        'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services'
    ]


def test_service_cluster_ip_immutable() -> None:
    old = defaulted("Service", service(ports=[{"port": 80}], clusterIP="10.96.0.5", clusterIPs=["10.96.0.5"]))
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["spec"].update(clusterIP="None", clusterIPs=["None"])
    assert [str(e) for e in UPDATE["Service"](new, old)] == [
        'spec.clusterIPs[0]: Invalid value: ["None"]: may not change once set'
    ]


def test_namespace_and_config_map_keys() -> None:
    assert errors("Namespace", {"metadata": {"name": "a.b"}}) == ['metadata.name: Invalid value: "a.b": must not contain dots']
    cm = {"metadata": {"name": "c", "namespace": "default"}, "data": {"ok.key": "1", "bad key": "2"}}
    assert errors("ConfigMap", cm) == [
        "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, "
        "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
    ]


def test_immutable_config_map() -> None:
    old = {"metadata": {"name": "c", "namespace": "d", "resourceVersion": "1"}, "data": {"a": "1"}, "immutable": True}
    new = copy.deepcopy(old)
    new["data"]["a"] = "2"
    assert [str(e) for e in UPDATE["ConfigMap"](new, old)] == [
        "data: Forbidden: field is immutable when `immutable` is set"
    ]


def test_secret_types_require_keys_present_not_filled() -> None:
    """As upstream: a typed secret needs its keys, which may be empty (a placeholder TLS secret),
    except ssh-auth's private key."""
    def secret(kind: str, data: dict[str, str]) -> dict:
        return {"metadata": {"name": "s", "namespace": "d"}, "type": kind, "data": data}

    assert errors("Secret", secret("kubernetes.io/tls", {"tls.crt": "eA=="})) == ["data[tls.key]: Required value"]
    assert errors("Secret", secret("kubernetes.io/tls", {})) == ["data[tls.crt]: Required value",
                                                                  "data[tls.key]: Required value"]
    assert errors("Secret", secret("kubernetes.io/tls", {"tls.crt": "", "tls.key": ""})) == []
    assert errors("Secret", secret("kubernetes.io/basic-auth", {"username": ""})) == []
    assert errors("Secret", secret("kubernetes.io/basic-auth", {})) == ["data[username]: Required value",
                                                                         "data[password]: Required value"]
    assert errors("Secret", secret("kubernetes.io/ssh-auth", {"ssh-privatekey": ""})) == \
        ["data[ssh-privatekey]: Required value"]


def test_replication_controller_selector_must_match() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    rc = {"metadata": {"name": "r", "namespace": "d"}, "spec": {"selector": {"app": "db"}, "template": template}}
    assert errors("ReplicationController", rc) == [
        'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`'
    ]
    rc["spec"]["selector"] = {}
    assert errors("ReplicationController", rc) == []  # selector defaulted from the template


def test_pvc_requires_storage_and_access_modes() -> None:
    pvc = {"metadata": {"name": "p", "namespace": "d"}, "spec": {}}
    assert errors("PersistentVolumeClaim", pvc) == [
        "spec.accessModes: Required value: at least 1 access mode is required",
        "spec.resources[storage]: Required value",
    ]


def test_pv_requires_source() -> None:
    pv = {"metadata": {"name": "v"}, "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}}
    assert errors("PersistentVolume", pv) == ["spec: Required value: must specify a volume type"]


def test_binding() -> None:
    assert [str(e) for e in CREATE["Binding"]({"target": {"kind": "Pod"}})] == [
        'target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"',
        "target.name: Required value",
    ]
