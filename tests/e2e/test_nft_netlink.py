"""kube-proxy's partial syncs sent as netlink batches (commands.py) against nft itself, in the kernel.

Two scratch namespaces get the same full sync, one as a single `nft -f`, the other as the proxier
applies it (its Service batches as netlink batches, the rest through libnftables); then every partial sync of a
sequence of changes — endpoints replaced, a Service scaled to zero and back, Local policy
NodePorts, session affinity with a changed timeout, external and LoadBalancer IPs, UDP and SCTP, a
Service deleted, stale chains deleted — is applied to one through nft and to the other as kinn's
own netlink batch. After each, `nft list table` and nft's netlink-level dump of the table
(`--debug=netlink`: every expression, register, set and element) must be the same, for a cluster CIDR on a
byte boundary and one that is not. A refused batch commits nothing and names the refused command.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from kinn import netlink
from kinn.proxy.changes import ProxyState
from kinn.proxy.nftables import libnft, rules
from kinn.proxy.nftables.commands import compile_transaction
from kinn.proxy.nftables.libnft import NftError
from kinn.proxy.nftables.nfnetlink import Connection, Unsupported
from kinn.proxy.nftables.proxier import apply
from kinn.proxy.nftables.transaction import Transaction
from kinn.proxy.node import NodeContext

pytestmark = pytest.mark.e2e

NODE = "worker-1"


def service(name: str, cluster_ip: str, protocol: str = "TCP", port: int = 80, **spec: Any) -> dict[str, Any]:
    ports = [{"name": "p", "port": port, "protocol": protocol, **({"nodePort": 30000 + port} if "type" in spec else {})}]
    obj: dict[str, Any] = {"metadata": {"namespace": "ns", "name": name},
                           "spec": {"clusterIP": cluster_ip, "ports": ports, **spec}}
    if spec.get("type") == "LoadBalancer":
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.50"}]}}
    return obj


def endpoints(name: str, *ips: str, protocol: str = "TCP", port: int = 8080, local: tuple[str, ...] = ()) -> dict:
    return {"metadata": {"namespace": "ns", "name": f"{name}-abcde", "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "p", "port": port, "protocol": protocol}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}, **({"nodeName": NODE} if ip in local else {})}
                          for ip in ips]}


AFFINITY = {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}}}
INITIAL = [
    service("web", "10.96.0.10"), endpoints("web", "10.1.0.1", "10.1.1.1", "10.1.2.1"),
    service("dns", "10.96.0.53", "UDP", 53, type="NodePort", externalTrafficPolicy="Local"),
    endpoints("dns", "10.1.0.2", "10.1.1.2", protocol="UDP", port=53, local=("10.1.0.2",)),
    service("sticky", "10.96.0.20", **AFFINITY), endpoints("sticky", "10.1.0.3", "10.1.1.3"),
    service("sctp", "10.96.0.30", "SCTP", 9999), endpoints("sctp", "10.1.0.4", protocol="SCTP", port=9999),
]
# Each step: objects updated, and Services deleted.
STEPS: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = [
    ([endpoints("web", "10.1.0.1", "10.1.1.1", "10.1.2.9")], []),
    ([endpoints("web")], []),
    ([endpoints("web", "10.1.0.7", "10.1.2.7")], []),
    ([endpoints("dns", "10.1.0.8", "10.1.1.2", protocol="UDP", port=53, local=("10.1.0.8",))], []),
    ([endpoints("dns", "10.1.1.2", protocol="UDP", port=53)], []),
    ([service("sticky", "10.96.0.20", sessionAffinity="ClientIP",
              sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}), endpoints("sticky", "10.1.0.3")], []),
    ([service("edge", "10.96.0.40", type="LoadBalancer", externalIPs=["192.0.2.40"]),
      endpoints("edge", "10.1.0.5", "10.1.1.5")], []),
    ([], [service("sctp", "10.96.0.30", "SCTP", 9999)]),
]


def listing(netns: str, *flags: str) -> str:
    return subprocess.run(["ip", "netns", "exec", netns, "nft", *flags, "list", "table", "ip", "kube-proxy"],
                          capture_output=True, text=True, check=True).stdout


def through_nft(netns: str, *transactions: Transaction) -> None:
    """`transactions` as one `nft -f`."""
    netlink.netns.run_in(netns, libnft.run, "".join(tx.text() for tx in transactions))


def through_netlink(netns: str, tx: Transaction, connection: Connection) -> None:
    batch = compile_transaction(tx)  # Unsupported here fails the test: partial syncs must not need nft
    netlink.netns.run_in(netns, connection.commit, batch)


def assert_same_tables(by_nft: str, by_netlink: str) -> None:
    """The listings equal, and so do the dumps' lines (a hash set's elements come in an order of its
    own random seed, which the listing sorts and the dump does not)."""
    assert listing(by_netlink) == listing(by_nft)
    assert sorted(listing(by_netlink, "--debug=netlink").splitlines()) == \
        sorted(listing(by_nft, "--debug=netlink").splitlines())


def track(state: ProxyState, objects: list[dict[str, Any]], deleted: list[dict[str, Any]] = ()) -> None:
    for obj in objects:
        (state.slice_updated if "addressType" in obj else state.service_updated)(obj)
    for obj in deleted:
        state.service_deleted(obj)


@pytest.mark.parametrize("cluster_cidr", ["10.0.0.0/8", "10.0.0.0/12"])
def test_partial_syncs_as_netlink_batches_leave_the_table_nft_leaves(two_netns: tuple[str, str],
                                                                     cluster_cidr: str) -> None:
    by_nft, by_netlink = two_netns
    ctx = NodeContext(node_ip="10.240.0.21", cluster_cidr=cluster_cidr)
    state = ProxyState(NODE)
    track(state, INITIAL)
    transactions, table = rules.full_sync(state.snapshot(), ctx, 0.0, (), ())
    state.take_changes()
    connection = Connection()  # one for all the steps, as the proxier keeps one
    through_nft(by_nft, *transactions)
    for tx in transactions:  # as the proxier does: the Service batches through netlink, the last through nft
        netlink.netns.run_in(by_netlink, apply, tx, connection)
    assert_same_tables(by_nft, by_netlink)
    seen = ""  # every listing along the way: the shapes below were all encoded at some step
    for now, (updated, deleted) in enumerate(STEPS, start=1):
        track(state, updated, deleted)
        tx = rules.partial_sync(table, state.snapshot(), state.take_changes(), ctx, float(now))
        assert tx, f"step {now} changed nothing"
        through_nft(by_nft, tx)
        through_netlink(by_netlink, tx, connection)
        assert_same_tables(by_nft, by_netlink)
        seen += listing(by_netlink)
    stale = rules.delete_chains(rules.due_stale_chains(table, float(len(STEPS) + 5)))
    assert stale
    through_nft(by_nft, stale)
    through_netlink(by_netlink, stale, connection)
    connection.close()
    assert_same_tables(by_nft, by_netlink)
    for shape in ("numgen random mod 2 vmap", "update @affinity-", "ip saddr @affinity-", "fib saddr type local goto",
                  "short-circuit pod traffic", "meta l4proto sctp dnat to", "udp dport 53 ip saddr !=",
                  "192.0.2.40 . tcp . 80 : goto external-", "goto reject-chain"):
        assert shape in seen, shape


def test_a_transaction_it_cannot_encode_goes_through_nft_whole(two_netns: tuple[str, str]) -> None:
    """loadBalancerSourceRanges' anonymous interval set is not encoded here: apply() hands the whole
    transaction to libnftables, with the same result."""
    by_nft, by_netlink = two_netns
    connection = Connection()
    ctx = NodeContext(node_ip="10.240.0.21", cluster_cidr="10.0.0.0/8")
    state = ProxyState(NODE)
    track(state, INITIAL[:2])
    transactions, table = rules.full_sync(state.snapshot(), ctx, 0.0, (), ())
    state.take_changes()
    with pytest.raises(Unsupported):
        compile_transaction(transactions[-1])  # a full sync's last: base chains, maps, flushes
    through_nft(by_nft, *transactions)
    for tx in transactions:
        netlink.netns.run_in(by_netlink, apply, tx, connection)
    track(state, [service("web", "10.96.0.10", type="LoadBalancer", loadBalancerSourceRanges=["192.0.2.0/24"])])
    tx = rules.partial_sync(table, state.snapshot(), state.take_changes(), ctx, 1.0)
    with pytest.raises(Unsupported, match=r"in rule 'ip saddr != \{ 192.0.2.0/24 \} drop'"):
        compile_transaction(tx)
    through_nft(by_nft, tx)
    netlink.netns.run_in(by_netlink, apply, tx, connection)
    assert_same_tables(by_nft, by_netlink)
    assert "firewall-" in listing(by_netlink)


def test_a_refused_batch_commits_nothing_and_names_the_command(two_netns: tuple[str, str]) -> None:
    _, netns = two_netns
    netlink.netns.run_in(netns, libnft.run, "add table ip kube-proxy\nadd chain ip kube-proxy existing\n")
    tx = Transaction("ip", "kube-proxy")
    tx.add_chain("fresh")
    tx.add_rule("fresh", "ip saddr 10.1.0.1 jump existing")
    tx.add_rule("existing", "meta l4proto tcp dnat to 10.1.0.1:80")
    tx.add_rule("fresh", "goto missing")
    with pytest.raises(NftError, match=r"No such file or directory .* in: add rule ip kube-proxy fresh goto missing"):
        netlink.netns.run_in(netns, Connection().commit, compile_transaction(tx))
    listed = listing(netns)
    assert "fresh" not in listed and "dnat" not in listed
