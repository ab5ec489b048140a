"""Cluster DNS in a real kinn cluster: the kube-dns add-on `kinn up` deploys, asked from pods the way
users ask it — busybox's nslookup, glibc's getaddrinfo (Python, getent), `wget http://frontend` by
its short name through the search path — with every packet going through kube-proxy's rules for
10.96.0.10 that seed 003 shows."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from typing import Iterator

import pytest
import yaml

from kinn_cluster import KinnCluster, kinn_up
from kubectl_output import wait_until

pytestmark = pytest.mark.e2e

ZONE = "cluster.local"
WORKLOADS = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "frontend"},
     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "frontend"}},
              "template": {"metadata": {"labels": {"app": "frontend"}},
                           "spec": {"terminationGracePeriodSeconds": 1,
                                    "containers": [{"name": "nginx", "image": "nginx",
                                                    "ports": [{"name": "http", "containerPort": 80}]}]}}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "frontend"},
     "spec": {"selector": {"app": "frontend"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
     "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}},
    {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
     "spec": {"serviceName": "web", "replicas": 2, "podManagementPolicy": "Parallel",
              "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}},
                           "spec": {"terminationGracePeriodSeconds": 1,
                                    "containers": [{"name": "nginx", "image": "nginx",
                                                    "ports": [{"name": "http", "containerPort": 80}]}]}}}},
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinnCluster]:
    home = tmp_path_factory.mktemp("kinn-home")
    c = KinnCluster(f"kd{uuid.uuid4().hex[:6]}", home, home / "kubeconfig")
    with kinn_up(c, "--workers", "2"):
        c.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(WORKLOADS))
        for name in ("busybox", "python"):
            c.run_pod(name, "worker-1", "sleep", "3600", image=name)
        c.kubectl("rollout", "status", "deployment/frontend", "--timeout=60s")
        c.kubectl("rollout", "status", "statefulset/web", "--timeout=60s")
        c.kubectl("rollout", "status", "deployment/kube-dns", "-n", "kube-system", "--timeout=60s")
        yield c


def in_pod(cluster: KinnCluster, pod: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", "exec", pod, "--", *command], capture_output=True, text=True,
                          env=cluster.env, timeout=60)


def nslookup(cluster: KinnCluster, *args: str) -> str:
    result = in_pod(cluster, "busybox", "nslookup", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def getaddrinfo(cluster: KinnCluster, name: str) -> list[str]:
    script = ("import socket, sys; print(' '.join(sorted({a[4][0] for a in "
              "socket.getaddrinfo(sys.argv[1], 80, socket.AF_INET, socket.SOCK_STREAM)})))")
    result = in_pod(cluster, "python", "python3", "-c", script, name)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def cluster_ip(cluster: KinnCluster, service: str, namespace: str = "default") -> str:
    return cluster.kubectl("get", "service", service, "-n", namespace, "-o", "jsonpath={.spec.clusterIP}")


def pod_ips(cluster: KinnCluster, selector: str) -> dict[str, str]:
    pods = json.loads(cluster.kubectl("get", "pods", "-l", selector, "-o", "json"))["items"]
    return {p["metadata"]["name"]: p["status"]["podIP"] for p in pods if p["status"].get("podIP")}


def test_the_kube_dns_addon_behind_seed_003s_rules(cluster: KinnCluster) -> None:
    service = json.loads(cluster.kubectl("get", "service", "kube-dns", "-n", "kube-system", "-o", "json"))
    assert service["spec"]["clusterIP"] == "10.96.0.10"
    assert [(p["name"], p["port"], p["protocol"]) for p in service["spec"]["ports"]] == \
        [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")]
    pods = json.loads(cluster.kubectl("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "json"))
    [dns_pod] = pods["items"]
    assert dns_pod["spec"]["containers"][0]["image"] == "kinn/kinn:0.1.0"
    assert dns_pod["spec"]["nodeName"] == "control-plane"  # preferred: the workers keep only the user's pods
    rules = cluster.node_exec("worker-1", "iptables-save", "-t", "nat")
    for port, protocol, chain in (("dns-tcp", "tcp", "KUBE-SVC-ERIFXISQEP7F7OF4"), ("dns", "udp", "KUBE-SVC-TCOU7JCQXEZGVUNU")):
        assert (f'-A KUBE-SERVICES -d 10.96.0.10/32 -p {protocol} -m comment --comment "kube-system/kube-dns:{port} '
                f'cluster IP" -m {protocol} --dport 53 -j {chain}') in rules
        assert re.search(rf'-A KUBE-SEP-\w+ -p {protocol} -m comment --comment "kube-system/kube-dns:{port}" -m '
                         rf'{protocol} -j DNAT --to-destination {re.escape(dns_pod["status"]["podIP"])}:53', rules)


def test_nslookup_from_busybox(cluster: KinnCluster) -> None:
    frontend, web = cluster_ip(cluster, "frontend"), pod_ips(cluster, "app=web")
    out = nslookup(cluster, f"frontend.default.svc.{ZONE}")
    assert "Server:\t\t10.96.0.10" in out and f"Address: {frontend}" in out
    out = nslookup(cluster, f"web.default.svc.{ZONE}")
    assert sorted(re.findall(r"Address: (10\.244\.\S+)", out)) == sorted(web.values())
    assert f"Address: {web['web-0']}" in nslookup(cluster, f"web-0.web.default.svc.{ZONE}")
    pod_name = web["web-1"].replace(".", "-")
    assert f"Address: {web['web-1']}" in nslookup(cluster, f"{pod_name}.default.pod.{ZONE}")
    srv = nslookup(cluster, "-type=srv", f"_http._tcp.frontend.default.svc.{ZONE}")
    assert f"service = 0 100 80 frontend.default.svc.{ZONE}" in srv
    assert f"name = frontend.default.svc.{ZONE}" in nslookup(cluster, frontend)  # PTR
    missing = in_pod(cluster, "busybox", "nslookup", f"backend.default.svc.{ZONE}")
    assert missing.returncode != 0 and "NXDOMAIN" in missing.stdout
    outside = in_pod(cluster, "busybox", "nslookup", "kubernetes.io.")
    assert outside.returncode != 0 and "REFUSED" in outside.stdout  # nothing leaves the host


def test_getaddrinfo_through_the_search_path(cluster: KinnCluster) -> None:
    web = pod_ips(cluster, "app=web")
    assert getaddrinfo(cluster, "frontend") == [cluster_ip(cluster, "frontend")]
    assert getaddrinfo(cluster, "kube-dns.kube-system") == ["10.96.0.10"]
    assert getaddrinfo(cluster, "kubernetes.default") == ["10.96.0.1"]
    assert getaddrinfo(cluster, "web") == sorted(web.values())
    assert getaddrinfo(cluster, "web-0.web") == [web["web-0"]]
    hosts = in_pod(cluster, "busybox", "getent", "hosts", "web-1.web")
    assert hosts.stdout.split() == [web["web-1"], f"web-1.web.default.svc.{ZONE}"]


def test_wget_by_short_name(cluster: KinnCluster) -> None:
    page = in_pod(cluster, "busybox", "timeout", "10", "wget", "-qO-", "http://frontend")
    assert page.returncode == 0 and "Welcome to nginx!" in page.stdout, page.stderr


def test_answers_follow_the_statefulset(cluster: KinnCluster) -> None:
    cluster.kubectl("scale", "statefulset", "web", "--replicas", "3")
    cluster.kubectl("rollout", "status", "statefulset/web", "--timeout=60s")
    web = pod_ips(cluster, "app=web")
    assert len(web) == 3
    wait_until(lambda: getaddrinfo(cluster, "web") == sorted(web.values()), timeout=10, what="3 web addresses")
    assert getaddrinfo(cluster, "web-2.web") == [web["web-2"]]
