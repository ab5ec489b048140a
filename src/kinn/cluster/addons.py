"""The add-ons `kinn up` deploys once its nodes are Ready, as kubeadm's addon phase deploys CoreDNS.

DNS: `kinn dns` (image kinn/kinn) as Deployment kube-system/kube-dns behind Service kube-dns on the
cluster's DNS address (10.96.0.10 by default, what every kubelet's --cluster-dns points pods at),
with ports `dns` 53/UDP and `dns-tcp` 53/TCP, so kube-proxy's rules for it carry the chain names
seed 003 shows. Its ServiceAccount, ClusterRole and binding use the names upstream's bootstrap RBAC
gives kube-dns (system:kube-dns), with the rules this server needs.

Ingress: `kinn ingress-controller` (image kinn/kinn) as ingress-nginx's cloud manifest deploys its
controller: namespace ingress-nginx, Deployment and LoadBalancer Service ingress-nginx-controller
(http 80, https 443, externalTrafficPolicy Local so backends see the client's address) on the
load-balancer pool's last address, leaving the first ones to the user's Services, the
IngressClass `nginx` for controller k8s.io/ingress-nginx — marked the default class, as minikube's
ingress add-on marks it — and the ServiceAccount, ClusterRole and binding `ingress-nginx`.
"""

from __future__ import annotations

from typing import Any

from kinn import __version__
from kinn.api.errors import StatusError
from kinn.api.resources import TABLE, split_api_version
from kinn.api.validation.networking import DEFAULT_INGRESS_CLASS_ANNOTATION
from kinn.client.rest import Client
from kinn.cluster.config import ClusterSpec
from kinn.ingress.ingressclass import CONTROLLER_CLASS, INGRESS_CLASS

Obj = dict[str, Any]

NAMESPACE = "kube-system"
DNS_NAME = "kube-dns"
DNS_LABELS = {"k8s-app": DNS_NAME}
CLUSTER_DOMAIN = "cluster.local"  # the kubelets' --cluster-domain default
IMAGE = f"kinn/kinn:{__version__}"
HEALTH_PORT, READY_PORT = 8080, 8181  # CoreDNS's health and ready plugins'
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"
INGRESS_NAMESPACE = "ingress-nginx"
INGRESS_CONTROLLER = "ingress-nginx-controller"
INGRESS_LABELS = {"app.kubernetes.io/component": "controller", "app.kubernetes.io/instance": "ingress-nginx",
                  "app.kubernetes.io/name": "ingress-nginx"}
INGRESS_HEALTH_PORT = 10254  # ingress-nginx's --healthz-port
INGRESS_CONFIG_DIR = "/run/ingress-nginx"  # an emptyDir: the container has no filesystem of its own to write in


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
        # Probed every second, not kubeadm's default 10: a first probe before the server listens
        # would otherwise keep the cluster without DNS for 10 s, and `kinn up` waits for DNS.
        "readinessProbe": {"httpGet": {"path": "/ready", "port": READY_PORT, "scheme": "HTTP"}, "periodSeconds": 1},
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


def ingress(spec: ClusterSpec) -> list[Obj]:
    """The ingress add-on's objects, in the order they are created."""
    return [_ingress_namespace(), _ingress_service_account(), _ingress_cluster_role(), _ingress_cluster_role_binding(),
            _ingress_class(), _ingress_service(ingress_address(spec)), _ingress_deployment()]


def ingress_address(spec: ClusterSpec) -> str:
    return str(spec.networking.load_balancer_pool.last)


def _ingress_meta(name: str, namespaced: bool = True) -> Obj:
    meta: Obj = {"name": name, "labels": dict(INGRESS_LABELS)}
    if namespaced:
        meta["namespace"] = INGRESS_NAMESPACE
    return meta


def _ingress_namespace() -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _ingress_meta(INGRESS_NAMESPACE, namespaced=False)}


def _ingress_service_account() -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _ingress_meta("ingress-nginx")}


def _ingress_cluster_role() -> Obj:
    """What the controller reads and writes (ingress-nginx's ClusterRole, with `patch` for the status it merges)."""
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": _ingress_meta("ingress-nginx", namespaced=False),
            "rules": [{"apiGroups": [""], "resources": ["secrets", "services"], "verbs": ["list", "watch"]},
                      {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                      {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
                      {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
                      {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "ingressclasses"],
                       "verbs": ["get", "list", "watch"]},
                      {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses/status"],
                       "verbs": ["update", "patch"]}]}


def _ingress_cluster_role_binding() -> Obj:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": _ingress_meta("ingress-nginx", namespaced=False),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "ingress-nginx"},
            "subjects": [{"kind": "ServiceAccount", "name": "ingress-nginx", "namespace": INGRESS_NAMESPACE}]}


def _ingress_class() -> Obj:
    meta = _ingress_meta(INGRESS_CLASS, namespaced=False)
    meta["annotations"] = {DEFAULT_INGRESS_CLASS_ANNOTATION: "true"}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": meta,
            "spec": {"controller": CONTROLLER_CLASS}}


def _ingress_service(address: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": _ingress_meta(INGRESS_CONTROLLER),
            "spec": {"type": "LoadBalancer", "loadBalancerIP": address, "externalTrafficPolicy": "Local",
                     "selector": INGRESS_LABELS,
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http",
                                "appProtocol": "http"},
                               {"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https",
                                "appProtocol": "https"}]}}


def _ingress_deployment() -> Obj:
    """ingress-nginx's controller Deployment with kinn's controller; readiness is probed every second
    (upstream: every 10 s after 10 s) so Ingresses answer soon after `kinn up`."""
    healthz = {"path": "/healthz", "port": INGRESS_HEALTH_PORT, "scheme": "HTTP"}
    container = {
        "name": "controller", "image": IMAGE,
        "command": ["kinn", "ingress-controller", f"--publish-service=$(POD_NAMESPACE)/{INGRESS_CONTROLLER}",
                    f"--controller-class={CONTROLLER_CLASS}", f"--ingress-class={INGRESS_CLASS}",
                    f"--config-dir={INGRESS_CONFIG_DIR}"],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
        "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"},
                  {"name": "https", "containerPort": 443, "protocol": "TCP"}],
        "livenessProbe": {"httpGet": healthz, "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 1,
                          "successThreshold": 1, "failureThreshold": 5},
        "readinessProbe": {"httpGet": healthz, "periodSeconds": 1, "timeoutSeconds": 1, "successThreshold": 1,
                           "failureThreshold": 3},
        "resources": {"requests": {"cpu": "100m", "memory": "90Mi"}},
        "volumeMounts": [{"name": "nginx", "mountPath": INGRESS_CONFIG_DIR}],
    }
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _ingress_meta(INGRESS_CONTROLLER),
            "spec": {"replicas": 1, "selector": {"matchLabels": INGRESS_LABELS},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                     "template": {"metadata": {"labels": INGRESS_LABELS}, "spec": {
                         "serviceAccountName": "ingress-nginx",
                         "nodeSelector": {"kubernetes.io/os": "linux"},
                         "terminationGracePeriodSeconds": 300,
                         "containers": [container],
                         "volumes": [{"name": "nginx", "emptyDir": {}}]}}}}


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
