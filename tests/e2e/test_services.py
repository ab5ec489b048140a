"""Services through kube-proxy's iptables mode in a real 3-node kinn cluster, checked as seeds 002
and 003 check them: the rules in `iptables-save`, the spread of real requests over the backends,
conntrack's DNAT entries, NodePorts through a node without a backend, source IPs under each
externalTrafficPolicy, REJECT without endpoints, session affinity, hairpin, UDP.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from typing import Iterator

import pytest
import yaml

from kinn_cluster import KinnCluster, kinn_up
from kubectl_output import wait_until

pytestmark = pytest.mark.e2e

# An HTTP server answering "<pod name> <client address>": who served, and whom it saw.
WHOAMI = textwrap.dedent("""
    import http.server, socket
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"{socket.gethostname()} {self.client_address[0]}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass
    http.server.ThreadingHTTPServer(("", 8080), Handler).serve_forever()
""")

# Run inside a client pod: N requests, each on a new connection; prints the answers as JSON.
REQUESTS = textwrap.dedent("""
    import json, sys, urllib.request
    url, n = sys.argv[1], int(sys.argv[2])
    print(json.dumps([urllib.request.urlopen(url, timeout=5).read().decode() for _ in range(n)]))
""")

# Kernel fixed-point renderings of 1/6 … 1/2, as seed 002's iptables-save shows them.
SEED_002_PROBABILITIES = ["0.16666666651", "0.20000000019", "0.25000000000", "0.33333333349", "0.50000000000"]
CHI_SQUARE_5_DOF_P001 = 20.52


def deployment(name: str, replicas: int, container: dict, node_selector: dict | None = None) -> dict:
    spec = {"terminationGracePeriodSeconds": 1, "containers": [container]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def whoami(name: str, replicas: int, node_selector: dict | None = None, **container: object) -> dict:
    return deployment(name, replicas, {"name": "whoami", "image": "python", "command": ["python3", "-c", WHOAMI],
                                       "ports": [{"name": "http", "containerPort": 8080}],
                                       "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                                       **container},
                      node_selector)


def service(name: str, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
                     **spec}}


def apply(cluster: KinnCluster, *objects: dict) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))


def ready_endpoints(cluster: KinnCluster, name: str, terminating: bool = False) -> list[str]:
    """The Service's ready endpoints; with `terminating`, also those of pods still shutting down
    (kube-proxy falls back to serving terminating endpoints when none is ready)."""
    slices = json.loads(cluster.kubectl("get", "endpointslices", "-l", f"kubernetes.io/service-name={name}",
                                        "-o", "json"))["items"]
    return sorted(ep["addresses"][0] for s in slices for ep in s.get("endpoints") or []
                  if terminating or ep.get("conditions", {}).get("ready"))


def wait_endpoints(cluster: KinnCluster, name: str, count: int, terminating: bool = False) -> list[str]:
    def endpoints() -> tuple[str, ...] | None:
        found = ready_endpoints(cluster, name, terminating)
        return (tuple(found),) if len(found) == count else None  # a 1-tuple: true even when empty
    return list(wait_until(endpoints, timeout=60, what=f"{count} endpoints of {name}")[0])


def nat_rules(cluster: KinnCluster, node: str) -> str:
    return cluster.node_exec(node, "iptables-save", "-t", "nat")


def svc_chain(cluster: KinnCluster, node: str, comment: str) -> str:
    """The KUBE-SVC chain KUBE-SERVICES sends `comment` ("ns/svc:port cluster IP") to."""
    match = re.search(rf'-A KUBE-SERVICES .*--comment "{re.escape(comment)}".* -j (KUBE-SVC-\w+)',
                      nat_rules(cluster, node))
    assert match, f"no KUBE-SERVICES rule for {comment}"
    return match.group(1)


def requests_from(cluster: KinnCluster, client: str, url: str, n: int) -> list[str]:
    return json.loads(cluster.kubectl("exec", client, "--", "python3", "-c", REQUESTS, url, str(n)))


def cluster_ip(cluster: KinnCluster, name: str) -> str:
    return json.loads(cluster.kubectl("get", "svc", name, "-o", "json"))["spec"]["clusterIP"]


def node_port(cluster: KinnCluster, name: str) -> int:
    return json.loads(cluster.kubectl("get", "svc", name, "-o", "json"))["spec"]["ports"][0]["nodePort"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinnCluster]:
    home = tmp_path_factory.mktemp("kinn-home")
    c = KinnCluster(f"ks{uuid.uuid4().hex[:6]}", home, home / "kubeconfig")
    with kinn_up(c, "--workers", "2"):
        for node in ("worker-1", "worker-2"):
            c.run_pod(f"client-{node}", node, "sleep", "3600")
        yield c


def test_six_backends_get_seed_002_probabilities_and_an_even_share(cluster: KinnCluster) -> None:
    """Seed 002: KUBE-SVC's statistic rules are 1/6, 1/5 … 1/2 (as the kernel prints them), and
    requests from pods on both workers spread over all six backends (chi-square, p = 0.001)."""
    apply(cluster, whoami("six", 6), service("six"))
    wait_endpoints(cluster, "six", 6)
    chain = wait_until(lambda: svc_chain(cluster, "worker-1", "default/six:http cluster IP"), timeout=5,
                       what="the service's rules")
    rules = [line for line in nat_rules(cluster, "worker-1").splitlines() if line.startswith(f"-A {chain} ")]
    assert re.findall(r"--probability (\S+)", "\n".join(rules)) == SEED_002_PROBABILITIES
    assert sum("-j KUBE-SEP-" in rule for rule in rules) == 6
    url = f"http://{cluster_ip(cluster, 'six')}/"
    answers = requests_from(cluster, "client-worker-1", url, 300) + requests_from(cluster, "client-worker-2", url, 300)
    served = Counter(answer.split()[0] for answer in answers)
    assert len(served) == 6, served
    chi_square = sum((count - 100) ** 2 / 100 for count in served.values())
    assert chi_square < CHI_SQUARE_5_DOF_P001, served
    # conntrack on the client's node: the DNAT to a backend and the reply tuple from it (seed 003).
    flows = cluster.node_exec("worker-1", "conntrack", "-L", "-p", "tcp", "-d", url[7:-1])
    client_ip = cluster.pod("client-worker-1")["status"]["podIP"]
    assert re.search(rf"src={client_ip} dst={url[7:-1]} sport=\d+ dport=80 src=10\.244\.\d+\.\d+ dst={client_ip} "
                     r"sport=8080", flows), flows


def test_node_port_through_a_node_without_a_backend(cluster: KinnCluster) -> None:
    """Seed 003: a NodePort answered via worker-1 while the only backend runs on worker-2; worker-1
    DNATs to the pod and masquerades (KUBE-MARK-MASQ), so the backend sees worker-1's side."""
    apply(cluster, whoami("np", 1, {"kubernetes.io/hostname": "worker-2"}), service("np", type="NodePort"))
    wait_endpoints(cluster, "np", 1)
    port = node_port(cluster, "np")
    answer = wait_until(lambda: cluster.node_exec("control-plane", "wget", "-qO-", f"http://10.240.0.21:{port}/"),
                        timeout=10, what="an answer through worker-1's NodePort")
    assert answer.startswith("np-")
    assert not answer.split()[1].startswith("10.240.0.10")  # masqueraded: not the client's own address
    pod_ip = ready_endpoints(cluster, "np")[0]
    # Masqueraded out of flannel.1, whose address is worker-1's pod subnet's network address.
    flannel_ip = json.loads(cluster.kubectl("get", "node", "worker-1", "-o", "json"))["spec"]["podCIDR"].split("/")[0]
    flows = cluster.node_exec("worker-1", "conntrack", "-L", "-p", "tcp", "--dport", str(port))
    assert re.search(rf"src=10\.240\.0\.10 dst=10\.240\.0\.21 sport=\d+ dport={port} src={pod_ip} "
                     rf"dst={flannel_ip} sport=8080", flows), flows
    flows = cluster.node_exec("worker-2", "conntrack", "-L", "-p", "tcp", "-d", pod_ip)
    assert f"src={flannel_ip} dst={pod_ip}" in flows  # worker-2 sees worker-1's flannel.1 address


def test_external_traffic_policy_local_keeps_the_client_ip_and_drops_elsewhere(cluster: KinnCluster) -> None:
    apply(cluster, whoami("loc", 1, {"kubernetes.io/hostname": "worker-2"}),
          service("loc", type="NodePort", externalTrafficPolicy="Local"))
    wait_endpoints(cluster, "loc", 1)
    port = node_port(cluster, "loc")
    answer = wait_until(lambda: cluster.node_exec("control-plane", "wget", "-qO-", f"http://10.240.0.22:{port}/"),
                        timeout=10, what="an answer through worker-2's NodePort")
    assert answer.split()[1] == "10.240.0.10"  # the client's own address: no SNAT under Local
    assert "has no local endpoints" in cluster.node_exec("worker-1", "iptables-save", "-t", "filter")
    dropped = cluster.kinn("node", "exec", "--name", cluster.name, "control-plane", "--",
                           "timeout", "3", "wget", "-qO-", f"http://10.240.0.21:{port}/", check=False)
    assert dropped.returncode != 0 and "refused" not in dropped.stderr  # DROP: no answer at all


def test_no_endpoints_is_refused_not_a_timeout(cluster: KinnCluster) -> None:
    apply(cluster, service("empty"))
    ip = cluster_ip(cluster, "empty")
    wait_until(lambda: '"default/empty:http has no endpoints"' in cluster.node_exec("worker-1", "iptables-save"),
               timeout=5, what="the REJECT rule")
    connect = ("import socket, time\nstarted = time.monotonic()\ntry:\n"
               f"    socket.create_connection(('{ip}', 80), 30)\nexcept ConnectionRefusedError:\n"
               "    print(time.monotonic() - started)")
    # The ICMP port-unreachable comes back within microseconds, while connect() still holds the
    # socket, so Linux retries the SYN once (1 s) before it reports the refusal: not a timeout.
    assert float(cluster.kubectl("exec", "client-worker-1", "--", "python3", "-c", connect)) < 3


def rules_appear(cluster: KinnCluster, node: str, table: str, pattern: str, count: int = 1) -> subprocess.Popen[str]:
    """A poller inside `node` that prints the time (host clock) when `iptables-save -t table` first has
    `count` lines matching `pattern`: rule latency measured where the rules are, not through kubectl."""
    script = (f"while [ $(iptables-save -t {table} | grep -c -- '{pattern}') -lt {count} ]; do sleep 0.05; done; "
              "date +%s.%N")
    return subprocess.Popen([sys.executable, "-m", "kinn", "node", "exec", "--name", cluster.name, node, "--",
                             "timeout", "30", "sh", "-c", script], env=cluster.env, stdout=subprocess.PIPE, text=True)


def test_endpoint_changes_reach_the_rules_within_a_second(cluster: KinnCluster) -> None:
    apply(cluster, whoami("scale", 1), service("scale"))
    wait_endpoints(cluster, "scale", 1)
    poller = rules_appear(cluster, "worker-2", "nat", 'default/scale:http" -m tcp -j DNAT', 3)
    cluster.kubectl("scale", "deployment", "scale", "--replicas=3")
    endpoints = wait_endpoints(cluster, "scale", 3)
    seen = time.time()
    assert float(poller.communicate(timeout=40)[0]) - seen < 1.0
    poller = rules_appear(cluster, "worker-2", "filter", "default/scale:http has no endpoints")
    cluster.kubectl("scale", "deployment", "scale", "--replicas=0")
    wait_endpoints(cluster, "scale", 0, terminating=True)
    seen = time.time()
    assert float(poller.communicate(timeout=40)[0]) - seen < 1.0
    assert not any(f"{ip}:8080" in nat_rules(cluster, "worker-2") for ip in endpoints)  # stale chains gone


def test_session_affinity_keeps_a_client_on_one_backend(cluster: KinnCluster) -> None:
    apply(cluster, whoami("sticky", 3), service("sticky", sessionAffinity="ClientIP"))
    wait_endpoints(cluster, "sticky", 3)
    url = f"http://{cluster_ip(cluster, 'sticky')}/"
    wait_until(lambda: "--rcheck --seconds 10800 --reap" in nat_rules(cluster, "worker-1"), timeout=5,
               what="the affinity rules")
    served = {answer.split()[0] for answer in requests_from(cluster, "client-worker-1", url, 30)}
    assert len(served) == 1, served


def test_a_pod_reaches_itself_through_its_service(cluster: KinnCluster) -> None:
    """Hairpin: the only backend calls its own Service; KUBE-SEP's `-s <pod> -j KUBE-MARK-MASQ` makes
    the reply come back through the node, so the connection completes."""
    apply(cluster, whoami("hairpin", 1), service("hairpin"))
    pod_ip = wait_endpoints(cluster, "hairpin", 1)[0]
    pod = next(p["metadata"]["name"] for p in json.loads(cluster.kubectl("get", "pods", "-o", "json"))["items"]
               if p["status"].get("podIP") == pod_ip)
    url = f"http://{cluster_ip(cluster, 'hairpin')}/"
    answer = wait_until(lambda: requests_from(cluster, pod, url, 1)[0], timeout=10, what="an answer")
    assert answer.split()[0] == pod and answer.split()[1] != pod_ip  # masqueraded to the bridge's address


def test_udp_service_and_its_stale_conntrack_entries(cluster: KinnCluster) -> None:
    """A UDP Service answers; when its backend goes, the client's conntrack entry towards it is
    deleted (no 'sending into the void' until it times out)."""
    udp_echo = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('', 5353))\n"
                "while True:\n    data, peer = s.recvfrom(100); s.sendto(socket.gethostname().encode(), peer)")
    apply(cluster, deployment("udp", 1, {"name": "echo", "image": "python", "command": ["python3", "-c", udp_echo],
                                         "ports": [{"name": "dns", "containerPort": 5353, "protocol": "UDP"}]}),
          {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "udp"},
           "spec": {"selector": {"app": "udp"},
                    "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"}]}})
    backend = wait_endpoints(cluster, "udp", 1)[0]
    ip = cluster_ip(cluster, "udp")
    ask = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); "
           f"s.bind(('', 40053)); s.sendto(b'hi', ('{ip}', 53)); print(s.recvfrom(100)[0].decode())")
    answer = wait_until(lambda: cluster.kubectl("exec", "client-worker-1", "--", "python3", "-c", ask).strip(),
                        timeout=10, what="a UDP answer")
    assert answer.startswith("udp-")
    flows = cluster.node_exec("worker-1", "conntrack", "-L", "-p", "udp", "--dport", "53", "-d", ip)
    assert f"src={backend}" in flows
    cluster.kubectl("scale", "deployment", "udp", "--replicas=0")
    wait_until(lambda: f"src={backend}" not in cluster.node_exec("worker-1", "conntrack", "-L", "-p", "udp",
                                                                  "-d", ip),
               timeout=5, what="the stale UDP entry to be deleted")


def test_no_request_fails_during_a_rolling_update(cluster: KinnCluster) -> None:
    """Readiness gates new pods in; a terminating pod leaves the rules (its endpoint turns not-ready)
    while its preStop sleep keeps it serving what is already on the way — the recipe upstream
    documents — so a client hammering the Service through a rollout sees no error."""
    apply(cluster, whoami("rolling", 2, lifecycle={"preStop": {"exec": {"command": ["sleep", "2"]}}}),
          service("rolling"))
    wait_endpoints(cluster, "rolling", 2)
    before = set(ready_endpoints(cluster, "rolling"))
    url = f"http://{cluster_ip(cluster, 'rolling')}/"
    # The client hammers until told the rollout is over (a file in its pod), at most 50 s.
    stop = f"/tmp/rollout-done-{uuid.uuid4().hex[:8]}"
    hammer = ("import os, sys, time, urllib.request\nok = failed = 0\nend = time.monotonic() + 50\n"
              "while time.monotonic() < end and not os.path.exists(sys.argv[2]):\n    try:\n"
              "        urllib.request.urlopen(sys.argv[1], timeout=5).read()\n        ok += 1\n"
              "    except Exception as error:\n        failed += 1\n        print(error)\nprint(ok, failed)")
    client = subprocess.Popen(["kubectl", "exec", "client-worker-1", "--", "python3", "-c", hammer, url, stop],
                              env=cluster.env, stdout=subprocess.PIPE, text=True)
    time.sleep(2)
    cluster.kubectl("rollout", "restart", "deployment/rolling")
    status = subprocess.run(["kubectl", "rollout", "status", "deployment/rolling", "--timeout=50s"], env=cluster.env,
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, (status.stderr, cluster.kubectl("get", "pods", "-o", "wide"),
                                    cluster.kubectl("get", "events", "--sort-by=.lastTimestamp"))
    time.sleep(3)  # keep the load on past the old pods' preStop (2 s): requests still on their way must not fail
    cluster.kubectl("exec", "client-worker-1", "--", "touch", stop)
    out = client.communicate(timeout=60)[0].splitlines()
    ok, failed = map(int, out[-1].split())
    assert failed == 0, out
    assert ok > 100 and not before & set(ready_endpoints(cluster, "rolling"))  # all pods replaced meanwhile


def test_the_api_server_proxies_to_a_service_and_to_a_pod(cluster: KinnCluster) -> None:
    """services/proxy and pods/proxy (`kubectl proxy`'s URLs): the API server dials a ready endpoint
    or the pod from the cluster's network; a port without a server, or none, is a 503 Status."""
    apply(cluster, whoami("proxied", 2), service("proxied"))
    pod_ips = wait_endpoints(cluster, "proxied", 2)
    pods = {p["status"].get("podIP"): p["metadata"]["name"]
            for p in json.loads(cluster.kubectl("get", "pods", "-l", "app=proxied", "-o", "json"))["items"]}
    base = "/api/v1/namespaces/default"
    served = {cluster.kubectl("get", "--raw", f"{base}/services/proxied:{port}/proxy/").split()[0]
              for port in ("http", "80", "http", "80", "http", "80")}  # by port name and by number
    assert served <= {pods[ip] for ip in pod_ips} and served, served
    pod = pods[pod_ips[0]]
    assert cluster.kubectl("get", "--raw", f"{base}/pods/{pod}/proxy/some/path?x=1").split()[0] == pod  # port 8080
    refused = subprocess.run(["kubectl", "get", "--raw", f"{base}/pods/{pod}:81/proxy/"], env=cluster.env,
                             capture_output=True, text=True)
    assert refused.stderr.strip() == ("Error from server (ServiceUnavailable): error trying to reach service: "
                                      f"dial tcp {pod_ips[0]}:81: connect: connection refused"), refused.stderr
    missing = subprocess.run(["kubectl", "get", "--raw", f"{base}/services/proxied:99/proxy/"], env=cluster.env,
                             capture_output=True, text=True)
    assert 'no service port 99 found for service "proxied"' in missing.stderr, missing.stderr


def test_a_host_network_pod_serves_on_its_nodes_ip(cluster: KinnCluster) -> None:
    """hostNetwork: the pod is in worker-1's own network namespace (its interfaces, its hostname),
    its IP is the node's, and a Service sends pods on another node to it there."""
    host_pod = whoami("hostnet", 1, {"kubernetes.io/hostname": "worker-1"}, ports=[{"containerPort": 18080}],
                      command=["python3", "-c", WHOAMI.replace("8080", "18080")],
                      readinessProbe={"tcpSocket": {"port": 18080}, "periodSeconds": 1})
    host_pod["spec"]["template"]["spec"]["hostNetwork"] = True
    apply(cluster, host_pod, service("hostnet", ports=[{"port": 80, "targetPort": 18080}]))
    assert wait_endpoints(cluster, "hostnet", 1) == ["10.240.0.21"]
    pod = json.loads(cluster.kubectl("get", "pods", "-l", "app=hostnet", "-o", "json"))["items"][0]
    name = pod["metadata"]["name"]
    assert pod["status"]["podIP"] == pod["status"]["hostIP"] == "10.240.0.21"
    assert cluster.kubectl("exec", name, "--", "hostname").strip() == "worker-1"
    interfaces = cluster.kubectl("exec", name, "--", "python3", "-c", "import os; print(*os.listdir('/sys/class/net'))")
    assert {"eth0", "cni0", "flannel.1"} <= set(interfaces.split())  # the node's own
    wait_until(lambda: "--to-destination 10.240.0.21:18080" in nat_rules(cluster, "worker-2"), timeout=5,
               what="worker-2's rules for the endpoint")
    answer = requests_from(cluster, "client-worker-2", f"http://{cluster_ip(cluster, 'hostnet')}/", 1)[0]
    assert answer.split()[0] == "worker-1"  # the served name is the node's hostname
