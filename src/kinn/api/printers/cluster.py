"""Tables for networking, discovery, policy, RBAC, scheduling, storage, coordination and
apiregistration kinds, as upstream's printers.go (and kube-aggregator for APIService) print them."""

from __future__ import annotations

from typing import Any, Mapping

from kinn.api.printers.columns import AGE, NAME, Column, Printer, printer
from kinn.api.printers.format import NONE, Clock, list_with_more, name_of
from kinn.api.selectors import format_label_selector

Obj = Mapping[str, Any]

NETWORKING = "io.k8s.api.networking.v1."
DISCOVERY = "io.k8s.api.discovery.v1."
RBAC = "io.k8s.api.rbac.v1."
SCHEDULING = "io.k8s.api.scheduling.v1."
STORAGE = "io.k8s.api.storage.v1."
COORDINATION = "io.k8s.api.coordination.v1."

_DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                              "storageclass.beta.kubernetes.io/is-default-class")


def _ingress_hosts(rules: list[Obj]) -> str:
    """`formatHosts`: up to three hosts, `*` when no rule names one."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        more = more or len(hosts) == 3
        if not more and rule.get("host"):
            hosts.append(rule["host"])
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if more else text


def _ingress_row(ing: Obj, clock: Clock) -> list[Any]:
    spec = ing.get("spec") or {}
    lb = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()
    address = ",".join(sorted({i.get("ip") or i.get("hostname") for i in lb if i.get("ip") or i.get("hostname")}))
    return [name_of(ing), spec.get("ingressClassName") or NONE, _ingress_hosts(spec.get("rules") or []), address,
            "80, 443" if spec.get("tls") else "80", clock.age(ing)]


def _ingress_class_row(cls: Obj, clock: Clock) -> list[Any]:
    spec = cls.get("spec") or {}
    params = spec.get("parameters")
    text = NONE
    if params:
        kind = params.get("kind", "") + (f".{params['apiGroup']}" if params.get("apiGroup") is not None else "")
        text = f"{kind}/{params.get('name', '')}"
    return [name_of(cls), spec.get("controller", ""), text, clock.age(cls)]


def _network_policy_row(policy: Obj, clock: Clock) -> list[Any]:
    return [name_of(policy), format_label_selector((policy.get("spec") or {}).get("podSelector") or {}),
            clock.age(policy)]


def _endpoint_slice_row(slice_: Obj, clock: Clock) -> list[Any]:
    ports = [str(p["port"]) if p.get("port") is not None else p.get("name") or "*" for p in slice_.get("ports") or ()]
    addresses = [a for e in slice_.get("endpoints") or () for a in e.get("addresses") or ()]
    return [name_of(slice_), slice_.get("addressType", ""), list_with_more(ports), list_with_more(addresses),
            clock.age(slice_)]


def _pdb_row(pdb: Obj, clock: Clock) -> list[Any]:
    spec = pdb.get("spec") or {}
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    return [name_of(pdb), "N/A" if min_available is None else str(min_available),
            "N/A" if max_unavailable is None else str(max_unavailable),
            (pdb.get("status") or {}).get("disruptionsAllowed", 0), clock.age(pdb)]


def _subjects(binding: Obj) -> tuple[str, str, str]:
    """`rbac.SubjectsStrings`: users, groups and `namespace/name` service accounts."""
    users, groups, accounts = [], [], []
    for subject in binding.get("subjects") or ():
        kind, name = subject.get("kind"), subject.get("name", "")
        if kind == "ServiceAccount":
            accounts.append(f"{subject.get('namespace', '')}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
    return ", ".join(users), ", ".join(groups), ", ".join(accounts)


def _binding_row(binding: Obj, clock: Clock) -> list[Any]:
    ref = binding.get("roleRef") or {}
    return [name_of(binding), f"{ref.get('kind', '')}/{ref.get('name', '')}", clock.age(binding), *_subjects(binding)]


def _binding_columns(kind: str) -> tuple[Column, ...]:
    return (NAME, Column("Role", doc=(RBAC + kind, "roleRef")), AGE,
            Column("Users", priority=1, doc=f"Users in the {kind[0].lower() + kind[1:]}"),
            Column("Groups", priority=1, doc=f"Groups in the {kind[0].lower() + kind[1:]}"),
            Column("ServiceAccounts", priority=1, doc=f"ServiceAccounts in the {kind[0].lower() + kind[1:]}"))


def _priority_class_row(pc: Obj, clock: Clock) -> list[Any]:
    return [name_of(pc), pc.get("value", 0), bool(pc.get("globalDefault")), clock.age(pc),
            pc.get("preemptionPolicy") or ""]


def _storage_class_row(sc: Obj, clock: Clock) -> list[Any]:
    annotations = (sc.get("metadata") or {}).get("annotations") or {}
    name = name_of(sc)
    if any(annotations.get(a) == "true" for a in _DEFAULT_CLASS_ANNOTATIONS):
        name += " (default)"
    return [name, sc.get("provisioner", ""), sc.get("reclaimPolicy") or "Delete",
            sc.get("volumeBindingMode") or "Immediate", bool(sc.get("allowVolumeExpansion")), clock.age(sc)]


def _lease_row(lease: Obj, clock: Clock) -> list[Any]:
    return [name_of(lease), (lease.get("spec") or {}).get("holderIdentity") or "", clock.age(lease)]


def _api_service_row(svc: Obj, clock: Clock) -> list[Any]:
    ref = (svc.get("spec") or {}).get("service")
    service = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else "Local"
    available = "Unknown"
    for condition in (svc.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Available":
            status = condition.get("status", "")
            reason = condition.get("reason")
            available = f"{status} ({reason})" if status != "True" and reason else status
            break
    return [name_of(svc), service, available, clock.age(svc)]


PRINTERS: dict[tuple[str, str], Printer] = {
    ("networking.k8s.io", "Ingress"): printer((
        NAME, Column("Class", doc="The name of the IngressClass resource that should be used for additional "
                                  "configuration"),
        Column("Hosts", doc="Hosts that incoming requests are matched against before the ingress rule"),
        Column("Address", doc="Address is a list containing ingress points for the load-balancer"),
        Column("Ports", doc="Ports of TLS configurations that open"), AGE,
    ), _ingress_row),
    ("networking.k8s.io", "IngressClass"): printer((
        NAME, Column("Controller", doc="Controller that is responsible for handling this class"),
        Column("Parameters", doc="A reference to a resource with additional parameters"), AGE,
    ), _ingress_class_row),
    ("networking.k8s.io", "NetworkPolicy"): printer((
        NAME, Column("Pod-Selector", doc=(NETWORKING + "NetworkPolicySpec", "podSelector")), AGE,
    ), _network_policy_row),
    ("discovery.k8s.io", "EndpointSlice"): printer((
        NAME, Column("AddressType", doc=(DISCOVERY + "EndpointSlice", "addressType")),
        Column("Ports", doc=(DISCOVERY + "EndpointSlice", "ports")),
        Column("Endpoints", doc=(DISCOVERY + "EndpointSlice", "endpoints")), AGE,
    ), _endpoint_slice_row),
    ("policy", "PodDisruptionBudget"): printer((
        NAME, Column("Min Available", doc="The minimum number of pods that must be available."),
        Column("Max Unavailable", doc="The maximum number of pods that may be unavailable."),
        Column("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."), AGE,
    ), _pdb_row),
    ("rbac.authorization.k8s.io", "RoleBinding"): printer(_binding_columns("RoleBinding"), _binding_row),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): printer(_binding_columns("ClusterRoleBinding"), _binding_row),
    ("scheduling.k8s.io", "PriorityClass"): printer((
        NAME, Column("Value", "integer", (SCHEDULING + "PriorityClass", "value")),
        Column("Global-Default", "boolean", (SCHEDULING + "PriorityClass", "globalDefault")), AGE,
        Column("PreemptionPolicy", doc=(SCHEDULING + "PriorityClass", "preemptionPolicy")),
    ), _priority_class_row),
    ("storage.k8s.io", "StorageClass"): printer((
        NAME, Column("Provisioner", doc=(STORAGE + "StorageClass", "provisioner")),
        Column("ReclaimPolicy", doc=(STORAGE + "StorageClass", "reclaimPolicy")),
        Column("VolumeBindingMode", doc=(STORAGE + "StorageClass", "volumeBindingMode")),
        Column("AllowVolumeExpansion", doc=(STORAGE + "StorageClass", "allowVolumeExpansion")), AGE,
    ), _storage_class_row),
    ("coordination.k8s.io", "Lease"): printer((
        NAME, Column("Holder", doc=(COORDINATION + "LeaseSpec", "holderIdentity")), AGE,
    ), _lease_row),
    ("apiregistration.k8s.io", "APIService"): printer((
        NAME, Column("Service", doc="The reference to the service that hosts the API endpoint."),
        Column("Available", doc="Whether this service is available."), AGE,
    ), _api_service_row),
}
