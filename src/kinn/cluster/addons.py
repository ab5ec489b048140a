"""The add-ons `kinn up` deploys once its nodes are Ready, as kubeadm's addon phase deploys CoreDNS.

DNS: `kinn dns` (image kinn/kinn) as Deployment kube-system/kube-dns behind Service kube-dns on the
cluster's DNS address (10.96.0.10 by default, what every kubelet's --cluster-dns points pods at),
with ports `dns` 53/UDP and `dns-tcp` 53/TCP, so kube-proxy's rules for it carry the chain names
seed 003 shows. Its ServiceAccount, ClusterRole and binding use the names upstream's bootstrap RBAC
gives kube-dns (system:kube-dns), with the rules this server needs.
"""

from __future__ import annotations

from typing import Any

from kinn import __version__
from kinn.api.errors import StatusError
from kinn.api.resources import TABLE, split_api_version
from kinn.client.rest import Client
from kinn.cluster.config import ClusterSpec

Obj = dict[str, Any]

NAMESPACE = "kube-system"
DNS_NAME = "kube-dns"
DNS_LABELS = {"k8s-app": DNS_NAME}
CLUSTER_DOMAIN = "cluster.local"  # the kubelets' --cluster-domain default
IMAGE = f"kinn/kinn:{__version__}"
HEALTH_PORT, READY_PORT = 8080, 8181  # CoreDNS's health and ready plugins'
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


def dns(spec: ClusterSpec) -> list[Obj]:
    """The DNS add-on's objects, in the order they are created (the Service first, so its address is taken)."""
    return [_service_account(), _cluster_role(), _cluster_role_binding(), _service(spec.networking.cluster_dns),
            _deployment()]


def _service_account() -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": DNS_NAME, "namespace": NAMESPACE}}


def _cluster_role() -> Obj:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": f"system:{DNS_NAME}"},
            "rules": [{"apiGroups": [""], "resources": ["namespaces", "services"], "verbs": ["list", "watch"]},
                      {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}]}


def _cluster_role_binding() -> Obj:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": f"system:{DNS_NAME}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"system:{DNS_NAME}"},
            "subjects": [{"kind": "ServiceAccount", "name": DNS_NAME, "namespace": NAMESPACE}]}


def _service(cluster_ip: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": DNS_NAME, "namespace": NAMESPACE,
                         "labels": {**DNS_LABELS, "kubernetes.io/cluster-service": "true"}},
            "spec": {"selector": DNS_LABELS, "clusterIP": cluster_ip,
                     "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                               {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]}}


def _deployment() -> Obj:
    """CoreDNS's Deployment as kubeadm writes it, with kinn's server: critical priority, tolerating
    the control-plane taint, liveness on /health and readiness on /ready, the node's resolv.conf.
    It prefers the control-plane node, where kubeadm's and kind's CoreDNS land by being scheduled
    before any worker joins (kinn's nodes are Ready together), so the workers hold only the user's pods."""
    container = {
        "name": DNS_NAME, "image": IMAGE,
        "command": ["kinn", "dns", "--cluster-domain", CLUSTER_DOMAIN, "--port", "53",
                    "--health-port", str(HEALTH_PORT), "--ready-port", str(READY_PORT)],
        "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                  {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "100m", "memory": "70Mi"}},
        "livenessProbe": {"httpGet": {"path": "/health", "port": HEALTH_PORT, "scheme": "HTTP"},
                          "initialDelaySeconds": 60, "timeoutSeconds": 5, "successThreshold": 1, "failureThreshold": 5},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": READY_PORT, "scheme": "HTTP"}},
    }
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": DNS_NAME, "namespace": NAMESPACE, "labels": DNS_LABELS},
            "spec": {"replicas": 1, "selector": {"matchLabels": DNS_LABELS},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                     "template": {"metadata": {"labels": DNS_LABELS}, "spec": {
                         "priorityClassName": "system-cluster-critical",
                         "serviceAccountName": DNS_NAME,
                         "dnsPolicy": "Default",
                         "nodeSelector": {"kubernetes.io/os": "linux"},
                         "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                                         {"key": CONTROL_PLANE, "effect": "NoSchedule"}],
                         "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                             {"weight": 100, "preference": {"matchExpressions": [
                                 {"key": CONTROL_PLANE, "operator": "Exists"}]}}]}},
                         "containers": [container]}}}}


async def apply(client: Client, objects: list[Obj]) -> None:
    """Create each object; one that exists already is left as it is (kubeadm's addon phase re-run)."""
    for obj in objects:
        group, version = split_api_version(obj["apiVersion"])
        kind = TABLE.for_kind(group, version, obj["kind"])
        assert kind is not None, obj["kind"]
        try:
            await client.create(kind, obj)
        except StatusError as e:
            if e.reason != "AlreadyExists":
                raise
