"""kube-proxy's userspace mode end to end: seed 000's experiment on a real `kinn up --proxy-mode userspace`.

The cluster routes pod subnets over the underlay (flannel host-gw), as seed 000's nodes did, so a
connection the proxy opens to a pod on another node leaves eth0 from the node's IP — what the
seed's tcpdump shows. The frontend's two nginx replicas run on worker-2 and every client on
worker-1: each request crosses worker-1's proxy, and the backends see worker-1, never the client pod.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from typing import Iterator

import pytest

from kinn_cluster import KinnCluster, kinn_up
from kubectl_output import wait_until

pytestmark = pytest.mark.e2e

WORKER_1_IP = "10.240.0.21"
WORKER_2_IP = "10.240.0.22"
NODE_PORT = 30001
ACCESS_LINE = re.compile(r'^\S+ - - \[[^]]+\] "GET ')

MANIFESTS = textwrap.dedent(f"""
    apiVersion: apps/v1
    kind: Deployment
    metadata: {{name: frontend}}
    spec:
      replicas: 2
      selector: {{matchLabels: {{name: frontend}}}}
      template:
        metadata: {{labels: {{name: frontend}}}}
        spec:
          nodeSelector: {{kubernetes.io/hostname: worker-2}}
          containers:
          - {{name: nginx, image: nginx, ports: [{{containerPort: 80}}]}}
    ---
    apiVersion: v1
    kind: Service
    metadata: {{name: frontend}}
    spec:
      type: NodePort
      selector: {{name: frontend}}
      ports: [{{port: 80, nodePort: {NODE_PORT}}}]
    ---
    apiVersion: v1
    kind: Service
    metadata: {{name: sticky}}
    spec:
      selector: {{name: frontend}}
      sessionAffinity: ClientIP
      ports: [{{port: 80}}]
    ---
    apiVersion: v1
    kind: Service
    metadata: {{name: nobody}}
    spec:
      selector: {{name: nobody}}
      ports: [{{port: 80}}]
    ---
    apiVersion: v1
    kind: Service
    metadata: {{name: echo-udp}}
    spec:
      selector: {{app: echo-udp}}
      ports: [{{port: 53, targetPort: 5353, protocol: UDP}}]
""")

# Answers each datagram with the address it came from.
UDP_PEER_ECHO = textwrap.dedent("""
    import socket
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("", 5353))
    while True:
        data, peer = sock.recvfrom(512)
        sock.sendto(peer[0].encode(), peer)
""")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinnCluster]:
    home = tmp_path_factory.mktemp("kinn-home")
    config = home / "cluster.yaml"
    config.write_text("apiVersion: kinn.dev/v1alpha1\nkind: Cluster\nnetworking: {backend: host-gw}\n"
                      "nodes:\n- {name: control-plane, role: control-plane}\n"
                      "- {name: worker-1, role: worker}\n- {name: worker-2, role: worker}\n")
    c = KinnCluster(f"ku{uuid.uuid4().hex[:6]}", home, home / "kubeconfig")
    with kinn_up(c, "--config", str(config), "--proxy-mode", "userspace"):
        c.kubectl("apply", "-f", "-", input=MANIFESTS)
        c.run_pod("client", "worker-1", "sleep", "3600", image="busybox")
        c.run_pod("echo-udp", "worker-2", "python3", "-c", UDP_PEER_ECHO)
        c.run_pod("udp-client", "worker-1", "python3", "-c", "import time; time.sleep(3600)")
        wait_until(lambda: len(ready_endpoints(c, "frontend")) == 2, timeout=60, what="two ready frontend endpoints")
        yield c


def ready_endpoints(cluster: KinnCluster, service: str) -> list[str]:
    slices = json.loads(cluster.kubectl("get", "endpointslices", "-l", f"kubernetes.io/service-name={service}",
                                        "-o", "json"))["items"]
    return [address for s in slices for ep in s.get("endpoints") or ()
            if (ep.get("conditions") or {}).get("ready") for address in ep["addresses"]]


def cluster_ip(cluster: KinnCluster, service: str) -> str:
    return cluster.kubectl("get", "service", service, "-o", "jsonpath={.spec.clusterIP}")


def wget(cluster: KinnCluster, url: str) -> subprocess.CompletedProcess[str]:
    """busybox wget in the client pod (no -T: Debian's busybox-static wget segfaults with it)."""
    return subprocess.run(["kubectl", "exec", "client", "--", "wget", "-qO-", url], capture_output=True, text=True,
                          env=cluster.env, timeout=30)


def served(cluster: KinnCluster, url: str) -> str:
    return wait_until(lambda: (r := wget(cluster, url)).returncode == 0 and r.stdout, timeout=30,
                      what=f"an answer from {url}")


def access_log(cluster: KinnCluster) -> dict[str, list[str]]:
    """Each frontend pod's nginx access log lines (`<client> - - [<time>] "GET …`; error lines differ)."""
    pods = json.loads(cluster.kubectl("get", "pods", "-l", "name=frontend", "-o", "json"))["items"]
    return {p["metadata"]["name"]: [line for line in cluster.kubectl("logs", p["metadata"]["name"]).splitlines()
                                    if ACCESS_LINE.match(line)] for p in pods}


def nat_table_with(cluster: KinnCluster, text: str) -> str:
    """worker-1's `iptables-save -t nat` once it contains `text` (the proxy syncs within a second)."""
    def saved() -> str | None:
        table = cluster.node_exec("worker-1", "iptables-save", "-t", "nat")
        return table if text in table else None
    return wait_until(saved, what=f"{text} in worker-1's nat table")


def portal_rule(saved: str, chain: str, service: str) -> re.Match[str]:
    match = re.search(rf"^-A {chain} .*--comment \"?{re.escape(service)}\"? .*$", saved, re.MULTILINE)
    assert match, f"no {chain} rule for {service} in:\n{saved}"
    return match


def test_portal_rules_point_at_the_proxy_listener(cluster: KinnCluster) -> None:
    vip = cluster_ip(cluster, "frontend")
    saved = nat_table_with(cluster, "default/frontend:")
    redirect = portal_rule(saved, "KUBE-PORTALS-CONTAINER", "default/frontend:").group(0)
    proxy_port = re.fullmatch(rf"-A KUBE-PORTALS-CONTAINER -d {vip}/32 -p tcp -m comment --comment "
                              r"\"default/frontend:\" -m tcp --dport 80 -j REDIRECT --to-ports (\d+)", redirect)
    assert proxy_port, redirect
    port = proxy_port.group(1)
    assert portal_rule(saved, "KUBE-PORTALS-HOST", "default/frontend:").group(0) == \
        f'-A KUBE-PORTALS-HOST -d {vip}/32 -p tcp -m comment --comment "default/frontend:" -m tcp --dport 80 ' \
        f"-j DNAT --to-destination {WORKER_1_IP}:{port}"
    assert portal_rule(saved, "KUBE-NODEPORT-CONTAINER", "default/frontend:").group(0) == \
        f'-A KUBE-NODEPORT-CONTAINER -p tcp -m comment --comment "default/frontend:" -m tcp --dport {NODE_PORT} ' \
        f"-j REDIRECT --to-ports {port}"
    assert '-A PREROUTING -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" ' \
           "-j KUBE-PORTALS-CONTAINER" in saved
    listening = cluster.node_exec("worker-1", "ss", "-Hltn")
    assert f"0.0.0.0:{port} " in listening and f"0.0.0.0:{NODE_PORT} " in listening  # the proxy and the claim
    assert "KUBE-SVC-" not in saved and "KUBE-SERVICES" not in saved  # nothing of the iptables mode


def test_backends_see_the_node_not_the_pod_and_take_turns(cluster: KinnCluster) -> None:
    """Seed 000's point: the proxy opens a second connection, so nginx logs worker-1's IP."""
    vip = cluster_ip(cluster, "frontend")
    client_ip = cluster.pod("client")["status"]["podIP"]

    def both_backends_reached() -> bool:
        assert "Welcome to nginx!" in served(cluster, f"http://{vip}/")
        logs = access_log(cluster)
        return all(any(line.startswith(f"{WORKER_1_IP} ") for line in lines) for lines in logs.values())
    wait_until(both_backends_reached, timeout=30, what="both frontend replicas to answer through the ClusterIP")
    assert not any(line.startswith(f"{client_ip} ") for lines in access_log(cluster).values() for line in lines)


def test_tcpdump_on_the_node_shows_node_ip_to_pod_ip(cluster: KinnCluster) -> None:
    """Seed 000's two captures: the pod talks to the service IP, eth0 carries node IP → pod IP."""
    vip = cluster_ip(cluster, "frontend")
    served(cluster, f"http://{vip}/")  # the path is up before the captures start
    client_ip = cluster.pod("client")["status"]["podIP"]
    with capture(cluster, "worker-1", "eth0", "tcp port 80") as wire, \
            capture(cluster, "worker-1", pod_veth(cluster, "client", "worker-1"), f"host {vip}") as pod_side:
        served(cluster, f"http://{vip}/")
    # worker-2's pods, wherever node IPAM put its /24 (nodes register in no fixed order)
    backend = "|".join(re.escape(ip) for ip in ready_endpoints(cluster, "frontend"))
    assert re.match(rf"\S+ IP {WORKER_1_IP}\.\d+ > (?:{backend})\.80: tcp 0$", wire[0]), wire
    assert re.match(rf"\S+ IP (?:{backend})\.80 > {WORKER_1_IP}\.\d+: tcp 0$", wire[1]), wire
    assert re.match(rf"\S+ IP {client_ip}\.\d+ > {vip}\.80: tcp 0$", pod_side[0]), pod_side
    assert re.match(rf"\S+ IP {vip}\.80 > {client_ip}\.\d+: tcp 0$", pod_side[1]), pod_side


def pod_veth(cluster: KinnCluster, pod: str, node: str) -> str:
    """The node's end of the pod's eth0 (`eth0@ifN`: N is the veth's ifindex): the seed captures there,
    before br_netfilter's PREROUTING has redirected the packet on its way through the bridge. (Asked
    over netlink: a kinn pod's /sys is still its node's.)"""
    peer = re.search(r"eth0@if(\d+)", cluster.kubectl("exec", pod, "--", "ip", "-o", "link", "show", "eth0"))
    assert peer, "no eth0@ifN in the pod"
    ifindex = peer.group(1)
    links = cluster.node_exec(node, "ip", "-o", "link", "show")
    match = re.search(rf"^{ifindex}: ([^:@]+)[@:]", links, re.MULTILINE)
    assert match, links
    return match.group(1)


class capture:
    """`tcpdump -nn -q -c 3` in a node, started before the block and read after it: its first lines."""

    def __init__(self, cluster: KinnCluster, node: str, interface: str, expression: str) -> None:
        argv = [sys.executable, "-m", "kinn", "node", "exec", "--name", cluster.name, node, "--",
                "tcpdump", "-nn", "-q", "-l", "-i", interface, "-c", "3", expression]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env=cluster.env, start_new_session=True)

    def __enter__(self) -> list[str]:
        assert self.process.stderr
        for line in self.process.stderr:  # "listening on eth0, …" once the capture is armed
            if line.startswith("listening on"):
                break
        self.lines: list[str] = []
        return self.lines

    def __exit__(self, *exc: object) -> None:
        try:
            out, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the session this test started, by its id
            out, err = self.process.communicate()
            raise AssertionError(f"{' '.join(self.process.args[-7:])}: fewer than 3 packets in 20 s:\n{out}{err}")
        self.lines.extend(out.splitlines())


def test_node_port_from_a_pod_the_node_and_outside(cluster: KinnCluster) -> None:
    assert "Welcome to nginx!" in served(cluster, f"http://{WORKER_2_IP}:{NODE_PORT}/")
    assert "Welcome to nginx!" in cluster.node_exec("worker-1", "wget", "-qO-", f"http://{WORKER_1_IP}:{NODE_PORT}/")
    outside = cluster.kinn("client", "exec", "--name", cluster.name, "--", "wget", "-qO-",
                           f"http://{WORKER_2_IP}:{NODE_PORT}/").stdout
    assert "Welcome to nginx!" in outside


def test_cluster_ip_from_the_node_itself(cluster: KinnCluster) -> None:
    """KUBE-PORTALS-HOST: the node's own traffic is DNATed to <node IP>:<proxy port>."""
    vip = cluster_ip(cluster, "frontend")
    assert "Welcome to nginx!" in cluster.node_exec("worker-1", "wget", "-qO-", f"http://{vip}/")


def test_client_ip_affinity_keeps_one_backend(cluster: KinnCluster) -> None:
    vip = cluster_ip(cluster, "sticky")
    served(cluster, f"http://{vip}/")
    for i in range(4):
        wget(cluster, f"http://{vip}/sticky-{i}")  # 404s, but logged with their path
    hits = {pod: sum("/sticky-" in line for line in lines) for pod, lines in access_log(cluster).items()}
    assert sorted(hits.values()) == [0, 4], hits


def test_service_without_endpoints_closes_the_connection_at_once(cluster: KinnCluster) -> None:
    vip = cluster_ip(cluster, "nobody")
    nat_table_with(cluster, "default/nobody:")
    started = time.monotonic()
    result = wget(cluster, f"http://{vip}/")
    assert result.returncode != 0 and "error getting response" in result.stderr, result
    assert time.monotonic() - started < 5  # accepted and closed, not a connect timeout


def test_udp_replies_come_back_from_the_service_address(cluster: KinnCluster) -> None:
    vip = cluster_ip(cluster, "echo-udp")
    script = textwrap.dedent(f"""
        import socket
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(2)
        sock.sendto(b"who am i", ("{vip}", 53))
        data, sender = sock.recvfrom(512)
        print(data.decode(), *sender)
    """)

    def answer() -> str | None:
        result = subprocess.run(["kubectl", "exec", "udp-client", "--", "python3", "-c", script],
                                capture_output=True, text=True, env=cluster.env, timeout=30)
        return result.stdout.strip() if result.returncode == 0 else None
    assert wait_until(answer, timeout=30, what="a UDP answer through the ClusterIP") == f"{WORKER_1_IP} {vip} 53"


def test_cluster_dns_answers_through_the_udp_proxy(cluster: KinnCluster) -> None:
    """The kube-dns Service is proxied too: a pod's query to 10.96.0.10:53 crosses the UDP proxy."""
    vip = cluster_ip(cluster, "frontend")

    def answer() -> str | None:
        out = subprocess.run(["kubectl", "exec", "client", "--", "nslookup", "frontend.default.svc.cluster.local"],
                             capture_output=True, text=True, env=cluster.env, timeout=30).stdout
        return out if vip in out else None
    assert f"Address: {vip}" in wait_until(answer, timeout=30, what="the frontend's address from cluster DNS")
