"""Cutting one Service's rules out of a node's whole rule set, on captures from live kinn nodes
(tests/unit/fixtures/topology: iptables-save and conntrack -L of worker-1 of an iptables-mode cluster,
`nft list table ip kube-proxy` of an nftables-mode cluster)."""

from __future__ import annotations

from pathlib import Path

from kinn.explain.rules import conntrack_entries, iptables_service_rules, nft_service_rules, parse_save

FIXTURES = Path(__file__).parent / "fixtures/topology"
SAVED = (FIXTURES / "iptables-save.txt").read_text()


def test_service_rules_are_its_dispatch_rules_and_every_chain_they_lead_to() -> None:
    found = iptables_service_rules(SAVED, "default/web")
    assert list(found) == ["nat"]
    nat = found["nat"]
    chains = {line.split()[1] for line in nat}
    assert chains == {"KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-EXT-CDGGSHYLG3RE2FKL", "KUBE-SVC-CDGGSHYLG3RE2FKL",
                      "KUBE-SEP-2AZ33KU3V5PGPQZH", "KUBE-SEP-4EX2N4PG4ASNZOBF", "KUBE-SEP-LOQZ6LJZSXX5P3TW",
                      "KUBE-SEP-VQGOCFX4X6FWJPNR"}
    # the uncommented jump KUBE-EXT → KUBE-SVC is found by following the chain, not by its comment
    assert "-A KUBE-EXT-CDGGSHYLG3RE2FKL -j KUBE-SVC-CDGGSHYLG3RE2FKL" in nat
    assert sum("-j DNAT --to-destination 10.244." in line for line in nat) == 4
    # every rule of those chains, and nothing of other services
    all_nat = parse_save(SAVED)["nat"]
    expected = [line for line in all_nat if line.split()[1] in chains - {"KUBE-SERVICES", "KUBE-NODEPORTS"}
                or "default/web:http" in line]
    assert sorted(nat) == sorted(expected)
    # in the order a packet meets them: dispatch, then KUBE-EXT, KUBE-SVC, KUBE-SEP; each chain in its own order
    kinds = [line.split()[1].split("-")[1] for line in nat]
    assert kinds == sorted(kinds, key=["SERVICES", "NODEPORTS", "EXT", "SVC", "SEP"].index)
    assert [line for line in nat if "KUBE-SVC-" in line.split()[1]] == \
        [line for line in all_nat if "KUBE-SVC-" in line.split()[1] and line in nat]
    assert not any("kube-dns" in line or "ingress-nginx" in line for line in nat)


def test_a_service_name_that_prefixes_another_does_not_match_it() -> None:
    assert iptables_service_rules(SAVED, "default/we") == {}
    assert any(line.startswith("-A KUBE-SERVICES -d 10.96.0.1/32")
               for line in iptables_service_rules(SAVED, "default/kubernetes")["nat"])


def test_no_endpoints_reject_rules_come_from_the_filter_table() -> None:
    saved = ("*filter\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -d 10.96.5.5/32 -p tcp -m comment --comment "
             '"default/empty:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable\n'
             "COMMIT\n")
    assert iptables_service_rules(saved, "default/empty") == {"filter": [saved.splitlines()[2]]}


def test_userspace_portal_rules_match_by_comment() -> None:
    saved = ("*nat\n-A KUBE-PORTALS-CONTAINER -d 10.0.0.1/32 -p tcp -m comment --comment default/kubernetes: "
             "-m tcp --dport 443 -j REDIRECT --to-ports 36463\n"
             "-A KUBE-PORTALS-HOST -d 10.0.0.1/32 -p tcp -m comment --comment default/kubernetes: "
             "-m tcp --dport 443 -j DNAT --to-destination 10.240.0.21:36463\nCOMMIT\n")
    assert len(iptables_service_rules(saved, "default/kubernetes")["nat"]) == 2


def test_nftables_service_chains_and_map_elements() -> None:
    lines = nft_service_rules((FIXTURES / "nft-list-table.txt").read_text(), "ingress-nginx/ingress-nginx-controller")
    text = "\n".join(lines)
    assert "\tchain service-TAO5FKKM-ingress-nginx/ingress-nginx-controller/tcp/http {" in lines
    assert "\t\tmeta l4proto tcp dnat to 10.244.2.2:80" in lines
    assert "10.100.217.93 . tcp . 80 : goto service-TAO5FKKM" in text
    assert "tcp . 32195 : goto external-TAO5FKKM" in text
    assert "kube-dns" not in text and "default/kubernetes" not in text
    assert "chain services {" not in text  # the shared dispatch chain is not the service's


def test_conntrack_entries_for_a_cluster_ip_or_node_port() -> None:
    listing = (FIXTURES / "conntrack.txt").read_text()
    (entry,) = conntrack_entries(listing, {"10.105.168.210"})
    assert "src=10.244.1.5 dst=10.105.168.210" in entry and "src=10.244.2.3 dst=10.244.1.5" in entry
    assert conntrack_entries(listing, set(), {32252}) == []
    assert conntrack_entries("tcp 6 5 CLOSE src=10.240.0.254 dst=10.240.0.21 sport=1 dport=32252 src=10.244.1.3 "
                             "dst=10.244.1.0 sport=8080 dport=1\n", set(), {32252})
    assert not conntrack_entries(listing, {"10.105.168.21"})  # whole addresses only
