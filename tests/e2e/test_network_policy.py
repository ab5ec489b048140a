"""NetworkPolicy enforced in a real 3-node kinn cluster: real connections between pods on one node
(bridged) and across the overlay, through Services and by pod IP, with the node's table as
`nft list table` shows it and `kinn trace` naming the rule that dropped a probe."""

from __future__ import annotations

import subprocess
import uuid
from typing import Iterator

import pytest
import yaml

from kinn_cluster import KinnCluster, kinn_up
from kubectl_output import wait_until

pytestmark = pytest.mark.e2e

TABLE = ["nft", "list", "table", "ip", "kinn-network-policy"]


def pod(name: str, node: str, namespace: str = "default", serve: bool = False) -> dict:
    container = {"name": "nginx", "image": "nginx", "ports": [{"name": "http", "containerPort": 80}]} if serve \
        else {"name": "main", "image": "busybox", "command": ["sleep", "3600"]}
    metadata = {"name": name, "namespace": namespace, "labels": {"app": name}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1, "containers": [container]}}


def policy(name: str, namespace: str = "default", **spec: object) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def apply(cluster: KinnCluster, *objects: dict) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))


def reaches(cluster: KinnCluster, client: str, url: str, namespace: str = "default") -> bool:
    """Whether `client` gets an answer from `url` within 2 s (busybox's `wget -T` crashes: `timeout`)."""
    result = subprocess.run(["kubectl", "exec", "-n", namespace, client, "--", "timeout", "2", "wget", "-qO-", url],
                            capture_output=True, text=True, env=cluster.env, timeout=60)
    return result.returncode == 0


def becomes(cluster: KinnCluster, client: str, url: str, allowed: bool, namespace: str = "default") -> None:
    wait_until(lambda: reaches(cluster, client, url, namespace) == allowed, timeout=20,
               what=f"{client} → {url} {'allowed' if allowed else 'dropped'}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinnCluster]:
    home = tmp_path_factory.mktemp("kinn-home")
    c = KinnCluster(f"np{uuid.uuid4().hex[:6]}", home, home / "kubeconfig")
    with kinn_up(c, "--workers", "2"):
        c.kubectl("create", "namespace", "team-a")
        apply(c, pod("backend", "worker-1", serve=True), pod("frontend", "worker-2"), pod("other", "worker-1"),
              pod("web2", "worker-2", serve=True), pod("locked", "worker-1", namespace="team-a"),
              {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "backend"},
               "spec": {"selector": {"app": "backend"}, "ports": [{"port": 80, "targetPort": "http"}]}})
        c.kubectl("wait", "--for=condition=Ready", "pod", "--all", "-A", "--timeout=90s")
        c.kubectl("-n", "kube-system", "rollout", "status", "deployment/kube-dns", "--timeout=90s")
        yield c


def ip_of(cluster: KinnCluster, name: str) -> str:
    return cluster.pod(name)["status"]["podIP"]


def test_ingress_policy_admits_its_peer_and_drops_the_rest(cluster: KinnCluster) -> None:
    backend = f"http://{ip_of(cluster, 'backend')}/"
    assert reaches(cluster, "frontend", backend) and reaches(cluster, "other", backend)
    apply(cluster, policy("allow-frontend", podSelector={"matchLabels": {"app": "backend"}},
                          ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "frontend"}}}],
                                    "ports": [{"port": "http"}]}]))
    becomes(cluster, "other", backend, allowed=False)  # same node: bridged on cni0, yet filtered
    assert reaches(cluster, "frontend", backend)  # across the overlay
    assert reaches(cluster, "frontend", "http://backend.default.svc.cluster.local/")  # through the Service
    assert not reaches(cluster, "other", "http://backend/")
    table = cluster.node_exec("worker-1", *TABLE)
    assert 'ip saddr @from-default/allow-frontend/0/0 tcp dport 80 accept comment "default/allow-frontend"' in table
    assert f"elements = {{ {ip_of(cluster, 'frontend')} }}" in table  # the set of the pods the peer selects
    assert "counter packets 0 " not in table.split("default/backend: not allowed")[0].splitlines()[-1]
    trace = cluster.kinn("trace", "--name", cluster.name, "pod/other", "pod/backend", "--port", "80",
                         check=False).stdout  # the probe times out: trace says so, and fails
    assert 'DROPPED in kinn-network-policy ingress by ingress-default/backend' in trace, trace
    assert "kinn-network-policy" not in cluster.node_exec("worker-2", "nft", "list", "tables")  # nothing isolated there
    cluster.kubectl("delete", "networkpolicy", "allow-frontend")
    becomes(cluster, "other", backend, allowed=True)
    assert "kinn-network-policy" not in cluster.node_exec("worker-1", "nft", "list", "tables")


def test_egress_policy_leaves_dns_and_the_allowed_service(cluster: KinnCluster) -> None:
    """A locked-down namespace: egress only to DNS and to the `default` namespace's backend; a new
    label on the pod it may reach is followed (web2 becomes reachable)."""
    web2 = f"http://{ip_of(cluster, 'web2')}/"
    assert reaches(cluster, "locked", web2, "team-a")
    to_backend = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "default"}},
                  "podSelector": {"matchLabels": {"tier": "allowed"}}}
    apply(cluster, policy("lockdown", "team-a", podSelector={}, policyTypes=["Egress"], egress=[
        {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {"to": [to_backend, {"podSelector": {"matchLabels": {"app": "backend"}},
                             "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "default"}}}]}]))
    becomes(cluster, "locked", web2, allowed=False, namespace="team-a")
    assert reaches(cluster, "locked", "http://backend.default/", "team-a")  # DNS, then the Service's backend
    cluster.kubectl("label", "pod", "web2", "tier=allowed")
    becomes(cluster, "locked", web2, allowed=True, namespace="team-a")
    cluster.kubectl("delete", "networkpolicy", "-n", "team-a", "lockdown")
