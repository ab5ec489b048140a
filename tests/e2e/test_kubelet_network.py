"""The kubelet's own iptables chains against the real kernel, in a scratch network namespace: written
once beside kube-proxy's identical KUBE-FIREWALL rule, and written again after the tables are wiped."""

from __future__ import annotations

import subprocess

import pytest

from kinn import netlink
from kinn.kubelet import network
from kinn.proxy.changes import ProxyState
from kinn.proxy.iptables.proxier import IptablesProxier
from kinn.proxy.node import NodeContext

pytestmark = pytest.mark.e2e

FIREWALL_RULE = ('-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet '
                 'connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP')


def saved() -> str:
    return subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout


def tables(text: str) -> dict[str, list[str]]:
    """iptables-save's output by table, without comments and counters."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("*"):
            current = found.setdefault(line[1:], [])
        elif line and not line.startswith(("#", "COMMIT")):
            current.append(line.split(" [")[0] if line.startswith(":") else line)
    return found


def test_the_kubelet_writes_its_chains_once_and_again_after_a_wipe(netns: str) -> None:
    def inside() -> tuple[bool, str, bool, str, bool, str]:
        first = network.resync_if_flushed()
        written = saved()
        again = network.resync_if_flushed()
        unchanged = saved()
        for table in ("mangle", "nat", "filter"):  # what a firewall reload does
            subprocess.run(["iptables", "-t", table, "-F"], check=True)
            subprocess.run(["iptables", "-t", table, "-X"], check=True)
        return first, written, again, unchanged, network.resync_if_flushed(), saved()

    first, written, again, unchanged, rewritten, restored = netlink.netns.run_in(netns, inside)
    assert (first, again, rewritten) == (True, False, True)
    found = tables(written)
    assert ":KUBE-IPTABLES-HINT -" in found["mangle"]
    for table in ("mangle", "nat", "filter"):
        assert ":KUBE-KUBELET-CANARY -" in found[table]
    assert found["filter"][found["filter"].index(":KUBE-KUBELET-CANARY -") + 1:] == [
        "-A INPUT -j KUBE-FIREWALL", "-A OUTPUT -j KUBE-FIREWALL", FIREWALL_RULE]
    assert tables(unchanged) == found == tables(restored)


def test_kube_proxys_identical_rule_is_not_written_twice(netns: str) -> None:
    """kube-proxy's iptables mode installs the same KUBE-FIREWALL rule and jumps; whichever starts
    second adds nothing, in either order."""
    def inside() -> tuple[str, str]:
        proxier = IptablesProxier(NodeContext(node_ip="10.240.0.21", cluster_cidr="10.244.0.0/16"))
        state = ProxyState("worker-1")
        proxier.sync(state.snapshot(), state.take_changes())
        network.resync_if_flushed()
        kubelet_second = saved()
        proxier.force_full_sync()
        proxier.sync(state.snapshot(), state.take_changes())
        return kubelet_second, saved()

    for text in netlink.netns.run_in(netns, inside):
        filter_rules = tables(text)["filter"]
        assert filter_rules.count(FIREWALL_RULE) == 1
        assert filter_rules.count("-A INPUT -j KUBE-FIREWALL") == filter_rules.count("-A OUTPUT -j KUBE-FIREWALL") == 1


def test_only_a_nodes_namespace_is_taken_for_a_node(netns: str) -> None:
    """The guard that keeps the kubelet's rules out of the host's firewall."""
    assert netlink.in_host_netns()
    assert not netlink.netns.run_in(netns, netlink.in_host_netns)
