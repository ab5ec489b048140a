"""LoadBalancer Services on a real kinn cluster, seen from the outside client as seed 002's external traffic:
an address from the pool in `kubectl get svc`, ARP answered by exactly one node (the elected one's MAC in
the client's neighbour table), ping and HTTP through kube-proxy, the client's own address at the backend
with externalTrafficPolicy Local, and `kinn up --publish` forwarding the host's 127.0.0.1 to Services."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import urllib.request
import uuid
from typing import Iterator

import pytest

from kinn import netlink
from kinn_cluster import KinnCluster, kinn_up
from kubectl_output import table, wait_until

pytestmark = pytest.mark.e2e

LB_IP = "10.240.0.200"
CLIENT_IP = "10.240.0.254"
WORKERS = ("worker-1", "worker-2")
FRONTEND = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend}
spec:
  replicas: 2
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: nginx, image: "nginx:1.25", ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: frontend}
spec:
  type: LoadBalancer
  selector: {app: frontend}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: frontend-np}
spec:
  type: NodePort
  selector: {app: frontend}
  ports: [{port: 80, targetPort: 80}]
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    return {"frontend": free_port(), "frontend-np": free_port()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, ports: dict[str, int]) -> Iterator[KinnCluster]:
    home = tmp_path_factory.mktemp("kinn-home")
    (home / "kube").mkdir()
    c = KinnCluster(f"lb{uuid.uuid4().hex[:6]}", home, home / "kube" / "config")
    publish = [arg for name, port in ports.items() for arg in ("--publish", f"{port}:svc/{name}:80")]
    with kinn_up(c, "--workers", "2", *publish):
        c.kubectl("apply", "-f", "-", input=FRONTEND)
        yield c
    assert not netlink.exists(f"kinn-{c.name}-client"), "kinn down left the outside client's netns"


def client_exec(cluster: KinnCluster, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return cluster.kinn("client", "exec", "--name", cluster.name, "--", *command, check=check)


def nodes_holding(cluster: KinnCluster, ip: str) -> list[str]:
    """The nodes where `ip` is local (the speaker's lo:kube-lb addresses): the ones that answer ARP for it."""
    def held(node: str) -> bool:
        with netlink.iproute(f"kinn-{cluster.name}-{node}") as ipr:
            return f"{ip}/32" in netlink.list_addresses(ipr, "lo", socket.AF_INET, label="lo:kube-lb")
    return [node for node in ("control-plane", *WORKERS) if held(node)]


def mac_of(cluster: KinnCluster, node: str) -> str:
    with netlink.iproute(f"kinn-{cluster.name}-{node}") as ipr:
        return netlink.get_link(ipr, "eth0").mac


def announced_by(cluster: KinnCluster) -> str:
    """The one node holding the address, once the election has settled there."""
    holders = wait_until(lambda: (held := nodes_holding(cluster, LB_IP)) and len(held) == 1 and held,
                         timeout=20, what=f"exactly one node holding {LB_IP}")
    return holders[0]


def serving_pods(cluster: KinnCluster) -> list[dict]:
    pods = json.loads(cluster.kubectl("get", "pods", "-l", "app=frontend", "-o", "json"))["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp") and
            any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])]


def test_the_service_gets_a_pool_address_shown_as_external_ip(cluster: KinnCluster) -> None:
    def external_ip() -> str:
        rows = table(cluster.kubectl("get", "svc", "frontend"))
        return rows[1][rows[0].index("EXTERNAL-IP")] == LB_IP and rows[1]
    row = wait_until(external_ip, timeout=20, what="EXTERNAL-IP 10.240.0.200")
    assert row[:2] == ["frontend", "LoadBalancer"] and re.fullmatch(r"80:3\d{4}/TCP", row[4])
    status = json.loads(cluster.kubectl("get", "svc", "frontend", "-o", "json"))["status"]
    assert status["loadBalancer"]["ingress"] == [{"ip": LB_IP, "ipMode": "VIP"}]


def test_exactly_one_node_answers_arp_and_ping(cluster: KinnCluster) -> None:
    wait_until(lambda: len(serving_pods(cluster)) == 2, timeout=60, what="2 ready nginx pods")
    node = announced_by(cluster)
    assert node in WORKERS  # the control plane carries kubeadm's exclude-from-external-load-balancers label
    assert client_exec(cluster, "busybox", "ping", "-c", "1", "-W", "2", LB_IP).returncode == 0
    neighbour = client_exec(cluster, "ip", "neigh", "show", LB_IP).stdout
    assert f"lladdr {mac_of(cluster, node)}" in neighbour, neighbour
    assert client_exec(cluster, "ip", "-4", "-o", "addr", "show", "eth0").stdout.split()[3] == f"{CLIENT_IP}/24"
    events = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=frontend,reason=nodeAssigned")
    assert f'announcing from node "{node}" with protocol "layer2"' in events


def test_http_from_the_outside_client_reaches_nginx(cluster: KinnCluster) -> None:
    page = wait_until(lambda: client_exec(cluster, "wget", "-qO-", "-T", "3", f"http://{LB_IP}", check=False).stdout,
                      timeout=20, what="an answer from nginx at the LoadBalancer address")
    assert "Welcome to nginx!" in page


def test_the_host_port_reaches_the_load_balancer_and_the_node_port(cluster: KinnCluster,
                                                                    ports: dict[str, int]) -> None:
    for service, port in ports.items():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200 and b"Welcome to nginx!" in response.read(), service


def test_local_policy_announces_from_the_backend_s_node_which_sees_the_client(cluster: KinnCluster) -> None:
    cluster.kubectl("scale", "deployment", "frontend", "--replicas", "1")
    cluster.kubectl("patch", "svc", "frontend", "-p", '{"spec":{"externalTrafficPolicy":"Local"}}')
    pod = wait_until(lambda: (pods := serving_pods(cluster)) and len(pods) == 1 and pods[0], timeout=60,
                     what="one ready nginx pod")
    backend_node = pod["spec"]["nodeName"]
    wait_until(lambda: nodes_holding(cluster, LB_IP) == [backend_node], timeout=20,
               what=f"{LB_IP} announced from {backend_node} only")
    # The takeover's gratuitous ARP has already moved the client's entry, without waiting for it to go stale.
    neighbour = client_exec(cluster, "ip", "neigh", "show", LB_IP).stdout
    assert f"lladdr {mac_of(cluster, backend_node)}" in neighbour, neighbour
    assert "Welcome to nginx!" in client_exec(cluster, "wget", "-qO-", "-T", "3", f"http://{LB_IP}").stdout
    log = cluster.kubectl("logs", pod["metadata"]["name"])
    assert re.search(rf'^{re.escape(CLIENT_IP)} - - \[.*\] "GET / HTTP/1.1" 200 ', log, re.M), log


def test_a_deleted_service_is_withdrawn_and_its_address_reused(cluster: KinnCluster) -> None:
    cluster.kubectl("delete", "svc", "frontend")
    wait_until(lambda: not nodes_holding(cluster, LB_IP), timeout=20, what=f"{LB_IP} withdrawn everywhere")
    assert client_exec(cluster, "busybox", "ping", "-c", "1", "-W", "1", LB_IP, check=False).returncode != 0
    cluster.kubectl("expose", "deployment", "frontend", "--name", "again", "--type", "LoadBalancer", "--port", "80")
    wait_until(lambda: json.loads(cluster.kubectl("get", "svc", "again", "-o", "json")).get("status", {})
               .get("loadBalancer", {}).get("ingress") == [{"ip": LB_IP, "ipMode": "VIP"}],
               timeout=20, what=f"the new Service given {LB_IP}")


LOCAL_BACKEND = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: local-only}
spec:
  replicas: 1
  selector: {matchLabels: {app: local-only}}
  template:
    metadata: {labels: {app: local-only}}
    spec:
      nodeSelector: {kubernetes.io/hostname: worker-2}
      terminationGracePeriodSeconds: 1
      containers: [{name: nginx, image: "nginx:1.25", ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: local-only}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: local-only}
  ports: [{port: 80, targetPort: 80}]
"""


def get_from_node(cluster: KinnCluster, node: str, port: int, path: str = "/") -> tuple[int, str, dict] | None:
    """(status, Content-Type, JSON body) of an HTTP GET to the node's own 127.0.0.1:port, from inside the
    node; None when nothing listens there."""
    result = cluster.kinn("node", "exec", "--name", cluster.name, node, "--", "curl", "-s", "-m", "3",
                          "-w", "\n%{http_code} %{content_type}", f"http://127.0.0.1:{port}{path}", check=False)
    if result.returncode != 0:
        return None
    body, _, status_line = result.stdout.rpartition("\n")
    status, _, content_type = status_line.partition(" ")
    return int(status), content_type, json.loads(body)


def test_the_health_check_node_port_answers_from_the_node_s_local_endpoints(cluster: KinnCluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=LOCAL_BACKEND)
    port = json.loads(cluster.kubectl("get", "svc", "local-only", "-o", "json"))["spec"]["healthCheckNodePort"]

    def answer(node: str, local_endpoints: int) -> tuple[int, str, dict]:
        def reply() -> tuple[int, str, dict] | None:
            got = get_from_node(cluster, node, port)
            return got if got and got[2]["localEndpoints"] == local_endpoints else None
        return wait_until(reply, timeout=60, what=f"{node}:{port} reporting {local_endpoints} local endpoints")

    service = {"namespace": "default", "name": "local-only"}
    assert answer("worker-2", 1) == (200, "application/json",
                                     {"service": service, "localEndpoints": 1, "serviceProxyHealthy": True})
    assert answer("worker-1", 0) == (503, "application/json",
                                     {"service": service, "localEndpoints": 0, "serviceProxyHealthy": True})
    cluster.kubectl("scale", "deployment", "local-only", "--replicas", "0")
    assert answer("worker-2", 0)[0] == 503
    cluster.kubectl("delete", "svc", "local-only")
    wait_until(lambda: get_from_node(cluster, "worker-2", port) is None, timeout=20,
               what=f"worker-2 closing health check port {port}")


def test_kube_proxy_serves_healthz_on_every_node(cluster: KinnCluster) -> None:
    status, content_type, body = get_from_node(cluster, "worker-1", 10256, "/healthz")
    assert (status, content_type, body["nodeEligible"]) == (200, "application/json", True)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC m=\+\d+\.\d{9}", body["lastUpdated"])
    assert get_from_node(cluster, "control-plane", 10256, "/livez")[0] == 200
