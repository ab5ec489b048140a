"""The iptables proxier against the real kernel, in a scratch network namespace: odd but valid
Services and 10,000 endpoints still make a rule set iptables-restore accepts, syncs are idempotent
(no duplicated jump rules), stale chains go, and a flushed table comes back through the canary."""

from __future__ import annotations

import subprocess

import pytest

from kinn import netlink
from kinn.proxy.changes import ProxyState
from kinn.proxy.iptables.proxier import IptablesProxier
from kinn.proxy.node import NodeContext

pytestmark = pytest.mark.e2e

CTX = NodeContext(node_ip="10.240.0.21", cluster_cidr="10.244.0.0/16")


def service(name: str, ports: list[dict], **spec: object) -> dict:
    return {"metadata": {"name": name, "namespace": "odd-ns"},
            "spec": {"clusterIP": "10.96.7.7", "type": "ClusterIP", "ports": ports, **spec}}


def endpoint_slice(name: str, ips: list[str], ports: list[dict]) -> dict:
    return {"metadata": {"name": f"{name}-x", "namespace": "odd-ns", "labels": {"kubernetes.io/service-name": name}},
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips], "ports": ports}


def sync(netns: str, proxier: IptablesProxier, state: ProxyState) -> str:
    """One sync in `netns`; returns the tables as iptables-save prints them, less its `# Generated … on
    <time>` / `# Completed on <time>` lines (two saves a second apart would differ there alone)."""
    def inside() -> str:
        proxier.sync(state.snapshot(), state.take_changes())
        saved = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
        return "".join(line for line in saved.splitlines(keepends=True) if not line.startswith("#"))
    return netlink.netns.run_in(netns, inside)


def test_odd_services_make_valid_rules_and_syncs_are_idempotent(netns: str) -> None:
    state, proxier = ProxyState("worker-1"), IptablesProxier(CTX)
    # An unnamed port, TCP and UDP on one port number, SCTP, a port that is every kind of external.
    ports = [{"port": 53, "protocol": "UDP", "name": "dns"}, {"port": 53, "protocol": "TCP", "name": "dns-tcp"},
             {"port": 9, "protocol": "SCTP", "name": "sctp"}]
    state.service_updated(service("multi", ports))
    state.slice_updated(endpoint_slice("multi", ["10.244.2.3"], ports))
    state.service_updated(service("unnamed", [{"port": 80, "protocol": "TCP", "nodePort": 30080}], type="NodePort",
                                  clusterIP="10.96.7.8", externalIPs=["10.240.0.99"], sessionAffinity="ClientIP",
                                  externalTrafficPolicy="Local", internalTrafficPolicy="Local"))
    state.slice_updated(endpoint_slice("unnamed", ["10.244.2.4"], [{"port": 8080, "protocol": "TCP"}]))
    saved = sync(netns, proxier, state)
    assert '-A KUBE-SERVICES -d 10.96.7.7/32 -p sctp -m comment --comment "odd-ns/multi:sctp cluster IP" ' \
           '-m sctp --dport 9 -j KUBE-SVC-' in saved
    assert '-A KUBE-NODEPORTS -p tcp -m comment --comment "odd-ns/unnamed" -m tcp --dport 30080' in saved  # no ":"
    assert '"odd-ns/unnamed has no local endpoints"' in saved
    proxier.force_full_sync()
    again = sync(netns, proxier, state)
    assert again.count("-j KUBE-SERVICES") == saved.count("-j KUBE-SERVICES") == 4  # nat ×2, filter ×2
    assert again.count("-j KUBE-POSTROUTING") == 1
    state.service_deleted(service("multi", ports))
    after = sync(netns, proxier, state)
    assert "odd-ns/multi" not in after
    assert after.count(":KUBE-SEP-") == 1  # only unnamed's endpoint chain is left


def test_ten_thousand_endpoints_drop_comments_and_still_restore(netns: str) -> None:
    state, proxier = ProxyState("worker-1"), IptablesProxier(CTX)
    ports = [{"port": 80, "protocol": "TCP", "name": "http"}]
    state.service_updated(service("big", ports))
    ips = [f"10.{244 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}" for i in range(10_000)]
    state.slice_updated(endpoint_slice("big", ips, ports))
    saved = sync(netns, proxier, state)
    assert saved.count("-j DNAT --to-destination") == 10_000
    assert "odd-ns/big:http ->" not in saved  # large-cluster mode: no per-endpoint comments
    assert proxier.last_restore.split("*nat\n")[1].startswith("-Z\n")  # and the whole table is loaded at once
    first = next(line for line in saved.splitlines() if "--probability" in line)
    assert abs(float(first.split("--probability ")[1].split()[0]) - 1 / 10_000) < 1e-8  # the first of 10,000


def test_a_flushed_table_is_noticed_and_rebuilt(netns: str) -> None:
    state, proxier = ProxyState("worker-1"), IptablesProxier(CTX)
    ports = [{"port": 80, "protocol": "TCP", "name": "http"}]
    state.service_updated(service("web", ports))
    state.slice_updated(endpoint_slice("web", ["10.244.2.3"], ports))
    sync(netns, proxier, state)

    def flush_and_check() -> bool:
        for table in ("mangle", "nat", "filter"):
            subprocess.run(["iptables", "-t", table, "-F"], check=True)
            subprocess.run(["iptables", "-t", table, "-X"], check=True)
        return proxier.canaries_present()

    assert not netlink.netns.run_in(netns, flush_and_check)
    proxier.force_full_sync()  # what the proxy server does when the canary is gone
    assert "-j DNAT --to-destination 10.244.2.3:80" in sync(netns, proxier, state)


def test_a_partial_sync_writes_only_what_changed_and_leaves_what_a_full_sync_would(netns: str) -> None:
    state, proxier = ProxyState("worker-1"), IptablesProxier(CTX)
    ports = [{"port": 80, "protocol": "TCP", "name": "http"}]
    for name, ip, backend in (("web", "10.96.7.7", "10.244.2.3"), ("api", "10.96.7.8", "10.244.2.4")):
        state.service_updated(service(name, ports, clusterIP=ip))
        state.slice_updated(endpoint_slice(name, [backend], ports))
    sync(netns, proxier, state)
    state.slice_updated(endpoint_slice("web", ["10.244.2.9"], ports))  # web's pod replaced
    assert "-j DNAT --to-destination 10.244.2.9:80" in sync(netns, proxier, state)
    assert ":KUBE-SERVICES" not in proxier.last_restore  # its rules are as they were: not rewritten
    assert "*filter" not in proxier.last_restore and "odd-ns/api" not in proxier.last_restore
    state.service_updated(service("db", ports, clusterIP="10.96.7.9"))
    state.slice_updated(endpoint_slice("db", ["10.244.2.5"], ports))
    after = sync(netns, proxier, state)
    assert ":KUBE-SERVICES - [0:0]" in proxier.last_restore  # a new dispatch rule: rewritten whole
    proxier.force_full_sync()
    assert sync(netns, proxier, state) == after
