"""The topology model, text tree and DOT built from a snapshot captured on a live 3-node cluster
(tests/unit/fixtures/topology/snapshot.json: kinn up + a 4-replica Deployment `web` behind a
NodePort Service, a bare pod `cl` on worker-1)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kinn.topology.dot import quote, render_dot
from kinn.topology.model import build, format_route
from kinn.topology.text import render_text

SNAPSHOT = json.loads((Path(__file__).parent / "fixtures/topology/snapshot.json").read_text())


def test_pods_are_paired_with_their_node_veth_by_ifindex() -> None:
    topology = build(SNAPSHOT)
    worker1 = topology.node("worker-1")
    ports = {pod.name: pod for pod in worker1.pods}
    cl = ports["cl"]
    assert (cl.ip, cl.eth0, cl.veth_label, cl.bridge) == ("10.244.1.5", "eth0@if8", "vethfce50171@if2", "cni0")
    assert cl.netns.startswith("cni-") and len(cl.sandbox_id) == 64
    assert cl.routes == ("default via 10.244.1.1 dev eth0", "10.244.0.0/16 via 10.244.1.1 dev eth0",
                         "10.244.1.0/24 dev eth0")
    # every sandbox's veth is the node link whose ifindex is the pod eth0's peer, and vice versa
    for node, state in zip(topology.nodes, SNAPSHOT["nodes"]):
        links = {link["index"]: link for link in state["links"]}
        for pod in node.pods:
            assert links[pod.veth_index]["name"] == pod.veth and links[pod.veth_index]["peer_index"] == pod.eth0_index
    assert sorted(p.name for p in topology.node("worker-2").pods) == ["web-687777c775-c6wtl", "web-687777c775-sqtnj"]


def test_vxlan_tunnels_resolve_neighbour_and_fdb_to_the_remote_node() -> None:
    worker1 = build(SNAPSHOT).node("worker-1")
    assert worker1.vtep.name == "flannel.1" and worker1.vtep.addresses == ("10.244.1.0/32",)
    tunnels = {t.subnet: t for t in worker1.tunnels}
    assert set(tunnels) == {"10.244.0.0/24", "10.244.2.0/24"}
    to_w2 = tunnels["10.244.2.0/24"]
    assert (to_w2.gateway, to_w2.vtep_mac, to_w2.remote_ip, to_w2.remote_node) == \
        ("10.244.2.0", "16:76:f4:94:ad:2a", "10.240.0.22", "worker-2")
    assert to_w2.describe() == ("10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink; neigh 10.244.2.0 lladdr "
                                "16:76:f4:94:ad:2a PERMANENT; fdb 16:76:f4:94:ad:2a dst 10.240.0.22 (worker-2)")


def test_host_gw_routes_become_tunnels_via_eth0() -> None:
    snapshot = json.loads(json.dumps(SNAPSHOT))
    state = snapshot["nodes"][1]
    eth0 = next(link["index"] for link in state["links"] if link["name"] == "eth0")
    state["routes"] = [{"dst": "10.244.2.0/24", "gateway": "10.240.0.22", "oif": eth0, "onlink": False}]
    (tunnel,) = build(snapshot).node("worker-1").tunnels
    assert (tunnel.device, tunnel.remote_node, tunnel.vtep_mac) == ("eth0", "worker-2", None)


def test_services_list_endpoints_with_pods_and_nodes() -> None:
    services = {s.key: s for s in build(SNAPSHOT).services}
    web = services["default/web"]
    assert (web.type, web.cluster_ip, web.ports[0].node_port) == ("NodePort", "10.105.168.210", 32252)
    assert [(b.ip, b.ports, b.node, b.ready) for b in web.backends] == [
        ("10.244.1.3", (8080,), "worker-1", True), ("10.244.1.4", (8080,), "worker-1", True),
        ("10.244.2.2", (8080,), "worker-2", True), ("10.244.2.3", (8080,), "worker-2", True)]
    kubernetes = services["default/kubernetes"].backends[0]
    assert (kubernetes.ip, kubernetes.pod, kubernetes.node) == ("10.240.0.10", None, "control-plane")
    assert services["ingress-nginx/ingress-nginx-controller"].ingress == ("10.240.0.250",)


def test_an_external_name_service_shows_the_name_it_stands_for() -> None:
    """It has no cluster IP and no ports: the tree said `ExternalName None` with blanks after it."""
    snapshot = json.loads(json.dumps(SNAPSHOT))
    snapshot["objects"]["services"].append({"metadata": {"namespace": "default", "name": "ext"},
                                            "spec": {"type": "ExternalName", "externalName": "example.com"}})
    topology = build(snapshot)
    assert "   ├─ default/ext  ExternalName → example.com\n" in render_text(topology)
    assert "ExternalName → example.com" in render_dot(topology)


def test_format_route_as_ip_route_prints_it() -> None:
    names = {3: "flannel.1", 2: "eth0"}
    assert format_route({"dst": "10.244.2.0/24", "gateway": "10.244.2.0", "oif": 3, "onlink": True}, names) == \
        "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink"
    assert format_route({"dst": "0.0.0.0/0", "gateway": "10.240.0.1", "oif": 2, "onlink": False}, names) == \
        "default via 10.240.0.1 dev eth0"


def test_text_tree_lists_nodes_pods_and_tunnels() -> None:
    text = render_text(build(SNAPSHOT))
    assert text.startswith("cluster kbx  underlay kinn0 10.240.0.1/24  (flannel vxlan, kube-proxy iptables)\n")
    assert "├─ node worker-1  eth0 10.240.0.21\n│  ├─ cni0 10.244.1.1/24  bridge\n" in text
    assert "│  │  ├─ vethfce50171@if2 ↔ eth0@if8  10.244.1.5  default/cl  netns cni-" in text
    assert "   ├─ default/web  NodePort 10.105.168.210  80/TCP:32252\n" in text
    assert "   │  ├─ → 10.244.1.3:8080  default/web-687777c775-ssbp9 on worker-1\n" in text
    assert text.count("dev flannel.1 onlink; neigh") == 6  # 3 nodes × 2 remote subnets


def test_dot_puts_pods_in_their_node_cluster_and_draws_each_tunnel_once() -> None:
    dot = render_dot(build(SNAPSHOT))
    clusters = dict(re.findall(r'subgraph "cluster_([^"]+)" \{(.*?)\n  \}', dot, re.S))
    assert set(clusters) == {"control-plane", "worker-1", "worker-2"}
    assert '"pod/10.244.1.5" [label="cl\\n10.244.1.5\\neth0@if8"' in clusters["worker-1"]
    assert '"pod/10.244.2.2"' in clusters["worker-2"] and '"pod/10.244.2.2"' not in clusters["worker-1"]
    assert '"worker-1/flannel.1" [label="flannel.1\\n10.244.1.0/32\\n7a:a4:16:9e:44:86"' in clusters["worker-1"]
    tunnels = re.findall(r'^  "([^"]+)/flannel.1" -> "([^"]+)/flannel.1" \[dir=both', dot, re.M)
    assert sorted(frozenset(t) for t in tunnels) == sorted(frozenset(t) for t in
                                                          [("control-plane", "worker-1"), ("control-plane", "worker-2"),
                                                           ("worker-1", "worker-2")])
    assert '  "pod/10.244.1.5" -> "worker-1/vethfce50171" [dir=none, label="veth"];' in dot
    assert '  "worker-1/vethfce50171" -> "worker-1/cni0" [dir=none];' in dot
    assert '  "svc/default/web" -> "pod/10.244.2.3" [' in dot
    assert '  "worker-2/eth0" -> "underlay kinn0" [dir=none, penwidth=2];' in dot


def test_dot_quoting() -> None:
    assert quote('a "b"\nc\\') == '"a \\"b\\"\\nc\\\\"'


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
def test_graphviz_accepts_the_dot() -> None:
    proc = subprocess.run(["dot", "-Tsvg"], input=render_dot(build(SNAPSHOT)), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert all(ip in proc.stdout for ip in ("10.244.1.5", "10.244.2.3", "10.244.0.2"))


@pytest.mark.parametrize(("output", "expected"), [
    (None, "text"), ("net.png", "png"), ("NET.SVG", "svg"), ("net.dot", "dot"), ("net.gv", "dot"),
    ("net.txt", "text"), ("net", "text")])
def test_kinn_topology_takes_its_format_from_the_output_file_s_extension(output: str | None, expected: str) -> None:
    """`kinn topology -o net.png` once wrote the text tree into net.png."""
    from kinn.cli.topology import format_of

    assert format_of(output) == expected
