"""The nftables proxy mode's transactions as exact `nft -f` text: names and hashes as upstream's
test vectors, the setup of a full sync, each kind of service port, and partial syncs that touch only
what changed (the same text whatever the number of other Services)."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from kinn.proxy.changes import ProxyState, Snapshot
from kinn.proxy.nftables import rules
from kinn.proxy.nftables.elements import Element, ElementStore
from kinn.proxy.nftables.transaction import Transaction
from kinn.proxy.node import NodeContext
from kinn.proxy.serviceport import service_ports

NODE = "worker-1"
CTX = NodeContext(node_ip="10.240.0.21", cluster_cidr="10.0.0.0/8")
TCP80 = [{"name": "p80", "port": 80, "protocol": "TCP"}]


def service(ns: str, name: str, cluster_ip: str, ports: list[dict[str, Any]] = TCP80, lb_ips: tuple[str, ...] = (),
            **spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"namespace": ns, "name": name},
                           "spec": {"clusterIP": cluster_ip, "ports": ports, **spec}}
    if lb_ips:
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in lb_ips]}}
    return obj


def endpoint_slice(ns: str, name: str, *ips: str, ports: list[dict[str, Any]] = TCP80, local: tuple[str, ...] = (),
                   ready: bool = True) -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": f"{name}-abcde", "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": ports,
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready},
                           **({"nodeName": NODE} if ip in local else {})} for ip in ips]}


def tracked(*objects: dict[str, Any]) -> ProxyState:
    state = ProxyState(NODE)
    for obj in objects:
        if "addressType" in obj:
            state.slice_updated(obj)
        else:
            state.service_updated(obj)
    state.take_changes()
    return state


def full(snapshot: Snapshot, existing_chains: tuple[str, ...] = (), existing_sets: tuple[str, ...] = (),
         ctx: NodeContext = CTX) -> tuple[list[str], rules.TableState]:
    """A full sync's transactions, as text, and the state it leaves."""
    transactions, state = rules.full_sync(snapshot, ctx, 100.0, existing_chains, existing_sets)
    return [tx.text() for tx in transactions], state


def lines(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


SVC1 = "service-ULMVA6XW-ns1/svc1/tcp/p80"
EP1 = "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
EP2 = "endpoint-2ZNDXFAB-ns1/svc1/tcp/p80__10.180.0.2/80"

# What a full sync's transactions of Service chains start with, and its last transaction.
BATCH = lines("""
    add table ip kube-proxy { comment "rules for kube-proxy" ; }
    add chain ip kube-proxy mark-for-masquerade
""")
SETUP = lines("""
    add table ip kube-proxy { comment "rules for kube-proxy" ; }
    add chain ip kube-proxy filter-prerouting { type filter hook prerouting priority -110 ; }
    flush chain ip kube-proxy filter-prerouting
    add chain ip kube-proxy filter-input { type filter hook input priority -110 ; }
    flush chain ip kube-proxy filter-input
    add chain ip kube-proxy filter-forward { type filter hook forward priority -110 ; }
    flush chain ip kube-proxy filter-forward
    add chain ip kube-proxy filter-output { type filter hook output priority -110 ; }
    flush chain ip kube-proxy filter-output
    add chain ip kube-proxy filter-output-post-dnat { type filter hook output priority -90 ; }
    flush chain ip kube-proxy filter-output-post-dnat
    add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }
    flush chain ip kube-proxy nat-prerouting
    add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }
    flush chain ip kube-proxy nat-output
    add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority 100 ; }
    flush chain ip kube-proxy nat-postrouting
    add chain ip kube-proxy nodeport-endpoints-check
    flush chain ip kube-proxy nodeport-endpoints-check
    add rule ip kube-proxy filter-input ct state new jump nodeport-endpoints-check
    add chain ip kube-proxy service-endpoints-check
    flush chain ip kube-proxy service-endpoints-check
    add rule ip kube-proxy filter-input ct state new jump service-endpoints-check
    add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check
    add rule ip kube-proxy filter-output ct state new jump service-endpoints-check
    add chain ip kube-proxy firewall-check
    flush chain ip kube-proxy firewall-check
    add rule ip kube-proxy filter-prerouting ct state new jump firewall-check
    add rule ip kube-proxy filter-output ct state new jump firewall-check
    add chain ip kube-proxy services
    flush chain ip kube-proxy services
    add rule ip kube-proxy nat-output jump services
    add rule ip kube-proxy nat-prerouting jump services
    add chain ip kube-proxy masquerading
    flush chain ip kube-proxy masquerading
    add rule ip kube-proxy nat-postrouting jump masquerading
    add chain ip kube-proxy cluster-ips-check
    flush chain ip kube-proxy cluster-ips-check
    add rule ip kube-proxy filter-forward ct state new jump cluster-ips-check
    add rule ip kube-proxy filter-output-post-dnat ct state new jump cluster-ips-check
    add chain ip kube-proxy mark-for-masquerade
    flush chain ip kube-proxy mark-for-masquerade
    add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000
    add rule ip kube-proxy masquerading mark and 0x4000 == 0 return
    add rule ip kube-proxy masquerading mark set mark xor 0x4000
    add rule ip kube-proxy masquerading masquerade fully-random
    add set ip kube-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }
    add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
    add set ip kube-proxy nodeport-ips { type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }
    flush set ip kube-proxy nodeport-ips
    add element ip kube-proxy nodeport-ips { 10.240.0.21 }
    add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }
    add map ip kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }
    add chain ip kube-proxy reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }
    flush chain ip kube-proxy reject-chain
    add rule ip kube-proxy reject-chain reject
    add rule ip kube-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services
    add rule ip kube-proxy nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports
    add map ip kube-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }
    add rule ip kube-proxy firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips
    add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }
    add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }
    add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips
    add rule ip kube-proxy services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
    flush set ip kube-proxy cluster-ips
    flush map ip kube-proxy service-ips
    flush map ip kube-proxy firewall-ips
    flush map ip kube-proxy no-endpoint-services
    flush map ip kube-proxy no-endpoint-nodeports
    flush map ip kube-proxy service-nodeports
""")


# --- names --------------------------------------------------------------------------------------

def test_chain_names_match_upstream_vectors() -> None:
    [svc1] = service_ports(service("ns1", "svc1", "172.30.0.41"))
    [kubernetes] = service_ports(service("default", "kubernetes", "10.96.0.1",
                                         [{"name": "https", "port": 443, "protocol": "TCP"}]))
    assert rules.chain_name_base(svc1) == "ULMVA6XW-ns1/svc1/tcp/p80"
    assert rules.chain_name_base(kubernetes) == "2QRHZV4L-default/kubernetes/tcp/https"
    ep = tracked(endpoint_slice("default", "kubernetes", "10.128.0.16",
                                ports=[{"name": "https", "port": 6443, "protocol": "TCP"}]))
    [endpoint] = ep.snapshot().endpoints[("default", "kubernetes")][("https", "TCP")]
    assert rules.endpoint_chain_name_base(kubernetes, endpoint) == "573J25N3-default/kubernetes/tcp/https__10.128.0.16/6443"


def test_unnamed_port_keeps_its_slash_and_long_names_are_cut_with_their_hash() -> None:
    [port] = service_ports(service("ns6", "svc6", "172.30.0.46", [{"port": 53, "protocol": "UDP"}]))
    assert rules.chain_name_base(port) == "HMKLSZJU-ns6/svc6/udp/"
    # Only an IPv6 endpoint (its colons written as dots) can make a name this long.
    long = rules.hash_and_truncate("n" * 63 + "/" + "s" * 63 + "/sctp/" + "p" * 63 + "__fd00.1234.5678.9abc.def0.1234.5678.9abc/65535")
    assert len(long) == rules.CHAIN_NAME_BASE_MAX and long.endswith("...") and long[8] == "-"
    assert rules.is_service_chain("service-" + rules.chain_name_base(port)) and not rules.is_service_chain("services")


# --- full sync ----------------------------------------------------------------------------------

def test_full_sync_of_a_cluster_ip_service() -> None:
    texts, state = full(tracked(service("ns1", "svc1", "172.30.0.41"),
                                endpoint_slice("ns1", "svc1", "10.180.0.1")).snapshot())
    assert texts == [BATCH + lines(f"""
        add chain ip kube-proxy {EP1}
        flush chain ip kube-proxy {EP1}
        add chain ip kube-proxy {SVC1}
        flush chain ip kube-proxy {SVC1}
        add rule ip kube-proxy {SVC1} ip daddr 172.30.0.41 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
        add rule ip kube-proxy {SVC1} numgen random mod 1 vmap {{ 0 : goto {EP1} }}
        add rule ip kube-proxy {EP1} ip saddr 10.180.0.1 jump mark-for-masquerade
        add rule ip kube-proxy {EP1} meta l4proto tcp dnat to 10.180.0.1:80
    """), SETUP + lines(f"""
        add element ip kube-proxy cluster-ips {{ 172.30.0.41 }}
        add element ip kube-proxy service-ips {{ 172.30.0.41 . tcp . 80 : goto {SVC1} }}
    """)]
    assert state.stale_chains == {}


def test_a_full_sync_writes_service_chains_in_batches_and_switches_maps_last(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each Service whole within one batch; no map element before the last transaction, which holds them all."""
    monkeypatch.setattr(rules, "FULL_SYNC_BATCH", 2)
    objects = [o for i in range(5) for o in (service("ns1", f"svc{i}", f"172.30.0.{i + 1}"),
                                            endpoint_slice("ns1", f"svc{i}", f"10.180.0.{i + 1}"))]
    *batches, last = full(tracked(*objects).snapshot())[0]
    assert [b.count("numgen random") for b in batches] == [2, 2, 1]
    assert all(b.startswith(BATCH) and "element" not in b for b in batches)
    assert last.startswith(SETUP) and last.count("add element ip kube-proxy service-ips") == 5


def test_full_sync_flushes_leftover_service_chains_and_deletes_leftover_affinity_sets() -> None:
    gone = "endpoint-AAAAAAAA-ns1/old/tcp/p80__10.1.1.1/80"
    texts, state = full(tracked().snapshot(), existing_chains=("services", "reject-chain", gone),
                        existing_sets=("cluster-ips", "affinity-AAAAAAAA-ns1/old/tcp/p80__10.1.1.1/80"))
    assert texts == [SETUP + lines(f"""
        flush chain ip kube-proxy {gone}
        delete set ip kube-proxy affinity-AAAAAAAA-ns1/old/tcp/p80__10.1.1.1/80
    """)]
    assert state.stale_chains == {gone: 100.0}


def test_masquerade_all_and_no_cluster_cidr() -> None:
    snapshot = tracked(service("ns1", "svc1", "172.30.0.41"), endpoint_slice("ns1", "svc1", "10.180.0.1")).snapshot()
    [port] = snapshot.services[("ns1", "svc1")]
    endpoints = snapshot.endpoints_of(port)
    everything = rules.service_objects(port, endpoints, NodeContext("10.240.0.21", masquerade_all=True))
    assert everything.rules[0] == rules.Rule(SVC1, "ip daddr 172.30.0.41 tcp dport 80 jump mark-for-masquerade")
    nothing = rules.service_objects(port, endpoints, NodeContext("10.240.0.21"))
    assert nothing.rules[0] == rules.Rule(SVC1, f"numgen random mod 1 vmap {{ 0 : goto {EP1} }}")


def objects_text(*objects: dict[str, Any]) -> str:
    """What service objects contribute to a full sync: their chains and rules, then their elements."""
    (batch, last), _ = full(tracked(*objects).snapshot())
    assert batch.startswith(BATCH) and last.startswith(SETUP)
    return batch[len(BATCH):] + last[len(SETUP):]


def test_load_balancer_with_local_policy_and_no_local_endpoint() -> None:
    """Upstream's svc2: only a remote endpoint, so external traffic is dropped unless short-circuited."""
    svc, ext, ep = ("service-42NFTM6N-ns2/svc2/tcp/p80", "external-42NFTM6N-ns2/svc2/tcp/p80",
                    "endpoint-SGOXE6O3-ns2/svc2/tcp/p80__10.180.0.2/80")
    assert objects_text(
        service("ns2", "svc2", "172.30.0.42", [{"name": "p80", "port": 80, "protocol": "TCP", "nodePort": 3001}],
                lb_ips=("1.2.3.4",), type="LoadBalancer", externalTrafficPolicy="Local",
                externalIPs=["192.168.99.22"], healthCheckNodePort=30000),
        endpoint_slice("ns2", "svc2", "10.180.0.2")) == lines(f"""
        add chain ip kube-proxy {ep}
        flush chain ip kube-proxy {ep}
        add chain ip kube-proxy {svc}
        flush chain ip kube-proxy {svc}
        add chain ip kube-proxy {ext}
        flush chain ip kube-proxy {ext}
        add rule ip kube-proxy {svc} ip daddr 172.30.0.42 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
        add rule ip kube-proxy {ext} ip saddr 10.0.0.0/8 goto {svc} comment "short-circuit pod traffic"
        add rule ip kube-proxy {ext} fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"
        add rule ip kube-proxy {ext} fib saddr type local goto {svc} comment "short-circuit local traffic"
        add rule ip kube-proxy {svc} numgen random mod 1 vmap {{ 0 : goto {ep} }}
        add rule ip kube-proxy {ep} ip saddr 10.180.0.2 jump mark-for-masquerade
        add rule ip kube-proxy {ep} meta l4proto tcp dnat to 10.180.0.2:80
        add element ip kube-proxy cluster-ips {{ 172.30.0.42 }}
        add element ip kube-proxy service-ips {{ 172.30.0.42 . tcp . 80 : goto {svc} }}
        add element ip kube-proxy service-ips {{ 192.168.99.22 . tcp . 80 : goto {ext} }}
        add element ip kube-proxy no-endpoint-services {{ 192.168.99.22 . tcp . 80 comment "ns2/svc2:p80" : drop }}
        add element ip kube-proxy service-ips {{ 1.2.3.4 . tcp . 80 : goto {ext} }}
        add element ip kube-proxy no-endpoint-services {{ 1.2.3.4 . tcp . 80 comment "ns2/svc2:p80" : drop }}
        add element ip kube-proxy service-nodeports {{ tcp . 3001 : goto {ext} }}
        add element ip kube-proxy no-endpoint-nodeports {{ tcp . 3001 comment "ns2/svc2:p80" : drop }}
    """)


def test_local_policy_with_a_local_endpoint_goes_to_the_local_chain() -> None:
    text = objects_text(
        service("ns3", "svc3", "172.30.0.43", [{"name": "p80", "port": 80, "protocol": "TCP", "nodePort": 3003}],
                type="NodePort", externalTrafficPolicy="Local"),
        endpoint_slice("ns3", "svc3", "10.180.0.3", "10.180.0.4", local=("10.180.0.4",)))
    local, ext = "local-4AT6LBPK-ns3/svc3/tcp/p80", "external-4AT6LBPK-ns3/svc3/tcp/p80"
    assert f"add rule ip kube-proxy {ext} goto {local}\n" in text
    assert f"add rule ip kube-proxy {local} numgen random mod 1 vmap {{ 0 : goto endpoint-" in text
    assert f"add element ip kube-proxy service-nodeports {{ tcp . 3003 : goto {ext} }}\n" in text
    assert "no-endpoint" not in text


def test_load_balancer_with_source_ranges_and_session_affinity() -> None:
    """Upstream's svc5 (Cluster policy), with the node inside one of the ranges."""
    svc, ext, fw = ("service-HVFWP5L3-ns5/svc5/tcp/p80", "external-HVFWP5L3-ns5/svc5/tcp/p80",
                    "firewall-HVFWP5L3-ns5/svc5/tcp/p80")
    ep, aff = "endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80", "affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80"
    assert objects_text(
        service("ns5", "svc5", "172.30.0.45", [{"name": "p80", "port": 80, "protocol": "TCP", "nodePort": 3002}],
                lb_ips=("5.6.7.8",), type="LoadBalancer", externalTrafficPolicy="Cluster",
                loadBalancerSourceRanges=[" 203.0.113.0/25", "10.240.0.0/24"], sessionAffinity="ClientIP",
                sessionAffinityConfig={"clientIP": {"timeoutSeconds": 10800}}),
        endpoint_slice("ns5", "svc5", "10.180.0.3")) == lines(f"""
        add chain ip kube-proxy {ep}
        flush chain ip kube-proxy {ep}
        add chain ip kube-proxy {svc}
        flush chain ip kube-proxy {svc}
        add chain ip kube-proxy {ext}
        flush chain ip kube-proxy {ext}
        add chain ip kube-proxy {fw}
        flush chain ip kube-proxy {fw}
        add set ip kube-proxy {aff} {{ type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }}
        add rule ip kube-proxy {svc} ip daddr 172.30.0.45 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
        add rule ip kube-proxy {ext} jump mark-for-masquerade
        add rule ip kube-proxy {ext} goto {svc}
        add rule ip kube-proxy {fw} ip saddr != {{ 203.0.113.0/25 , 10.240.0.0/24 , 5.6.7.8 }} drop
        add rule ip kube-proxy {svc} ip saddr @{aff} goto {ep}
        add rule ip kube-proxy {svc} numgen random mod 1 vmap {{ 0 : goto {ep} }}
        add rule ip kube-proxy {ep} ip saddr 10.180.0.3 jump mark-for-masquerade
        add rule ip kube-proxy {ep} update @{aff} {{ ip saddr }}
        add rule ip kube-proxy {ep} meta l4proto tcp dnat to 10.180.0.3:80
        add element ip kube-proxy cluster-ips {{ 172.30.0.45 }}
        add element ip kube-proxy service-ips {{ 172.30.0.45 . tcp . 80 : goto {svc} }}
        add element ip kube-proxy service-ips {{ 5.6.7.8 . tcp . 80 : goto {ext} }}
        add element ip kube-proxy firewall-ips {{ 5.6.7.8 . tcp . 80 : goto {fw} }}
        add element ip kube-proxy service-nodeports {{ tcp . 3002 : goto {ext} }}
    """)


def test_service_without_endpoints_is_rejected_and_gets_no_chains() -> None:
    assert objects_text(service("ns6", "svc6", "172.30.0.46", [{"port": 53, "protocol": "UDP", "nodePort": 30053}],
                                type="NodePort", externalIPs=["192.0.2.9"])) == lines("""
        add element ip kube-proxy cluster-ips { 172.30.0.46 }
        add element ip kube-proxy no-endpoint-services { 172.30.0.46 . udp . 53 comment "ns6/svc6" : goto reject-chain }
        add element ip kube-proxy no-endpoint-services { 192.0.2.9 . udp . 53 comment "ns6/svc6" : goto reject-chain }
        add element ip kube-proxy no-endpoint-nodeports { udp . 30053 comment "ns6/svc6" : goto reject-chain }
    """)


def test_numgen_spreads_over_every_ready_endpoint_in_order() -> None:
    text = objects_text(service("ns4", "svc4", "172.30.0.44"),
                        endpoint_slice("ns4", "svc4", "10.180.0.5", "10.180.0.4", "10.180.0.6"),
                        {**endpoint_slice("ns4", "svc4", "10.180.0.7", ready=False),
                         "metadata": {"namespace": "ns4", "name": "svc4-unready",
                                      "labels": {"kubernetes.io/service-name": "svc4"}}})
    assert ("numgen random mod 3 vmap { 0 : goto endpoint-UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80 , "
            "1 : goto endpoint-5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80 , 2 : goto endpoint-") in text
    assert "10.180.0.7" not in text


# --- partial syncs -------------------------------------------------------------------------------

def scaled(state: ProxyState, table: rules.TableState, *objects: dict[str, Any], now: float = 200.0,
           deleted: tuple[dict[str, Any], ...] = ()) -> str:
    for obj in objects:
        if "addressType" in obj:
            state.slice_updated(obj)
        else:
            state.service_updated(obj)
    for obj in deleted:
        state.service_deleted(obj)
    return rules.partial_sync(table, state.snapshot(), state.take_changes(), CTX, now).text()


def svc1_chains(*endpoints: tuple[str, str]) -> str:
    """svc1's chains as a sync writes them (spelled out in test_full_sync_of_a_cluster_ip_service),
    for its endpoints as (chain, ip) pairs."""
    text = "".join(f"add chain ip kube-proxy {c}\nflush chain ip kube-proxy {c}\n" for c, _ in (*endpoints, (SVC1, "")))
    choices = " , ".join(f"{i} : goto {chain}" for i, (chain, _) in enumerate(endpoints))
    text += (f"add rule ip kube-proxy {SVC1} ip daddr 172.30.0.41 tcp dport 80 ip saddr != 10.0.0.0/8 "
             f"jump mark-for-masquerade\n"
             f"add rule ip kube-proxy {SVC1} numgen random mod {len(endpoints)} vmap {{ {choices} }}\n")
    return text + "".join(f"add rule ip kube-proxy {chain} ip saddr {ip} jump mark-for-masquerade\n"
                          f"add rule ip kube-proxy {chain} meta l4proto tcp dnat to {ip}:80\n" for chain, ip in endpoints)


def test_one_endpoint_more_rewrites_the_service_chains_and_no_element() -> None:
    tracker = tracked(service("ns1", "svc1", "172.30.0.41"), endpoint_slice("ns1", "svc1", "10.180.0.1"))
    _, table = full(tracker.snapshot())
    assert scaled(tracker, table, endpoint_slice("ns1", "svc1", "10.180.0.1", "10.180.0.2")) == \
        svc1_chains((EP1, "10.180.0.1"), (EP2, "10.180.0.2"))
    assert scaled(tracker, table) == ""  # nothing changed: no transaction at all


def test_scaling_to_zero_and_back_moves_the_elements_and_retires_chains_a_second_later() -> None:
    tracker = tracked(service("ns1", "svc1", "172.30.0.41"), endpoint_slice("ns1", "svc1", "10.180.0.1"))
    _, table = full(tracker.snapshot())
    assert scaled(tracker, table, endpoint_slice("ns1", "svc1"), now=200.0) == lines(f"""
        flush chain ip kube-proxy {EP1}
        flush chain ip kube-proxy {SVC1}
        delete element ip kube-proxy service-ips {{ 172.30.0.41 . tcp . 80 }}
        add element ip kube-proxy no-endpoint-services {{ 172.30.0.41 . tcp . 80 comment "ns1/svc1:p80" : goto reject-chain }}
    """)
    assert table.stale_chains == {EP1: 200.0, SVC1: 200.0}
    assert rules.due_stale_chains(table, 200.9) == []
    assert rules.due_stale_chains(table, 201.0) == [EP1, SVC1]
    assert rules.delete_chains([EP1, SVC1]).text() == f"delete chain ip kube-proxy {EP1}\ndelete chain ip kube-proxy {SVC1}\n"

    assert scaled(tracker, table, endpoint_slice("ns1", "svc1", "10.180.0.2"), now=200.5) == \
        svc1_chains((EP2, "10.180.0.2")) + lines(f"""
        delete element ip kube-proxy no-endpoint-services {{ 172.30.0.41 . tcp . 80 }}
        add element ip kube-proxy service-ips {{ 172.30.0.41 . tcp . 80 : goto {SVC1} }}
    """)
    assert table.stale_chains == {EP1: 200.0}  # the service chain is in use again: never deleted


def test_a_partial_sync_does_not_grow_with_the_number_of_services() -> None:
    def one_change(others: int) -> str:
        objects = [service("ns1", "svc1", "172.30.0.41"), endpoint_slice("ns1", "svc1", "10.180.0.1")]
        for i in range(others):
            objects += [service("bulk", f"svc{i}", f"172.31.{i // 250}.{i % 250 + 1}"),
                        endpoint_slice("bulk", f"svc{i}", *(f"10.181.{i // 25}.{i % 25 * 10 + j}" for j in range(10)))]
        tracker = tracked(*objects)
        _, table = full(tracker.snapshot())
        return scaled(tracker, table, endpoint_slice("ns1", "svc1", "10.180.0.1", "10.180.0.2"))

    assert one_change(0) == one_change(500)


def test_deleted_service_and_changed_affinity_timeout() -> None:
    sticky = dict(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})
    tracker = tracked(service("ns1", "svc1", "172.30.0.41", **sticky), endpoint_slice("ns1", "svc1", "10.180.0.1"))
    _, table = full(tracker.snapshot())
    aff = "affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
    longer = dict(sticky, sessionAffinityConfig={"clientIP": {"timeoutSeconds": 120}})
    text = scaled(tracker, table, service("ns1", "svc1", "172.30.0.41", **longer))
    assert f"delete set ip kube-proxy {aff}\nadd set ip kube-proxy {aff} {{ type ipv4_addr ; flags dynamic,timeout ; timeout 120s ; }}\n" in text
    assert "element" not in text
    assert scaled(tracker, table, deleted=(service("ns1", "svc1", "172.30.0.41"),), now=300.0) == lines(f"""
        flush chain ip kube-proxy {EP1}
        flush chain ip kube-proxy {SVC1}
        delete set ip kube-proxy {aff}
        delete element ip kube-proxy cluster-ips {{ 172.30.0.41 }}
        delete element ip kube-proxy service-ips {{ 172.30.0.41 . tcp . 80 }}
    """)
    assert table.objects == {} and table.elements.applied == {}


# --- elements shared by several Services --------------------------------------------------------

def test_an_element_two_services_claim_stays_until_neither_does() -> None:
    store, tx = ElementStore(), Transaction("ip", "kube-proxy")
    a = Element("service-ips", "192.0.2.9 . tcp . 80", "goto external-A")
    b = Element("service-ips", "192.0.2.9 . tcp . 80", "goto external-B")
    store.reconcile(tx, store.claim(("ns", "b"), (), [b]) + store.claim(("ns", "a"), (), [a]))
    store.reconcile(tx, store.claim(("ns", "a"), [a], []))
    store.reconcile(tx, store.claim(("ns", "b"), [b], []))
    assert tx.text() == lines("""
        add element ip kube-proxy service-ips { 192.0.2.9 . tcp . 80 : goto external-A }
        delete element ip kube-proxy service-ips { 192.0.2.9 . tcp . 80 }
        add element ip kube-proxy service-ips { 192.0.2.9 . tcp . 80 : goto external-B }
        delete element ip kube-proxy service-ips { 192.0.2.9 . tcp . 80 }
    """)
