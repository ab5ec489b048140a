"""Validation of the smaller groups: rbac, networking, policy, discovery, coordination,
scheduling, storage, apiregistration, events.k8s.io."""

from kinn.api.conversion.events import from_events_v1
from kinn.api.validation import (
    apiregistration,
    coordination,
    discovery,
    events,
    networking,
    policy,
    rbac,
    scheduling,
    storage,
)


def _messages(errs):
    return [str(e) for e in errs]


def _ns(name="x", **fields):
    return {"metadata": {"name": name, "namespace": "default", "resourceVersion": "1"}, **fields}


def _cluster(name="x", **fields):
    return {"metadata": {"name": name, "resourceVersion": "1"}, **fields}


def test_rbac_rules_need_verbs_and_resources():
    role = _ns(rules=[{"apiGroups": [""], "resources": ["pods"]}, {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}])
    assert _messages(rbac.CREATE["Role"](role)) == [
        "rules[0].verbs: Required value: verbs must contain at least one value",
        'rules[1].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs',
    ]
    assert rbac.CREATE["ClusterRole"](_cluster(rules=[{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}])) == []


def test_role_binding_role_ref_is_immutable():
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    old = _ns(roleRef=ref, subjects=[{"kind": "ServiceAccount", "name": "default", "namespace": "default"}])
    new = {**old, "roleRef": {**ref, "name": "edit"}}
    assert _messages(rbac.UPDATE["RoleBinding"](new, old)) == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: '
        "cannot change roleRef"
    ]


def test_cluster_role_binding_needs_cluster_role_and_sa_namespace():
    crb = _cluster(roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                   subjects=[{"kind": "ServiceAccount", "name": "sa"}, {"kind": "Robot", "name": "r2"}])
    assert _messages(rbac.CREATE["ClusterRoleBinding"](crb)) == [
        'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
        "subjects[0].namespace: Required value",
        'subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
    ]


def test_ingress_path_type_required_and_backend():
    ing = _ns(spec={"rules": [{"host": "a.example.com", "http": {"paths": [
        {"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
        {"path": "rel", "pathType": "Prefix", "backend": {"service": {"name": "web"}}},
    ]}}]})
    assert _messages(networking.CREATE["Ingress"](ing)) == [
        "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
        'spec.rules[0].http.paths[1].path: Invalid value: "rel": must be an absolute path',
        "spec.rules[0].http.paths[1].backend: Required value: port name or number is required",
    ]


def test_ingress_host_may_not_be_ip():
    ing = _ns(spec={"rules": [{"host": "10.0.0.1"}]})
    assert _messages(networking.CREATE["Ingress"](ing))[0] == (
        'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address'
    )


def test_network_policy_ports_and_peers():
    np = _ns(spec={"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{
        "ports": [{"protocol": "ICMP", "port": 80}, {"protocol": "TCP", "port": 80, "endPort": 70}],
        "from": [{}, {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.1.0.0/24"]}}],
    }]})
    assert _messages(networking.CREATE["NetworkPolicy"](np)) == [
        'spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
        "spec.ingress[0].ports[1].endPort: Invalid value: 80: must be greater than or equal to `port`",
        "spec.ingress[0].from[0]: Required value: must specify a peer",
        'spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`',
    ]


def test_pdb_min_available_xor_max_unavailable():
    pdb = _ns(spec={"minAvailable": 1, "maxUnavailable": "10%", "selector": {"matchLabels": {"app": "x"}}})
    assert _messages(policy.CREATE["PodDisruptionBudget"](pdb)) == [
        "spec: Invalid value: policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)(0xc000000000), "
        "Selector:(*v1.LabelSelector)(0xc000000000), MaxUnavailable:(*intstr.IntOrString)(0xc000000000), "
        "UnhealthyPodEvictionPolicy:(*policy.UnhealthyPodEvictionPolicyType)(nil)}: "
        "minAvailable and maxUnavailable cannot be both set"
    ]


def test_endpoint_slice():
    eps = _ns(addressType="IPv4", endpoints=[{"addresses": []}, {"addresses": ["127.0.0.1", "fe80::1"]}],
              ports=[{"name": "http", "protocol": "TCP", "port": 80}, {"name": "http", "protocol": "ICMP"}])
    assert _messages(discovery.CREATE["EndpointSlice"](eps)) == [
        "endpoints[0].addresses: Required value: must contain at least 1 address",
        'endpoints[1].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        'endpoints[1].addresses[1]: Invalid value: "fe80::1": must be a valid IPv4 address',
        'ports[1].name: Duplicate value: "http"',
        'ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
    ]
    assert _messages(discovery.CREATE["EndpointSlice"](_ns(addressType="IP"))) == [
        'addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"'
    ]


def test_lease():
    lease = _ns(spec={"leaseDurationSeconds": 0, "leaseTransitions": -1})
    assert _messages(coordination.CREATE["Lease"](lease)) == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
        "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
    ]


def test_priority_class():
    assert _messages(scheduling.CREATE["PriorityClass"](_cluster("high", value=2_000_000_000))) == [
        "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
    ]
    assert _messages(scheduling.CREATE["PriorityClass"](_cluster("system-foo", value=1))) == [
        "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
        "error: system-foo is not a known system priority class"
    ]
    old, new = _cluster("high", value=1), _cluster("high", value=2)
    assert _messages(scheduling.UPDATE["PriorityClass"](new, old)) == ["value: Forbidden: may not be changed in an update."]


def test_storage_class():
    sc = _cluster(provisioner="", reclaimPolicy="Recycle", volumeBindingMode="Immediate")
    assert _messages(storage.CREATE["StorageClass"](sc)) == [
        "provisioner: Required value",
        'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"',
    ]
    old = _cluster(provisioner="a.io/b", reclaimPolicy="Delete", volumeBindingMode="Immediate")
    new = {**old, "parameters": {"type": "ssd"}}
    assert _messages(storage.UPDATE["StorageClass"](new, old)) == ["parameters: Forbidden: updates to parameters are forbidden."]


def test_api_service_name_must_be_version_group():
    svc = _cluster("v1.wrong", spec={"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                                     "versionPriority": 100, "service": {"namespace": "kube-system", "name": "m", "port": 443}})
    assert _messages(apiregistration.CREATE["APIService"](svc)) == [
        'metadata.name: Invalid value: "v1.wrong": must be `spec.version+"."+spec.group`: "v1beta1.metrics.k8s.io"'
    ]


def test_events_v1_strict_create():
    ev = _ns("e", eventTime="2024-01-01T00:00:00.000000Z", reportingController="kubelet", reportingInstance="n1",
             action="Pull", reason="Pulled", regarding={"kind": "Pod", "namespace": "default", "name": "p"},
             type="Normal", note="ok")
    # The registry validates the stored core/v1 form, converted once from the request's.
    assert events.CREATE["Event"](from_events_v1(ev)) == []
    bad = {**ev, "type": "Info", "deprecatedCount": 3}
    del bad["action"]
    assert _messages(events.CREATE["Event"](from_events_v1(bad))) == [
        "action: Required value",
        'type: Invalid value: "": has invalid value: Info',
        'count: Invalid value: "": needs to be unset',
    ]
