"""`kinn trace` on a real cluster (iptables kube-proxy, flannel VXLAN): a client pod on worker-1, a
Service whose only pod runs on worker-2. The trace must name every rule that matched as the node's
iptables-save has it, show the VXLAN packet between the two node IPs and the reply's un-NAT, name
the REJECT rule of a Service without endpoints, and leave no table or process behind."""

from __future__ import annotations

import json
import re
import uuid
from typing import Iterator

import pytest

from kinn_cluster import KinnCluster, kinn_up
from kubectl_output import wait_until
from trace_workload import trace, with_pods

pytestmark = pytest.mark.e2e

@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinnCluster]:
    home = tmp_path_factory.mktemp("kinn-home")
    c = KinnCluster(f"ktr{uuid.uuid4().hex[:5]}", home, home / "kubeconfig")
    with kinn_up(c, "--workers", "2"):
        with_pods(c)
        wait_until(lambda: "10.244" in c.node_exec("worker-1", "iptables-save", "-t", "nat"), timeout=30,
                   what="the web Service's endpoint in worker-1's rules")
        yield c


def web_ready(cluster: KinnCluster) -> str:
    """The trace once the Service answers (its endpoint may reach kube-proxy just after the pod runs)."""
    return wait_until(lambda: (out := trace(cluster, "pod/client", "svc/web")).splitlines()[0].endswith("connected")
                      and out, timeout=30, what="a connected trace to svc/web")


def test_trace_names_every_rule_as_installed(cluster: KinnCluster) -> None:
    out = web_ready(cluster)
    web_ip = cluster.pod("web")["status"]["podIP"]
    installed = cluster.node_exec("worker-1", "iptables-save", "-t", "nat").splitlines()
    request = out.split("\n← reply")[0]
    nat = request.split("nat PREROUTING (iif cni0)")[1].split("route:")[0]
    rules = [line.strip().rsplit("  [", 1)[0] for line in nat.splitlines() if line.strip().startswith("-A ")]
    assert [rule.split()[1] for rule in rules][:2] == ["PREROUTING", "KUBE-SERVICES"], out
    svc_chain, sep_chain = rules[2].split()[1], rules[3].split()[1]
    assert svc_chain.startswith("KUBE-SVC-") and sep_chain.startswith("KUBE-SEP-"), out
    assert f"-j DNAT --to-destination {web_ip}:8080" in rules[3], out
    for rule in rules:  # every rule the trace names is one the node has
        assert rule in installed, f"{rule!r} not in worker-1's iptables-save"
    assert f"-j {svc_chain}" in rules[1] and f"-j {sep_chain}" in rules[2]
    assert "VXLAN encapsulation: outer 10.240.0.21 → 10.240.0.22 udp 8472 vni 1" in request, out
    assert "decapsulated from VXLAN on flannel.1" in request
    assert f"via {web_ip.rsplit('.', 1)[0]}.0 dev flannel.1" in request  # worker-2's flannel.1 (its /24's .0)
    assert "delivered to pod default/web on eth0" in request
    service_ip = cluster.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
    reply = out.split("\n← reply")[1]
    assert f"conntrack un-NAT: source {web_ip}:8080 rewritten back to {service_ip}:80" in reply, out
    assert re.search(rf"prerouting in on eth0: tcp {re.escape(service_ip)}:80 → ", reply), out
    assert "VXLAN encapsulation: outer 10.240.0.22 → 10.240.0.21" in reply, out


def test_trace_to_service_without_endpoints_names_the_reject(cluster: KinnCluster) -> None:
    out = trace(cluster, "pod/client", "svc/empty")
    assert out.splitlines()[0].endswith("connection refused"), out
    rejected = next(line.strip() for line in out.splitlines() if line.strip().startswith("REJECTED"))
    rule = rejected.split(" by ", 1)[1]
    assert '"default/empty has no endpoints"' in rule and "-j REJECT --reject-with icmp-port-unreachable" in rule
    assert rule in cluster.node_exec("worker-1", "iptables-save", "-t", "filter").splitlines()
    assert "destination-unreachable" in out.split("\n← reply")[1]


def test_trace_json_and_nothing_left_behind(cluster: KinnCluster) -> None:
    web_ready(cluster)
    document = json.loads(trace(cluster, "pod/client", "svc/web", "--json"))
    assert document["probe"]["ok"] and document["destination"]["port"] == 80
    places = [hop["place"] for hop in document["request"]]
    assert places == ["pod default/client", "node worker-1", "node worker-2", "pod default/web"]
    steps = [step for hop in document["request"] for step in hop["steps"]]
    assert any(hit["rule"].endswith(":8080") and "DNAT" in hit["rule"] for step in steps for hit in step["rules"])
    assert document["conntrack"]["node worker-1"][0]["reply"]["src"] == cluster.pod("web")["status"]["podIP"]
    for node in ("control-plane", "worker-1", "worker-2"):
        assert "kinn-trace" not in cluster.node_exec(node, "nft", "list", "tables")
    left = cluster.node_exec("worker-1", "sh", "-c", "ps -eo args | grep -E '^(nft -a monitor|conntrack -E|tcpdump -i eth0)' || true")
    assert left == ""


LOAD_BALANCER = """
apiVersion: v1
kind: Service
metadata: {name: web-lb}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 8080, targetPort: 8080}]}
"""


def test_trace_from_outside_through_a_nodeport_and_a_load_balancer(cluster: KinnCluster) -> None:
    """Seed 003's NodePort and seed 002's external traffic: the client reaches the Service through
    worker-1, which runs no backend: DNAT and masquerade there, VXLAN to worker-2, the pod; both
    entry points are found from the node or address and port alone."""
    cluster.kubectl("apply", "-f", "-", input=LOAD_BALANCER)
    service = wait_until(lambda: (svc := json.loads(cluster.kubectl("get", "svc", "web-lb", "-o", "json")))
                         ["status"].get("loadBalancer", {}).get("ingress") and svc, timeout=30,
                         what="web-lb's LoadBalancer IP")
    node_port, lb_ip = service["spec"]["ports"][0]["nodePort"], service["status"]["loadBalancer"]["ingress"][0]["ip"]
    out = wait_until(lambda: (o := trace(cluster, "client", "node/worker-1", "--port", str(node_port)))
                     .splitlines()[0].endswith("connected") and o, timeout=30, what="a connected trace to the NodePort")
    assert out.startswith(f"tcp probe from client 10.240.0.254 to service default/web-lb's NodePort on node worker-1 "
                          f"10.240.0.21:{node_port}: connected"), out
    request, reply = out.split("\n← reply")
    worker1 = request.split("  node worker-1\n")[1].split("  node worker-2\n")[0]
    web_ip = cluster.pod("web")["status"]["podIP"]
    assert "filter FORWARD (iif eth0 oif flannel.1): tcp 10.240.0.254:" in worker1, out
    masquerade = next(line.strip().rsplit("  [", 1)[0] for line in worker1.splitlines() if "-j MASQUERADE" in line)
    assert masquerade in cluster.node_exec("worker-1", "iptables-save", "-t", "nat").splitlines()
    assert re.search(rf"VXLAN encapsulation: outer 10.240.0.21 → 10.240.0.22 udp 8472 vni 1 \(inner 10.244.\d+.0:\d+ → "
                     rf"{re.escape(web_ip)}:8080\)", worker1), out
    assert "delivered to pod default/web on eth0" in request, out
    assert "conntrack un-NAT:" in reply and reply.rstrip().endswith("delivered to client on eth0"), out
    balanced = trace(cluster, "client", "svc/web-lb")
    assert balanced.startswith(f"tcp probe from client 10.240.0.254 to service default/web-lb at {lb_ip}:8080: "
                               "connected"), balanced
    assert "delivered to pod default/web on eth0" in balanced.split("\n← reply")[0], balanced


def test_trace_says_what_it_cannot_follow(cluster: KinnCluster) -> None:
    """A name that does not exist, a cluster IP the client cannot reach: an error or a path that
    says where the packet went, never a traceback."""
    missing = cluster.kinn("trace", "--name", cluster.name, "pod/nosuch", "svc/web", check=False)
    assert (missing.returncode, missing.stderr) == (2, 'Error: pods "nosuch" not found\n'), missing.stderr
    outside = cluster.kinn("trace", "--name", cluster.name, "client", "svc/web", check=False)
    assert outside.returncode == 2 and "answers inside the cluster only" in outside.stderr, outside.stderr
    service_ip = cluster.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
    out = trace(cluster, "client", service_ip, "--port", "80")
    assert out.splitlines()[0].endswith("network is unreachable"), out
    assert "left client on eth0; no netns kinn traces saw it arrive" in out.split("\n← reply")[0], out


def test_trace_icmp_from_node_to_pod(cluster: KinnCluster) -> None:
    web_ip = cluster.pod("web")["status"]["podIP"]
    out = trace(cluster, "node/worker-1", web_ip, "--proto", "icmp")
    assert out.splitlines()[0].endswith("echo reply"), out
    assert "VXLAN encapsulation: outer 10.240.0.21 → 10.240.0.22 udp 8472 vni 1" in out
    assert "delivered to pod default/web on eth0" in out and "delivered to node worker-1 on flannel.1" in out


def test_trace_udp_to_cluster_dns_at_its_cluster_ip(cluster: KinnCluster) -> None:
    """A UDP probe to port 53 is a DNS query, so cluster DNS answers it (a datagram that is not one was
    dropped: "no answer"); a cluster IP given as an address is its Service, so the trace follows the
    probe into kube-dns's pod in another namespace (it stopped at the node, not knowing the pod)."""
    cluster.kubectl("wait", "-n", "kube-system", "--for=condition=Ready", "pod", "-l", "k8s-app=kube-dns",
                    "--timeout=60s")
    out = wait_until(lambda: (o := trace(cluster, "pod/client", "10.96.0.10", "--port", "53"))
                     .splitlines()[0].endswith("answered") and o, timeout=30, what="an answered DNS probe")
    client_ip = cluster.pod("client")["status"]["podIP"]
    assert out.startswith(f"udp probe from pod default/client {client_ip} to service kube-system/kube-dns "
                          "10.96.0.10:53: answered"), out
    request, reply = out.split("\n← reply")
    assert '--comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-' in request, out
    assert "delivered to pod kube-system/kube-dns-" in request, out
    dns_ip = re.search(r"DNAT --to-destination (\S+):53", request)
    assert dns_ip and f"conntrack un-NAT: source {dns_ip[1]}:53 rewritten back to 10.96.0.10:53" in reply, out
    assert reply.rstrip().endswith("delivered to pod default/client on eth0"), out


def test_trace_of_a_pod_reaching_itself_through_its_service(cluster: KinnCluster) -> None:
    """The hairpin: web is svc/web's only pod. Its packet goes to worker-2, whose KUBE-SEP rule
    masquerades it (the pod would otherwise answer itself directly) and sends it back to the pod,
    so the path ends in the pod it started from, not in the node."""
    web_ready(cluster)
    out = trace(cluster, "pod/web", "svc/web")
    assert out.splitlines()[0].endswith("connected"), out
    gateway = cluster.pod("web")["status"]["podIP"].rsplit(".", 1)[0] + ".1"  # worker-2's cni0
    for way in out.split("\n← reply"):
        places = [line.strip() for line in way.splitlines() if re.match(r"  \S", line)]
        assert places == ["pod default/web (on worker-2)", "node worker-2", "pod default/web (on worker-2)"], out
        assert way.rstrip().endswith("delivered to pod default/web on eth0"), out
    request = out.split("\n← reply")[0]
    assert f"SNAT to {gateway}:" in request and f"prerouting in on eth0: tcp {gateway}:" in request, out


def test_trace_icmp_to_a_service_follows_the_echo_whether_or_not_it_is_answered(cluster: KinnCluster) -> None:
    """An echo request has no port. The trace once looked for one (the Service's, and the raw socket's
    protocol number as the source port) and saw neither the request nor the reply of an ICMP probe to a
    Service, answered or not."""
    cluster.kubectl("apply", "-f", "-", input=LOAD_BALANCER)
    lb_ip = wait_until(lambda: (ingress := json.loads(cluster.kubectl("get", "svc", "web-lb", "-o", "json"))
                                ["status"].get("loadBalancer", {}).get("ingress")) and ingress[0]["ip"],
                       timeout=30, what="web-lb's LoadBalancer IP")
    answered = wait_until(lambda: (o := trace(cluster, "client", "svc/web-lb", "--proto", "icmp"))
                          .splitlines()[0].endswith("echo reply") and o, timeout=30, what="an answered ping")
    assert answered.startswith(f"icmp probe from client 10.240.0.254 to service default/web-lb at {lb_ip}: "), answered
    request, reply = answered.split("\n← reply")
    assert f"→ request: icmp 10.240.0.254 → {lb_ip} echo-request" in request, answered
    assert "delivered to node worker-" in request, answered
    assert reply.startswith(f": icmp {lb_ip} → 10.240.0.254 echo-reply"), answered
    assert reply.rstrip().endswith("delivered to client on eth0"), answered
    service_ip = cluster.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
    client_ip = cluster.pod("client")["status"]["podIP"]
    unanswered = trace(cluster, "pod/client", "svc/web", "--proto", "icmp")  # a cluster IP answers no ping
    assert unanswered.startswith(f"icmp probe from pod default/client {client_ip} to service default/web {service_ip}: "
                                 "timed out"), unanswered
    assert f"→ request: icmp {client_ip} → {service_ip} echo-request\n  pod default/client" in unanswered, unanswered


def test_trace_refuses_a_bad_port_and_a_namespace_in_a_name(cluster: KinnCluster) -> None:
    """Both were tracebacks or the API's bare 404 ("the server could not find the requested resource")."""
    port = cluster.kinn("trace", "--name", cluster.name, "pod/client", "10.244.1.1", "--port", "70000", check=False)
    assert port.returncode == 2 and "'--port': 70000 is not in the range 1<=x<=65535" in port.stderr, port.stderr
    named = cluster.kinn("trace", "--name", cluster.name, "pod/client", "svc/kube-system/kube-dns", check=False)
    assert (named.returncode, named.stderr) == (
        2, 'Error: "svc/kube-system/kube-dns": give the namespace with -n, as in -n kube-system svc/kube-dns '
           "(-n applies to FROM and TO alike: to trace across namespaces, give one end's IP, "
           "as `kubectl get svc,pods -A -o wide` shows it)\n")


HOST_NETWORK = """
apiVersion: v1
kind: Pod
metadata: {name: hostnet, labels: {app: hostnet}}
spec:
  hostNetwork: true
  nodeName: worker-2
  terminationGracePeriodSeconds: 1
  containers: [{name: main, image: python, command: [python3, -m, http.server, "8099"]}]
---
apiVersion: v1
kind: Service
metadata: {name: hostnet}
spec: {selector: {app: hostnet}, ports: [{port: 8099}]}
"""


def test_trace_to_a_service_whose_pod_uses_its_node_s_network(cluster: KinnCluster) -> None:
    """A hostNetwork pod's endpoint is its node's address, in the node's netns: the trace once looked for
    a pod netns holding it (`no pod network namespace on node worker-2 holds 10.240.0.22`)."""
    cluster.kubectl("apply", "-f", "-", input=HOST_NETWORK)
    cluster.kubectl("wait", "--for=condition=Ready", "pod/hostnet", "--timeout=60s")
    out = wait_until(lambda: (o := cluster.kinn("trace", "--name", cluster.name, "pod/client", "svc/hostnet",
                                                 check=False)).returncode == 0
                     and o.stdout.splitlines()[0].endswith("connected") and o.stdout, timeout=30,
                     what="a connected trace to svc/hostnet")
    request = out.split("\n← reply")[0]
    assert "conntrack NEW tcp original 10.244." in request and "(DNAT to 10.240.0.22:8099" in request, out
    assert request.rstrip().endswith("delivered to node worker-2 on eth0"), out
