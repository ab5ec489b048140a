"""`kinn trace` and `kinn explain` in the other proxy modes and flannel's other backend, on two real
clusters, one after the other (each class's cluster is torn down before the next one is made):

- kube-proxy nftables mode with the host-gw backend: the trace names the `table ip kube-proxy` rules
  that matched (the service-ips verdict map, the service chain's numgen, the endpoint chain's dnat) as
  `nft list table ip kube-proxy` has them in the node, shows the plain packet on eth0 and the underlay's
  bridge and route, and the no-endpoints reject; two traces at once keep to their own tables.
- kube-proxy userspace mode with VXLAN: the client's connection is REDIRECTed by KUBE-PORTALS-CONTAINER
  to the proxy's port and accepted by the node agent's listener, and the proxy's second connection is
  followed from the node to the backend pod across the VXLAN tunnel.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
import subprocess
import sys
import uuid
from typing import Iterator

import pytest

from kinn_cluster import KinnCluster, kinn_up
from kubectl_output import wait_until
from trace_workload import trace, with_pods

pytestmark = pytest.mark.e2e

HOST_GW = ("apiVersion: kinn.dev/v1alpha1\nkind: Cluster\nnetworking: {backend: host-gw}\n"
           "nodes:\n- {name: control-plane, role: control-plane}\n"
           "- {name: worker-1, role: worker}\n- {name: worker-2, role: worker}\n")


@pytest.fixture(scope="class")
def nft_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinnCluster]:
    home = tmp_path_factory.mktemp("kinn-home")
    (home / "cluster.yaml").write_text(HOST_GW)
    c = KinnCluster(f"ktn{uuid.uuid4().hex[:5]}", home, home / "kubeconfig")
    with kinn_up(c, "--config", str(home / "cluster.yaml"), "--proxy-mode", "nftables"):
        yield with_pods(c)


@pytest.fixture(scope="class")
def userspace_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinnCluster]:
    home = tmp_path_factory.mktemp("kinn-home")
    c = KinnCluster(f"ktu{uuid.uuid4().hex[:5]}", home, home / "kubeconfig")
    with kinn_up(c, "--workers", "2", "--proxy-mode", "userspace"):
        yield with_pods(c)


def connected(cluster: KinnCluster) -> str:
    """A trace to svc/web once it connects (the endpoint may reach kube-proxy just after the pod runs)."""
    return wait_until(lambda: (out := trace(cluster, "pod/client", "svc/web")).splitlines()[0].endswith("connected")
                      and out, timeout=30, what="a connected trace to svc/web")


def hook_rules(out: str, hook: str) -> list[str]:
    """The rules listed under the first hook line starting with `hook`, without their verdicts."""
    rules = []
    for line in out.split(f"    {hook}", 1)[1].splitlines()[1:]:
        if not line.startswith("        "):
            break
        rules.append(line.strip().rsplit("  [", 1)[0])
    return rules


def nft_chains(listing: str) -> dict[str, list[str]]:
    """`nft list table` → each chain's rule lines, stripped."""
    chains: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in listing.splitlines():
        stripped = line.strip()
        if match := re.match(r"^chain (\S+) \{$", stripped):
            current = chains.setdefault(match.group(1), [])
        elif stripped == "}":
            current = None
        elif current is not None and stripped and not stripped.startswith(("type ", "comment ")):
            current.append(stripped)
    return chains


def pod_ip(cluster: KinnCluster, name: str) -> str:
    return cluster.pod(name)["status"]["podIP"]


def pod_cidr(cluster: KinnCluster, node: str) -> ipaddress.IPv4Network:
    """The node's pod subnet: node IPAM hands the /24s out in the order the nodes register."""
    return ipaddress.ip_network(cluster.kubectl("get", "node", node, "-o", "jsonpath={.spec.podCIDR}"))


def service_ip(cluster: KinnCluster, name: str) -> str:
    return cluster.kubectl("get", "svc", name, "-o", "jsonpath={.spec.clusterIP}")


def explained_rules(out: str, node: str, title: str) -> list[str]:
    """The rule lines of one node's section of `kinn explain` under the heading `title`."""
    section = out.split(f"\nNode {node} (", 1)[1].split("\nNode ", 1)[0]
    lines = section.split(f"  {title}:\n", 1)[1].splitlines()
    return [line[4:] for line in itertools.takewhile(lambda line: line.startswith("    "), lines)]


class TestNftablesHostGw:
    def test_trace_names_the_kube_proxy_table_rules_as_listed(self, nft_cluster: KinnCluster) -> None:
        c = nft_cluster
        out = connected(c)
        web, client, vip = pod_ip(c, "web"), pod_ip(c, "client"), service_ip(c, "web")
        request = out.split("\n← reply")[0]
        rules = hook_rules(request, "kube-proxy nat-prerouting (iif cni0)")
        chains = [rule.split(": ", 1)[0] for rule in rules]
        assert chains[:2] == ["nat-prerouting", "services"], out
        assert chains[2].startswith("service-") and chains[2].endswith("-default/web/tcp/"), out
        assert chains[3].startswith("endpoint-") and chains[3].endswith(f"-default/web/tcp/__{web}/8080"), out
        assert rules[1] == "services: ip daddr . meta l4proto . th dport vmap @service-ips"
        assert rules[2].split(": ", 1)[1].startswith("numgen random mod 1 vmap")
        assert rules[3].endswith(f"dnat to {web}:8080")
        listing = c.node_exec("worker-1", "nft", "list", "table", "ip", "kube-proxy")
        installed = nft_chains(listing)
        for rule in rules:  # every rule the trace names is in the chain the node lists it in
            chain, text = rule.split(": ", 1)
            assert text in installed[chain], f"{rule!r} not in worker-1's chain {chain}"
        assert f"{vip} . tcp . 80 : goto {chains[2]}" in listing  # the service-ips element that sent it there
        # host-gw: routed to the other node's IP on eth0, the packet on the wire as it is, no VXLAN.
        assert f"route: {web} from {client} via 10.240.0.22 dev eth0 iif cni0" in request, out
        assert f"{pod_cidr(c, 'worker-2')} via 10.240.0.22 dev eth0" in c.node_exec("worker-1", "ip", "route")
        assert re.search(rf"on the wire: eth0 {re.escape(client)}:\d+ → {re.escape(web)}:8080 Flags \[S\], "
                         "not encapsulated", request), out
        assert "VXLAN" not in out and "flannel.1" not in out
        underlay = request.split("\n  underlay\n", 1)[1].split("\n  node worker-2", 1)[0]
        assert "switched by kinn0 to " in underlay and "not routed here (ttl 63)" in underlay, out
        assert f"underlay route: {web} from {client} via 10.240.0.22 dev kinn0" in underlay, out
        underlay_routes = subprocess.run(["ip", "-n", f"kinn-{c.name}-net", "route"], capture_output=True,
                                         text=True, check=True).stdout
        assert f"{pod_cidr(c, 'worker-2')} via 10.240.0.22 dev kinn0" in underlay_routes
        assert f"conntrack un-NAT: source {web}:8080 rewritten back to {vip}:80" in out.split("\n← reply")[1]

    def test_trace_through_a_node_port_crosses_the_underlay_twice(self, nft_cluster: KinnCluster) -> None:
        """The client reaches web's NodePort on worker-1, which has no backend: worker-1 DNATs (and SNATs)
        the packet to web's pod on worker-2, so it crosses the underlay bridge twice each way. The trace
        once merged both crossings into one underlay hop, listed before worker-1 had even NATed it."""
        c = nft_cluster
        c.kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: Service\nmetadata: {name: web-np}\n"
                                           "spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, "
                                           "targetPort: 8080}]}\n")
        node_port = c.kubectl("get", "svc", "web-np", "-o", "jsonpath={.spec.ports[0].nodePort}")
        out = wait_until(lambda: (o := trace(c, "client", "node/worker-1", "--port", node_port))
                         .splitlines()[0].endswith("connected") and o, timeout=30, what="a connected NodePort trace")
        request, reply = out.split("\n← reply")
        places = [[line.strip() for line in way.splitlines() if re.match(r"  \S", line)] for way in (request, reply)]
        path = ["client", "underlay", "node worker-1", "underlay", "node worker-2", "pod default/web (on worker-2)"]
        assert places == [path, path[::-1]], out
        second = request.split("\n  underlay\n")[2]
        assert "prerouting in on kinn0: tcp 10.240.0.21:" in second and f"→ {pod_ip(c, 'web')}:8080" in second, out

    def test_trace_to_service_without_endpoints_names_the_reject(self, nft_cluster: KinnCluster) -> None:
        out = trace(nft_cluster, "pod/client", "svc/empty")
        assert out.splitlines()[0].endswith("connection refused"), out
        assert "        service-endpoints-check: ip daddr . meta l4proto . th dport vmap @no-endpoint-services" \
               "  [goto reject-chain]" in out, out
        assert "    REJECTED in kube-proxy filter-forward by reject-chain: reject" in out, out
        listing = nft_cluster.node_exec("worker-1", "nft", "list", "table", "ip", "kube-proxy")
        assert nft_chains(listing)["reject-chain"] == ["reject"]
        assert f'{service_ip(nft_cluster, "empty")} . tcp . 80 comment "default/empty" : goto reject-chain' in listing
        assert "destination-unreachable" in out.split("\n← reply")[1]

    def test_two_traces_at_once_keep_their_own_tables(self, nft_cluster: KinnCluster) -> None:
        """A trace leaves another's table alone and ignores its hooks: one is stood in for by a table
        of the same rules under another trace's name, and two real traces run side by side."""
        from kinn.trace.arming import trace_ruleset

        c = nft_cluster
        connected(c)
        worker1 = f"kinn-{c.name}-worker-1"
        subprocess.run(["ip", "netns", "exec", worker1, "nft", "-f", "-"], input=trace_ruleset("kinn-trace-1"),
                       text=True, check=True)
        try:
            argv = [sys.executable, "-m", "kinn", "trace", "--name", c.name, "pod/client", "svc/web"]
            runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=c.env)
                    for _ in range(2)]
            outs = [run.communicate(timeout=60)[0] for run in runs]
            ports = [re.search(r"→ request: tcp [\d.]+:(\d+) ", out).group(1) for out in outs]  # type: ignore[union-attr]
            for out, port, other in zip(outs, ports, reversed(ports)):
                assert out.splitlines()[0].endswith("connected"), out
                assert f":{other} " not in out and f":{other}\n" not in out, out  # nothing of the other probe
                # One hook line where the probe entered worker-1: this trace's table's, not kinn-trace-1's too.
                assert out.count(f"    prerouting in on cni0: tcp {pod_ip(c, 'client')}:{port} ") == 1, out
                assert "delivered to pod default/web on eth0" in out
            assert ports[0] != ports[1]
            tables = c.node_exec("worker-1", "nft", "list", "tables").split()
            assert [t for t in tables if t.startswith("kinn-trace")] == ["kinn-trace-1"]
        finally:
            subprocess.run(["ip", "netns", "exec", worker1, "nft", "delete", "table", "ip", "kinn-trace-1"], check=True)

    def test_explain_service_rules_are_the_nodes_nft_rules(self, nft_cluster: KinnCluster) -> None:
        c = nft_cluster
        out = c.kinn("explain", "--name", c.name, "svc/web").stdout
        web = pod_ip(c, "web")
        for node in ("worker-1", "worker-2"):
            shown = explained_rules(out, node, "kube-proxy's nftables (table ip kube-proxy)")
            listing = c.node_exec(node, "nft", "list", "table", "ip", "kube-proxy").splitlines()
            assert shown and all(line in listing for line in shown), f"{node}: {shown}"
            text = "\n".join(shown)
            assert re.search(r"chain service-\w{8}-default/web/tcp/ \{", text), out
            assert f"meta l4proto tcp dnat to {web}:8080" in text and "numgen random mod 1 vmap" in text
            assert f"{service_ip(c, 'web')} . tcp . 80 : goto service-" in text
        assert f"{pod_cidr(c, 'worker-2')} via 10.240.0.22 dev eth0 (worker-2)  host-gw" in out
        assert "host-gw routes to those pod subnets" in out and "flannel.1" not in out, out  # host-gw has none


class TestUserspaceVxlan:
    def test_trace_shows_the_proxy_and_its_second_connection(self, userspace_cluster: KinnCluster) -> None:
        c = userspace_cluster
        out = connected(c)
        web, client, vip = pod_ip(c, "web"), pod_ip(c, "client"), service_ip(c, "web")
        # worker-1's flannel.1 (.0) and cni0 (.1) addresses, worker-2's flannel.1 address
        tunnel1, bridge1 = pod_cidr(c, "worker-1")[0], pod_cidr(c, "worker-1")[1]
        tunnel2 = pod_cidr(c, "worker-2")[0]
        first, second = out.split("\n== the userspace proxy's own TCP connection to the backend", 1)
        request = first.split("\n← reply")[0]
        rules = hook_rules(request, "nat PREROUTING (iif cni0)")
        redirect = rules[-1]
        proxy_port = re.search(r"-j REDIRECT --to-ports (\d+)$", redirect).group(1)  # type: ignore[union-attr]
        assert redirect.startswith(f"-A KUBE-PORTALS-CONTAINER -d {vip}/32 -p tcp"), out
        installed = c.node_exec("worker-1", "iptables-save", "-t", "nat").splitlines()
        assert all(rule in installed for rule in rules), rules
        assert f"(DNAT to {bridge1}:{proxy_port})" in request, out
        listener = c.node_exec("worker-1", "ss", "-Htlnp", f"sport = :{proxy_port}")
        pid = re.search(r"pid=(\d+)", listener).group(1)  # type: ignore[union-attr]
        assert f"    accepted by python -m kinn agent (pid {pid}) listening on 0.0.0.0:{proxy_port}: the userspace " \
               "proxy ends this TCP connection here" in request, out
        assert f"conntrack un-NAT: source {bridge1}:{proxy_port} rewritten back to {vip}:80" in first
        # The proxy's own connection: from worker-1 (its flannel.1 address, by the route to worker-2's
        # pods) to the backend, through the tunnel, with its own conntrack entries.
        proxied = second.split("\n← proxy's reply")[0]
        started = re.search(rf"→ proxy's request: tcp {re.escape(str(tunnel1))}:(\d+) → {re.escape(web)}:8080 flags syn",
                            proxied)
        assert started, out
        places = re.findall(r"^  (\S.*)$", proxied, re.M)
        assert places == ["node worker-1", "node worker-2", "pod default/web (on worker-2)"], out
        assert f"route: {web} from {tunnel1} via {tunnel2} dev flannel.1" in proxied
        assert "VXLAN encapsulation: outer 10.240.0.21 → 10.240.0.22 udp 8472 vni 1" in proxied
        assert f"conntrack NEW tcp original {tunnel1}:{started.group(1)} → {web}:8080" in proxied
        assert client not in second and "delivered to pod default/web on eth0" in proxied
        assert "VXLAN encapsulation: outer 10.240.0.22 → 10.240.0.21" in second.split("\n← proxy's reply")[1]
        document = json.loads(trace(c, "pod/client", "svc/web", "--json"))
        assert [hop["place"] for hop in document["proxied"]["request"]] == \
            ["node worker-1", "node worker-2", "pod default/web"]

    def test_explain_service_rules_are_the_nodes_portal_rules(self, userspace_cluster: KinnCluster) -> None:
        c = userspace_cluster
        out = c.kinn("explain", "--name", c.name, "svc/web").stdout
        vip = service_ip(c, "web")
        for node in ("control-plane", "worker-1", "worker-2"):
            shown = explained_rules(out, node, "kube-proxy's iptables, nat table")
            installed = [line for line in c.node_exec(node, "iptables-save", "-t", "nat").splitlines()
                         if '--comment "default/web:"' in line]
            assert shown == installed and len(shown) == 2, f"{node}: {shown}"
            assert shown[0].startswith(f"-A KUBE-PORTALS-CONTAINER -d {vip}/32 ") and "-j REDIRECT --to-ports" in shown[0]
            assert shown[1].startswith(f"-A KUBE-PORTALS-HOST -d {vip}/32 ") and "-j DNAT --to-destination" in shown[1]
