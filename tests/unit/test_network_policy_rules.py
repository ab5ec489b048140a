"""NetworkPolicy → nftables rules (kinn.networkpolicy.rules): which pods are isolated, what each
policy rule allows, the exact table text."""

from __future__ import annotations

from typing import Any

from kinn.networkpolicy.rules import Cluster, PodInfo, pod_info, render

BACKEND = PodInfo("default", "backend", "worker-1", "10.244.1.5", {"app": "backend"}, {("http", "TCP"): 8080})
FRONTEND = PodInfo("default", "frontend", "worker-2", "10.244.2.3", {"app": "frontend"})
CLIENT = PodInfo("team-a", "client", "worker-1", "10.244.1.7", {"app": "client"}, {("http", "TCP"): 9090})
NAMESPACES = {"default": {"kubernetes.io/metadata.name": "default"}, "team-a": {"team": "a"}}
DROP_TAIL = 'counter drop comment "{pod}: not allowed by {policies}"'


def policy(name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    spec.setdefault("podSelector", {})
    spec.setdefault("policyTypes", ["Ingress", "Egress"] if "egress" in spec else ["Ingress"])  # the API's default
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def rendered(*policies: dict[str, Any], node: str = "worker-1") -> str:
    return render(Cluster(list(policies), [BACKEND, FRONTEND, CLIENT], NAMESPACES), node)


def chain(text: str, name: str) -> list[str]:
    """The rules of one chain in the rendered script."""
    lines = text.splitlines()
    start = lines.index(f"\tchain {name} {{")
    return [line.strip() for line in lines[start + 1:lines.index("\t}", start)]]


def sets(text: str) -> dict[str, str]:
    """The named sets in the rendered script: name → elements."""
    lines = text.splitlines()
    return {line.split()[1]: lines[i + 2].strip().removeprefix("elements = { ").removesuffix(" }")
            for i, line in enumerate(lines) if line.startswith("\tset ")}


def test_the_whole_table_for_one_ingress_policy() -> None:
    allow = policy("allow-frontend", podSelector={"matchLabels": {"app": "backend"}},
                   ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "frontend"}}}],
                             "ports": [{"protocol": "TCP", "port": "http"}]}])
    assert rendered(allow) == """table ip kinn-network-policy
delete table ip kinn-network-policy
table ip kinn-network-policy {
\tset from-default/allow-frontend/0/0 {
\t\ttype ipv4_addr
\t\telements = { 10.244.2.3 }
\t}
\tmap ingress-pods {
\t\ttype ipv4_addr : verdict
\t\telements = { 10.244.1.5 : goto ingress-default/backend }
\t}
\tchain ingress {
\t\ttype filter hook forward priority filter - 5; policy accept;
\t\tct state established,related accept
\t\tip daddr vmap @ingress-pods
\t}
\tchain ingress-default/backend {
\t\tip saddr @from-default/allow-frontend/0/0 tcp dport 8080 accept comment "default/allow-frontend"
\t\tcounter drop comment "default/backend: not allowed by default/allow-frontend"
\t}
}
"""


def test_a_node_without_isolated_pods_has_no_table() -> None:
    allow = policy("allow-frontend", podSelector={"matchLabels": {"app": "backend"}}, ingress=[{}])
    assert rendered(allow, node="worker-2") == "table ip kinn-network-policy\ndelete table ip kinn-network-policy\n"
    assert rendered() == rendered(allow, node="worker-2")


def test_an_empty_rule_allows_everything_and_no_rule_denies_everything() -> None:
    assert chain(rendered(policy("allow-all", ingress=[{}])), "ingress-default/backend") == [
        'accept comment "default/allow-all"', DROP_TAIL.format(pod="default/backend", policies="default/allow-all")]
    assert chain(rendered(policy("deny-all")), "ingress-default/backend") == [
        DROP_TAIL.format(pod="default/backend", policies="default/deny-all")]


def test_peers_by_namespace_both_selectors_and_ip_block() -> None:
    allow = policy("mixed", podSelector={"matchLabels": {"app": "backend"}}, ingress=[{"from": [
        {"namespaceSelector": {"matchLabels": {"team": "a"}}},
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "frontend"}}},
        {"podSelector": {"matchLabels": {"app": "nobody"}}},  # selects no pod: no rule
        {"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24", "192.168.2.0/24"]}}]}])
    text = rendered(allow)
    assert chain(text, "ingress-default/backend")[:3] == [
        'ip saddr @from-default/mixed/0/0 accept comment "default/mixed"',
        'ip saddr @from-default/mixed/0/1 accept comment "default/mixed"',
        'ip saddr 192.168.0.0/16 ip saddr != { 192.168.1.0/24, 192.168.2.0/24 } accept comment "default/mixed"']
    assert sets(text) == {"from-default/mixed/0/0": "10.244.1.7", "from-default/mixed/0/1": "10.244.2.3"}


def test_ports_protocols_ranges_and_named_ports() -> None:
    allow = policy("ports", podSelector={"matchLabels": {"app": "backend"}}, ingress=[{"ports": [
        {"protocol": "TCP", "port": 80}, {"protocol": "TCP", "port": 9000, "endPort": 9010},
        {"protocol": "UDP"}, {"protocol": "SCTP", "port": 7777},
        {"protocol": "TCP", "port": "http"}, {"protocol": "UDP", "port": "http"}]}])  # the last: no such port
    assert chain(rendered(allow), "ingress-default/backend")[:-1] == [
        'tcp dport 80 accept comment "default/ports"', 'tcp dport 9000-9010 accept comment "default/ports"',
        'meta l4proto udp accept comment "default/ports"', 'sctp dport 7777 accept comment "default/ports"',
        'tcp dport 8080 accept comment "default/ports"']


def test_egress_is_judged_on_the_source_and_named_ports_on_each_destination() -> None:
    """Only with `policyTypes: [Egress]`: egress rules alone default to both types, isolating ingress too."""
    lockdown = policy("lockdown", "team-a", policyTypes=["Egress"], egress=[
        {"ports": [{"protocol": "UDP", "port": 53}]},
        {"to": [{"namespaceSelector": {}}], "ports": [{"protocol": "TCP", "port": "http"}]}])
    text = rendered(lockdown)
    assert "\t\tip saddr vmap @egress-pods" in text and "\t\ttype filter hook forward priority filter - 10;" in text
    assert "10.244.1.7 : goto egress-team-a/client" in text
    assert chain(text, "egress-team-a/client") == [
        'udp dport 53 accept comment "team-a/lockdown"',
        'ip daddr @to-team-a/lockdown/1/0 ip daddr @port-http/tcp/8080 tcp dport 8080 accept comment "team-a/lockdown"',
        'ip daddr @to-team-a/lockdown/1/0 ip daddr @port-http/tcp/9090 tcp dport 9090 accept comment "team-a/lockdown"',
        DROP_TAIL.format(pod="team-a/client", policies="team-a/lockdown")]
    assert sets(text) == {"to-team-a/lockdown/1/0": "10.244.1.5, 10.244.1.7, 10.244.2.3",
                          "port-http/tcp/8080": "10.244.1.5", "port-http/tcp/9090": "10.244.1.7"}
    assert "ingress-team-a/client" not in text  # an Egress-only policy leaves ingress open


def test_policies_of_other_namespaces_or_selectors_do_not_isolate() -> None:
    elsewhere = policy("elsewhere", "team-a", podSelector={"matchLabels": {"app": "backend"}})
    unmatched = policy("unmatched", podSelector={"matchExpressions": [{"key": "app", "operator": "In",
                                                                       "values": ["db"]}]})
    assert "ingress-default/backend" not in rendered(elsewhere, unmatched)


def test_several_policies_add_up_in_name_order() -> None:
    first = policy("a-web", podSelector={"matchLabels": {"app": "backend"}}, ingress=[{"ports": [{"port": 80}]}])
    second = policy("b-metrics", ingress=[{"ports": [{"port": 9100}]}])
    assert chain(rendered(second, first), "ingress-default/backend") == [
        "tcp dport 80 accept comment \"default/a-web\"", "tcp dport 9100 accept comment \"default/b-metrics\"",
        DROP_TAIL.format(pod="default/backend", policies="default/a-web, default/b-metrics")]


def test_pods_policies_do_not_apply_to() -> None:
    def pod(**status: Any) -> dict[str, Any]:
        spec = {"nodeName": "worker-1", "containers": [{"name": "c", "ports": [{"name": "dns", "containerPort": 53,
                                                                                "protocol": "UDP"}]}]}
        return {"metadata": {"name": "p", "namespace": "default", "labels": {"a": "b"}},
                "spec": {**spec, **status.pop("spec", {})}, "status": status}
    assert pod_info(pod(podIPs=[{"ip": "10.244.1.9"}], phase="Running")) == PodInfo(
        "default", "p", "worker-1", "10.244.1.9", {"a": "b"}, {("dns", "UDP"): 53})
    assert pod_info(pod(phase="Pending")) is None
    assert pod_info(pod(podIPs=[{"ip": "10.244.1.9"}], phase="Succeeded")) is None
    assert pod_info(pod(podIPs=[{"ip": "10.240.0.21"}], spec={"hostNetwork": True})) is None
    dual_stack = pod_info(pod(podIPs=[{"ip": "fd00::9"}, {"ip": "10.244.1.9"}]))
    assert dual_stack is not None and dual_stack.ip == "10.244.1.9"


def test_long_names_are_cut_to_what_the_kernel_takes_and_stay_distinct() -> None:
    pods = [PodInfo("default", "x" * 240 + suffix, "worker-1", f"10.244.1.{i}", {}) for i, suffix in enumerate("ab")]
    text = render(Cluster([policy("deny")], pods, NAMESPACES), "worker-1")
    names = [line.split()[1] for line in text.splitlines() if line.startswith("\tchain ingress-")]
    assert len(names) == 2 and names[0] != names[1] and all(len(name) <= 200 for name in names)
