"""`kinn explain` and `kinn topology` on a real cluster, checked against what the nodes' kernels hold.

One 3-node cluster (VXLAN, iptables kube-proxy) runs a Deployment, one pod per worker, behind
a NodePort Service and a client pod on worker-1. What the commands print is compared with
iptables-save, `ip link` and conntrack read separately inside the nodes.
"""

from __future__ import annotations

import json
import re
import struct
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from kinn_cluster import KinnCluster, kinn_up
from kubectl_output import wait_until

pytestmark = pytest.mark.e2e

WEB = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}},
                           "spec": {"terminationGracePeriodSeconds": 1,
                                    "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                                        {"topologyKey": "kubernetes.io/hostname",
                                         "labelSelector": {"matchLabels": {"app": "web"}}}]}},
                                    "containers": [{"name": "web", "image": "python",
                                                    "command": ["python3", "-m", "http.server", "8080"]}]}}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
     "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinnCluster]:
    home = tmp_path_factory.mktemp("kinn-home")
    c = KinnCluster(f"kx{uuid.uuid4().hex[:6]}", home, home / "kubeconfig")
    with kinn_up(c, "--workers", "2"):
        c.kubectl("apply", "-f", "-", input="\n---\n".join(yaml.safe_dump(doc) for doc in WEB))
        c.run_pod("client", "worker-1", "sleep", "3600")
        wait_until(lambda: len(ready_endpoints(c)) == 2, timeout=60, what="2 ready endpoints of web")
        yield c


def ready_endpoints(cluster: KinnCluster) -> set[str]:
    slices = json.loads(cluster.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "json"))
    return {ip for s in slices["items"] for e in s.get("endpoints") or [] if e["conditions"].get("ready")
            for ip in e["addresses"]}


def web_pods(cluster: KinnCluster) -> list[dict]:
    return json.loads(cluster.kubectl("get", "pods", "-l", "app=web", "-o", "json"))["items"]


def explain(cluster: KinnCluster, target: str) -> dict:
    return json.loads(cluster.kinn("explain", "--name", cluster.name, "-o", "json", target).stdout)


def test_explain_service_shows_endpoints_the_installed_rules_and_the_conntrack_entry(cluster: KinnCluster) -> None:
    service = json.loads(cluster.kubectl("get", "service", "web", "-o", "json"))
    cluster_ip = service["spec"]["clusterIP"]
    fetch = f"import urllib.request; print(urllib.request.urlopen('http://{cluster_ip}', timeout=5).status)"
    assert cluster.kubectl("exec", "client", "--", "python3", "-c", fetch).strip() == "200"

    result = explain(cluster, "svc/web")
    pods = {p["status"]["podIP"]: p for p in web_pods(cluster)}
    assert {p["spec"]["nodeName"] for p in pods.values()} == {"worker-1", "worker-2"}
    backends = result["detail"]["backends"]
    assert {(b["ip"], b["pod"], b["node"], b["ready"]) for b in backends} == \
        {(ip, f"default/{p['metadata']['name']}", p["spec"]["nodeName"], True) for ip, p in pods.items()}
    assert result["detail"]["ports"][0]["node_port"] == service["spec"]["ports"][0]["nodePort"]

    nodes = {found["name"]: found for found in result["nodes"]}
    for worker in ("worker-1", "worker-2"):
        saved = cluster.node_exec(worker, "iptables-save", "-t", "nat").splitlines()
        shown = nodes[worker]["rules"]["nat"]
        assert set(shown) <= set(saved)  # nothing invented
        chains = {line.split()[1] for line in shown}
        svc_chains = {c for c in chains if c.startswith("KUBE-SVC-")}
        sep_chains = {c for c in chains if c.startswith("KUBE-SEP-")}
        assert len(svc_chains) == 1 and len(sep_chains) == 2
        # every rule the node has in those chains, and every rule naming the service, is shown; the
        # KUBE-SVC chain (where the packet goes first) before the KUBE-SEP chains, each chain in its order
        in_chains = [line for line in shown if line.split()[1] in svc_chains | sep_chains]
        assert sorted(in_chains) == sorted(line for line in saved
                                           if line.startswith("-A ") and line.split()[1] in svc_chains | sep_chains)
        assert in_chains[0].split()[1] in svc_chains and all(
            [line for line in in_chains if line.split()[1] == chain] ==
            [line for line in saved if line.startswith(f"-A {chain} ")] for chain in svc_chains | sep_chains)
        assert {line for line in saved if '"default/web:http' in line} <= set(shown)
        assert {re.search(r"--to-destination (\S+):8080", line).group(1) for line in shown if "DNAT" in line} == set(pods)
        for ip, pod in pods.items():
            route = nodes[worker]["routes"][ip]
            assert route.endswith("dev cni0") if pod["spec"]["nodeName"] == worker else "dev flannel.1" in route
    entries = nodes["worker-1"]["conntrack"]
    client_ip = cluster.pod("client")["status"]["podIP"]
    assert any(f"src={client_ip} dst={cluster_ip}" in e and re.search(rf"src=({'|'.join(map(re.escape, pods))}) dst={client_ip}", e)
               for e in entries), entries
    text = cluster.kinn("explain", "--name", cluster.name, "svc/web").stdout
    assert text.startswith(f"Service default/web: type NodePort, ClusterIP {cluster_ip}\n")
    assert "Node worker-2 (10.240.0.22)\n  kube-proxy's iptables, nat table:\n" in text


def test_explain_pod_names_the_veth_peer_the_node_shows(cluster: KinnCluster) -> None:
    pod = next(p for p in web_pods(cluster) if p["spec"]["nodeName"] == "worker-2")
    detail = explain(cluster, f"pod/{pod['metadata']['name']}")["detail"]
    assert (detail["node"], detail["ip"]) == ("worker-2", pod["status"]["podIP"])
    inside = cluster.node_exec("worker-2", "ip", "-n", detail["netns"], "-o", "link", "show", "eth0")
    peer = int(re.search(r"eth0@if(\d+):", inside).group(1))
    veth = cluster.node_exec("worker-2", "ip", "-o", "link", "show", "dev", detail["veth"])
    assert int(veth.split(":")[0]) == peer == detail["veth_index"] and detail["eth0"] == f"eth0@if{peer}"
    assert f"{detail['veth']}@if{detail['eth0_index']}:" in veth and "master cni0" in veth
    ipam = cluster.node_exec("worker-2", "cat", f"/var/lib/cni/networks/cbr0/{pod['status']['podIP']}")
    assert ipam.splitlines()[0].strip() == detail["sandbox_id"]


def test_topology_text_lists_every_node_pod_ip_and_tunnel(cluster: KinnCluster) -> None:
    text = cluster.kinn("topology", "--name", cluster.name, "--format", "text").stdout
    for node, ip in (("control-plane", "10.240.0.10"), ("worker-1", "10.240.0.21"), ("worker-2", "10.240.0.22")):
        assert f"node {node}  eth0 {ip}" in text
        mac = re.search(r"link/ether (\S+)", cluster.node_exec(node, "ip", "-o", "link", "show", "flannel.1")).group(1)
        assert f"VTEP {mac}" in text and text.count(f"fdb {mac} dst {ip} ({node})") == 2  # from both other nodes
    pods = json.loads(cluster.kubectl("get", "pods", "-A", "-o", "json"))["items"]
    for pod in pods:
        if pod["status"].get("podIP") and not pod["spec"].get("hostNetwork"):
            assert f"{pod['status']['podIP']}  {pod['metadata']['namespace']}/{pod['metadata']['name']}" in text


def test_topology_png_and_svg(cluster: KinnCluster, tmp_path: Path) -> None:
    png = tmp_path / "topology.png"
    cluster.kinn("topology", "--name", cluster.name, "--format", "png", "-o", str(png))
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 800 and height > 400 and len(data) > 20_000
    svg = cluster.kinn("topology", "--name", cluster.name, "--format", "svg").stdout
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    by_extension = tmp_path / "by-extension.PNG"  # no --format: the file's name asks for a picture
    cluster.kinn("topology", "--name", cluster.name, "-o", str(by_extension))
    assert by_extension.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pods = json.loads(cluster.kubectl("get", "pods", "-A", "-o", "json"))["items"]
    ips = [p["status"]["podIP"] for p in pods if p["status"].get("podIP") and not p["spec"].get("hostNetwork")]
    assert len(ips) >= 5 and all(ip in svg for ip in ips)  # web ×2, client, kube-dns, ingress-nginx


def test_topology_to_a_file_that_cannot_be_written_says_so(cluster: KinnCluster, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "topology.txt"
    result = cluster.kinn("topology", "--name", cluster.name, "-o", str(missing), check=False)
    assert (result.returncode, result.stderr) == (1, f"Error: cannot write {missing}: no such file or directory\n")


def test_explain_of_a_host_network_pod_points_at_its_node(cluster: KinnCluster) -> None:
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hostnet"},
                "spec": {"hostNetwork": True, "nodeName": "worker-2", "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}]}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    result = cluster.kinn("explain", "--name", cluster.name, "pod/hostnet", check=False)
    assert (result.returncode, result.stderr) == (1, 'Error: pod "hostnet" uses its node\'s network (hostNetwork): no '
                                                     "netns, veth or IP of its own to explain; `kinn node exec --name "
                                                     f"{cluster.name} worker-2 -- ip addr` shows node worker-2's\n")
