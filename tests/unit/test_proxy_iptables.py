"""kube-proxy's iptables rules as exact restore text (the pure generator, no kernel)."""

from __future__ import annotations

from kinn.proxy.changes import ProxyState
from kinn.proxy.iptables import rules
from kinn.proxy.iptables.proxier import restore_environment
from kinn.proxy.node import NodeContext
from kinn.proxy.serviceport import service_ports, slice_endpoints

CTX = NodeContext(node_ip="10.240.0.21", cluster_cidr="10.244.0.0/16")


def svc(name: str = "web", namespace: str = "default", **spec: object) -> dict:
    base = {"clusterIP": "10.96.0.50", "type": "ClusterIP",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {**base, **spec}}


def endpoint_slice(service: str, *ips: str, node: str = "worker-2", port: int = 8080, name: str = "http",
                   protocol: str = "TCP", **conditions: bool) -> dict:
    return {"metadata": {"name": f"{service}-abc", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "nodeName": node, "conditions": {"ready": True, **conditions}}
                          for ip in ips],
            "ports": [{"name": name, "port": port, "protocol": protocol}]}


def fragment(service: dict, *slices: dict, ctx: NodeContext = CTX, node: str = "worker-1") -> rules.ServiceRules:
    port = service_ports(service)[0]
    return rules.service_rules(port, slice_endpoints(slices, node).get(("http", "TCP"), []), ctx)


def test_chain_names_match_upstream_test_vectors() -> None:
    kubernetes = service_ports(svc("kubernetes", clusterIP="10.96.0.1",
                                   ports=[{"name": "https", "port": 443, "protocol": "TCP"}]))[0]
    dns = service_ports(svc("kube-dns", "kube-system", clusterIP="10.96.0.10",
                            ports=[{"name": "dns", "port": 53, "protocol": "UDP"},
                                   {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]))
    assert rules.service_chain("KUBE-SVC-", kubernetes) == "KUBE-SVC-NPX46M4PTMTKRN6Y"
    assert [rules.service_chain("KUBE-SVC-", p) for p in dns] == ["KUBE-SVC-TCOU7JCQXEZGVUNU",
                                                                   "KUBE-SVC-ERIFXISQEP7F7OF4"]


def test_cluster_ip_with_three_endpoints() -> None:
    f = fragment(svc(), endpoint_slice("web", "10.244.2.3", "10.244.1.7", "10.244.2.10"))
    svc_chain = "KUBE-SVC-CDGGSHYLG3RE2FKL"
    assert f.filter == ()
    assert f.dispatch == (f'-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -m tcp -p tcp '
                          f'-d 10.96.0.50 --dport 80 -j {svc_chain}',)
    seps = [rules.endpoint_chain(service_ports(svc())[0], ep)
            for ep in slice_endpoints([endpoint_slice("web", "10.244.2.3", "10.244.1.7", "10.244.2.10")], "")[
                ("http", "TCP")]]
    # Sorted by "ip:port" text, as upstream sorts: 10.244.1.7 < 10.244.2.10 < 10.244.2.3.
    assert f.chains == (svc_chain, *seps)
    assert f.rules == (
        f'-A {svc_chain} -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.50 --dport 80 '
        f'! -s 10.244.0.0/16 -j KUBE-MARK-MASQ',
        f'-A {svc_chain} -m comment --comment "default/web:http -> 10.244.1.7:8080" -m statistic --mode random '
        f'--probability 0.3333333333 -j {seps[0]}',
        f'-A {svc_chain} -m comment --comment "default/web:http -> 10.244.2.10:8080" -m statistic --mode random '
        f'--probability 0.5000000000 -j {seps[1]}',
        f'-A {svc_chain} -m comment --comment "default/web:http -> 10.244.2.3:8080" -j {seps[2]}',
        f'-A {seps[0]} -m comment --comment "default/web:http" -s 10.244.1.7 -j KUBE-MARK-MASQ',
        f'-A {seps[0]} -m comment --comment "default/web:http" -m tcp -p tcp -j DNAT --to-destination 10.244.1.7:8080',
        f'-A {seps[1]} -m comment --comment "default/web:http" -s 10.244.2.10 -j KUBE-MARK-MASQ',
        f'-A {seps[1]} -m comment --comment "default/web:http" -m tcp -p tcp -j DNAT --to-destination 10.244.2.10:8080',
        f'-A {seps[2]} -m comment --comment "default/web:http" -s 10.244.2.3 -j KUBE-MARK-MASQ',
        f'-A {seps[2]} -m comment --comment "default/web:http" -m tcp -p tcp -j DNAT --to-destination 10.244.2.3:8080',
    )


def test_probabilities_for_six_endpoints_are_seed_002s() -> None:
    assert [rules.probability(n) for n in range(6, 1, -1)] == [
        "0.1666666667", "0.2000000000", "0.2500000000", "0.3333333333", "0.5000000000"]


def test_no_endpoints_rejects_in_filter_and_writes_no_nat_rules() -> None:
    f = fragment(svc(type="NodePort", externalIPs=["10.240.0.99"],
                     ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}]))
    assert f.dispatch == () and f.chains == () and f.rules == ()
    assert f.filter == (
        '-A KUBE-SERVICES -m comment --comment "default/web:http has no endpoints" -m tcp -p tcp -d 10.96.0.50 '
        '--dport 80 -j REJECT',
        '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/web:http has no endpoints" -m tcp -p tcp '
        '-d 10.240.0.99 --dport 80 -j REJECT',
        '-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/web:http has no endpoints" -m addrtype '
        '--dst-type LOCAL -m tcp -p tcp --dport 30080 -j REJECT',
    )


def test_node_port_with_cluster_policy_masquerades_in_kube_ext() -> None:
    f = fragment(svc(type="NodePort", ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}]),
                 endpoint_slice("web", "10.244.2.3"))
    ext, svc_chain = "KUBE-EXT-CDGGSHYLG3RE2FKL", "KUBE-SVC-CDGGSHYLG3RE2FKL"
    assert f.dispatch[1] == f'-A KUBE-NODEPORTS -m comment --comment "default/web:http" -m tcp -p tcp --dport 30080 -j {ext}'
    assert f.chains[:2] == (ext, svc_chain)
    assert f.rules[1:3] == (
        f'-A {ext} -m comment --comment "masquerade traffic for default/web:http external destinations" '
        f'-j KUBE-MARK-MASQ',
        f'-A {ext} -j {svc_chain}',
    )


def test_local_policy_without_local_endpoints_drops_external_traffic() -> None:
    service = svc(type="NodePort", externalTrafficPolicy="Local",
                  ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}])
    f = fragment(service, endpoint_slice("web", "10.244.2.3", node="worker-2"), node="worker-1")
    ext, svl = "KUBE-EXT-CDGGSHYLG3RE2FKL", "KUBE-SVL-CDGGSHYLG3RE2FKL"
    assert f.filter == ('-A KUBE-EXTERNAL-SERVICES -m comment --comment "default/web:http has no local endpoints" '
                        '-m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j DROP',)
    assert f'-A {ext} -j {svl}' not in f.rules  # nothing to send the rest to
    assert f.rules[1] == (f'-A {ext} -m comment --comment "pod traffic for default/web:http external destinations" '
                          f'-s 10.244.0.0/16 -j KUBE-SVC-CDGGSHYLG3RE2FKL')
    # On the backend's node the rest goes to the local chain, with the client's address kept.
    local = fragment(service, endpoint_slice("web", "10.244.2.3", node="worker-2"), node="worker-2")
    assert local.filter == () and f'-A {ext} -j {svl}' in local.rules and svl in local.chains


def test_session_affinity_checks_recent_lists_first() -> None:
    f = fragment(svc(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}),
                 endpoint_slice("web", "10.244.2.3"))
    sep = f.chains[1]
    assert f.rules[1] == (f'-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.2.3:8080" '
                          f'-m recent --name {sep} --rcheck --seconds 60 --reap -j {sep}')
    assert f.rules[-1] == (f'-A {sep} -m comment --comment "default/web:http" -m recent --name {sep} --set '
                           f'-m tcp -p tcp -j DNAT --to-destination 10.244.2.3:8080')


def test_terminating_endpoints_serve_only_when_none_is_ready() -> None:
    terminating = endpoint_slice("web", "10.244.2.3", ready=False, serving=True, terminating=True)
    assert "--to-destination 10.244.2.3:8080" in fragment(svc(), terminating).rules[-1]
    both = {**terminating, "endpoints": terminating["endpoints"] + [
        {"addresses": ["10.244.2.4"], "conditions": {"ready": True}}]}
    assert not any("10.244.2.3" in rule for rule in fragment(svc(), both).rules)


def test_headless_external_name_and_ipv6_services_get_no_rules() -> None:
    assert service_ports(svc(clusterIP="None")) == []
    assert service_ports(svc(type="ExternalName", externalName="example.com", clusterIP="")) == []
    assert service_ports(svc(clusterIP="fd00::10")) == []


def test_load_balancer_source_ranges_go_through_the_firewall_chain() -> None:
    service = svc(type="LoadBalancer", loadBalancerSourceRanges=["192.0.2.0/24"],
                  ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}])
    service["status"] = {"loadBalancer": {"ingress": [{"ip": "10.240.0.200", "ipMode": "VIP"}]}}
    f = fragment(service, endpoint_slice("web", "10.244.2.3"))
    fw = "KUBE-FW-CDGGSHYLG3RE2FKL"
    assert f'-A KUBE-SERVICES -m comment --comment "default/web:http loadbalancer IP" -m tcp -p tcp -d 10.240.0.200 ' \
           f'--dport 80 -j {fw}' in f.dispatch
    assert f'-A {fw} -m comment --comment "default/web:http loadbalancer IP" -s 192.0.2.0/24 ' \
           f'-j KUBE-EXT-CDGGSHYLG3RE2FKL' in f.rules
    assert f.filter == (f'-A KUBE-PROXY-FIREWALL -m comment --comment "default/web:http traffic not accepted by {fw}" '
                        f'-m tcp -p tcp -d 10.240.0.200 --dport 80 -j DROP',)


def test_render_restore_full_and_partial() -> None:
    changed, unchanged = fragment(svc("a"), endpoint_slice("a", "10.244.2.3")), \
        fragment(svc("b", clusterIP="10.96.0.51"), endpoint_slice("b", "10.244.2.4"))
    shared = rules.shared_chains([changed, unchanged], CTX)
    assert shared["nat", "KUBE-SERVICES"] == (*changed.dispatch, *unchanged.dispatch, (
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in '
        'this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS'))
    partial = rules.render_restore({("nat", "KUBE-SERVICES"): shared["nat", "KUBE-SERVICES"]}, [changed],
                                   ["KUBE-SEP-STALESTALESTALE"])
    lines = partial.splitlines()
    assert lines[0] == "*nat" and lines[-1] == "COMMIT"  # no filter chain to write: no filter table
    assert all(f":{c} - [0:0]" in lines for c in changed.chains)
    assert not any(f":{c} - [0:0]" in lines for c in unchanged.chains)  # untouched chains stay as they are
    assert ":KUBE-NODEPORTS - [0:0]" not in lines  # nor are the shared chains not asked for
    assert unchanged.dispatch[0] in lines  # KUBE-SERVICES is rewritten whole
    assert lines.index(":KUBE-SEP-STALESTALESTALE - [0:0]") < lines.index("-X KUBE-SEP-STALESTALESTALE")
    assert rules.render_restore({}, [], []) == ""
    full = rules.render_restore(shared, [changed, unchanged], [], rules.JUMP_RULES, canaries=True)
    assert full.startswith("*mangle\n:KUBE-PROXY-CANARY - [0:0]\nCOMMIT\n*filter\n")
    assert '-I INPUT 1 -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service ' \
           'portals" -j KUBE-EXTERNAL-SERVICES' in full
    assert "-I POSTROUTING 1 -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING" in full
    assert "-Z" not in full.splitlines()
    large = rules.render_restore(shared, [changed, unchanged], [], load_all_chains=True)
    assert large.split("*nat\n")[1].startswith("-Z\n:KUBE-SERVICES - [0:0]\n")
    nat = full[full.index("*nat"):].splitlines()
    services = [line for line in nat if line.startswith("-A KUBE-SERVICES ")]
    assert services[-1].endswith("-j KUBE-NODEPORTS")  # the nodeports rule stays last in its chain


def test_large_clusters_drop_per_endpoint_comments() -> None:
    port = service_ports(svc())[0]
    eps = slice_endpoints([endpoint_slice("web", "10.244.2.3")], "")[("http", "TCP")]
    quiet = rules.service_rules(port, eps, CTX, comments=False)
    assert quiet.rules[1] == f"-A KUBE-SVC-CDGGSHYLG3RE2FKL -j {quiet.chains[1]}"
    assert quiet.rules[2] == f"-A {quiet.chains[1]} -s 10.244.2.3 -j KUBE-MARK-MASQ"


def test_comments_are_quoted_safely() -> None:
    assert rules.quote('a "b" \\c') == '"a \\"b\\" \\\\c"'


def test_change_tracker_reports_only_real_changes_with_the_state_before() -> None:
    state = ProxyState("worker-1")
    assert state.service_updated(svc())
    assert state.slice_updated(endpoint_slice("web", "10.244.2.3"))
    changes = state.take_changes()
    assert list(changes) == [("default", "web")] and changes[("default", "web")].ports == []
    assert not state.service_updated({**svc(), "status": {"conditions": []}})  # nothing the proxy uses
    assert state.take_changes() == {}
    state.slice_updated(endpoint_slice("web", "10.244.2.4"))
    state.slice_updated(endpoint_slice("web", "10.244.2.3"))  # and back: no net change
    assert state.take_changes() == {}
    state.slice_deleted(endpoint_slice("web", "10.244.2.3"))
    before = state.take_changes()[("default", "web")]
    assert [ep.ip for ep in before.endpoints[("http", "TCP")]] == ["10.244.2.3"]
    assert state.snapshot().endpoints_of(service_ports(svc())[0]) == []


def test_local_internal_and_external_policies_still_short_circuit_pods_through_the_cluster_chain() -> None:
    """internalTrafficPolicy Local + externalTrafficPolicy Local + a NodePort: KUBE-EXT's "pod traffic"
    rule jumps to KUBE-SVC, so that chain must exist (upstream's UsesClusterEndpoints)."""
    service = svc(type="NodePort", externalTrafficPolicy="Local", internalTrafficPolicy="Local",
                  ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}])
    f = fragment(service, endpoint_slice("web", "10.244.2.3", node="worker-2"), node="worker-1")
    jumped = {rule.split(" -j ")[-1] for rule in f.rules + f.dispatch if " -j KUBE-S" in rule}
    assert jumped <= set(f.chains), jumped - set(f.chains)


def test_iptables_restore_runs_without_fastbins_and_keeps_the_callers_tunables(monkeypatch) -> None:
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    monkeypatch.setenv("PATH", "/usr/sbin:/usr/bin")
    env = restore_environment()
    assert env["GLIBC_TUNABLES"] == "glibc.malloc.mxfast=0" and env["PATH"] == "/usr/sbin:/usr/bin"
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")
    assert restore_environment()["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2:glibc.malloc.mxfast=0"
