"""kinn trace's pure parts on real captured output (tests/unit/fixtures/trace, taken from a probe
pod default/client on worker-1 → svc default/web, whose pod runs on worker-2, iptables mode + VXLAN)."""

from __future__ import annotations

import json
from pathlib import Path

from kinn.trace.arming import trace_ruleset
from kinn.trace.events import (Tuple, hook_visits, parse_conntrack_line, parse_trace_line, parse_vxlan_capture)
from kinn.trace.path import REPLY, REQUEST, Followed, Observation, assemble, direction, pair
from kinn.trace.probe import ProbeResult
from kinn.trace.rules import rule_book
from kinn.trace.targets import Place, Target
from kinn.trace.tracer import Trace
from kinn.trace import render

FIXTURES = Path(__file__).parent / "fixtures" / "trace"
WEB = "10.244.2.3"
VIP = "10.106.113.93"
PROBE = Followed("kinn-trace", pair("10.244.1.2", 58924, VIP, 80))  # these fixtures' table and probe


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def observation(label: str, name: str, node: str | None = None, with_rules: bool = False) -> Observation:
    return Observation(Place(label, f"ns-{name}", node), hook_visits(lines(f"trace-{name}.txt")),
                       list(filter(None, map(parse_conntrack_line, lines(f"conntrack-{name}.txt")))),
                       parse_vxlan_capture(lines(f"capture-{name}.txt")) if node == name else [],
                       rule_book((FIXTURES / "nft-ruleset-worker-1.txt").read_text(),
                                 (FIXTURES / "iptables-save-worker-1.txt").read_text()) if with_rules else None)


def observations() -> list[Observation]:
    # Deliberately out of path order: the assembly must order them from the packets themselves.
    return [observation("pod default/web", "web", "worker-2"), observation("node worker-2", "worker-2", "worker-2"),
            observation("pod default/client", "client", "worker-1"),
            observation("node worker-1", "worker-1", "worker-1", with_rules=True)]


def test_trace_line_rule_with_handle_and_verdict() -> None:
    event = parse_trace_line("trace id 42fd566f ip nat KUBE-SEP-G2TK3RG32KUOAWKQ rule meta l4proto tcp   counter "
                             "packets 1 bytes 60 dnat to 10.244.2.3:8080 # handle 117 (verdict accept)")
    assert event is not None
    assert (event.table, event.chain, event.kind, event.handle, event.verdict) == \
        ("nat", "KUBE-SEP-G2TK3RG32KUOAWKQ", "rule", 117, "accept")
    assert event.text == "meta l4proto tcp dnat to 10.244.2.3:8080"
    assert parse_trace_line("Warning: table ip nat is managed by iptables-nft, do not touch!") is None


def test_hook_visits_group_by_trace_id_and_parse_the_packet() -> None:
    visits = hook_visits(lines("trace-worker-1.txt"))
    nat = next(v for v in visits if (v.table, v.chain) == ("nat", "PREROUTING"))
    assert (nat.packet.iif, nat.packet.daddr, nat.packet.dport, nat.packet.ttl, nat.packet.dscp) == \
        ("cni0", VIP, 80, 64, "0x2b")
    assert [rule.chain for rule in nat.rules][:2] == ["PREROUTING", "KUBE-SERVICES"]
    assert nat.rules[-1].text.endswith(f"dnat to {WEB}:8080") and nat.verdict == "accept"
    forward = next(v for v in visits if v.chain == "FORWARD" and direction(v.packet) == REQUEST)
    assert (forward.packet.oif, forward.packet.daddr, forward.packet.ttl) == ("flannel.1", WEB, 63)


def test_reject_visit_ends_in_drop() -> None:
    visits = hook_visits(lines("trace-reject-worker-1.txt"))
    rejected = [v for v in visits if v.verdict == "drop"]
    assert len(rejected) == 1 and rejected[0].rules[-1].text.endswith("reject")
    assert rejected[0].rules[-1].chain == "KUBE-SERVICES"
    icmp = next(v for v in visits if v.packet.proto == "icmp")
    assert icmp.packet.icmp_type == "destination-unreachable" and direction(icmp.packet) == REPLY


def test_conntrack_event_dnat() -> None:
    event = parse_conntrack_line(lines("conntrack-worker-1.txt")[0])
    assert event is not None and event.type == "NEW" and event.state == "SYN_SENT"
    assert event.original.dst == VIP and event.original.dport == 80 and event.mark == 0x10000000
    assert event.dnat == Tuple(VIP, WEB, 80, 8080) and event.snat is None
    icmp = parse_conntrack_line("    [NEW] icmp     1 30 src=10.244.1.0 dst=10.244.2.3 type=8 code=0 id=7 [UNREPLIED] "
                                "src=10.244.2.3 dst=10.244.1.0 type=0 code=0 id=7 mark=268435456")
    assert icmp is not None and icmp.dnat is None and icmp.reply.src == WEB
    assert parse_conntrack_line("conntrack v1.4.7 (conntrack-tools): 6 flow events have been shown.") is None


def test_vxlan_capture() -> None:
    outer = parse_vxlan_capture(lines("capture-worker-1.txt"))
    request = next(p for p in outer if p.inner.dst == WEB)
    assert (request.outer_src, request.outer_dst, request.outer_dport, request.vni) == ("10.240.0.21", "10.240.0.22", 8472, 1)
    icmp = parse_vxlan_capture(["12:00:00.0 IP 10.240.0.21.40774 > 10.240.0.22.8472: VXLAN, flags [I] (0x08), vni 1",
                                "IP 10.244.1.0 > 10.244.2.3: ICMP echo request, id 5, seq 1, length 19"])
    assert icmp[0].inner == Tuple("10.244.1.0", WEB) and icmp[0].inner_summary == "ICMP echo request"


def test_rule_book_names_iptables_rules_by_handle() -> None:
    book = observation("node worker-1", "worker-1", "worker-1", with_rules=True).rules
    assert book is not None
    nat = next(v for v in hook_visits(lines("trace-worker-1.txt")) if (v.table, v.chain) == ("nat", "PREROUTING"))
    named = [book.iptables_rule("nat", r.chain, r.handle, r.text) for r in nat.rules]
    assert named[0] == '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
    assert named[1].startswith(f"-A KUBE-SERVICES -d {VIP}/32 -p tcp -m comment --comment \"default/web cluster IP\"")
    assert named[-1].endswith(f"-j DNAT --to-destination {WEB}:8080")
    # A handle gone since (kube-proxy re-synced) is found by its text; native nft tables are not iptables'.
    assert book.iptables_rule("nat", nat.rules[0].chain, 999999, nat.rules[0].text) == named[0]
    assert book.iptables_rule("kube-proxy", "services", 1, "x") is None


def test_rule_book_handles_tell_a_rewritten_ruleset_and_ignore_trace_tables() -> None:
    """The tracer sends its probe again when a node's handles changed during the trace: nft monitor
    trace silently leaves out rules created after it started (kube-proxy rewrites KUBE-SERVICES at
    every sync)."""
    ruleset = (FIXTURES / "nft-ruleset-worker-1.txt").read_text()
    saved = (FIXTURES / "iptables-save-worker-1.txt").read_text()
    handles = rule_book(ruleset, saved).handles()
    assert any(chain == "KUBE-SERVICES" for _, chain, _ in handles)
    assert not any(table.startswith("kinn-trace") for table, _, _ in handles)
    other_trace = ruleset + "table ip kinn-trace-4242 {\n\tchain trace-output {\n\t\taccept # handle 3\n\t}\n}\n"
    assert rule_book(other_trace, saved).handles() == handles
    line = next(line for line in ruleset.splitlines() if "KUBE-SVC-" in line and "# handle" in line)
    resynced = ruleset.replace(line, line.rsplit("# handle", 1)[0] + "# handle 99999")
    assert rule_book(resynced, saved).handles() != handles


def test_assemble_orders_places_by_ttl_and_adds_nat_route_and_vxlan() -> None:
    routes: list[tuple[str, str]] = []

    def route(place: Place, packet: object) -> str:
        routes.append((place.label, packet.daddr))  # type: ignore[attr-defined]
        return f"route to {packet.daddr}"  # type: ignore[attr-defined]

    hops = assemble(observations(), route, PROBE)
    assert [hop.place.label for hop in hops[REQUEST]] == \
        ["pod default/client", "node worker-1", "node worker-2", "pod default/web"]
    assert [hop.place.label for hop in hops[REPLY]] == \
        ["pod default/web", "node worker-2", "node worker-1", "pod default/client"]
    worker1 = hops[REQUEST][1]
    kinds = [step.kind for step in worker1.steps]
    assert kinds.index("route") < kinds.index("vxlan")
    nat = next(step for step in worker1.steps if step.chain == "PREROUTING")
    assert nat.rules[-1].rule.endswith(f"--to-destination {WEB}:8080")
    assert any("outer 10.240.0.21 → 10.240.0.22 udp 8472 vni 1" in step.text for step in worker1.steps)
    assert hops[REQUEST][-1].steps[-1].text == "delivered to pod default/web on eth0"
    unnat = [step.text for hop in hops[REPLY] for step in hop.steps if step.kind == "unnat"]
    assert unnat == [f"conntrack un-NAT: source {WEB}:8080 rewritten back to {VIP}:80"]
    assert ("node worker-1", WEB) in routes


def test_assemble_orders_a_bridged_path_sender_then_node_then_receiver() -> None:
    """Pod → pod on one node is switched on cni0: br_netfilter runs the node's hooks but nothing
    decrements the TTL, so the order comes from who sent and who forwarded (same-node/ fixtures:
    pod default/cl → 10.244.1.3 on worker-1)."""
    def seen(label: str, name: str) -> Observation:
        return Observation(Place(label, name, "worker-1"), hook_visits(lines(f"same-node/trace-{name}.txt")))

    # Deliberately out of path order, the node first: its nat POSTROUTING has no input interface either.
    hops = assemble([seen("node worker-1", "worker-1"), seen("pod default/web", "web"),
                     seen("pod default/cl", "client")], lambda place, packet: None,
                    Followed("kinn-trace", pair("10.244.1.4", 45180, "10.244.1.3", 80)))
    assert [hop.place.label for hop in hops[REQUEST]] == ["pod default/cl", "node worker-1", "pod default/web"]
    assert [hop.place.label for hop in hops[REPLY]] == ["pod default/web", "node worker-1", "pod default/cl"]
    assert hops[REPLY][-1].steps[-1].text == "delivered to pod default/cl on eth0"


def test_assemble_reports_the_reject() -> None:
    obs = [Observation(Place("node worker-1", "ns", "worker-1"), hook_visits(lines("trace-reject-worker-1.txt")))]
    probe = Followed("kinn-trace", pair("10.244.1.2", 40124, "10.106.129.248", 80))
    steps = [step for hop in assemble(obs, lambda place, packet: None, probe)[REQUEST] for step in hop.steps]
    dropped = [step.text for step in steps if step.kind == "dropped"]
    assert len(dropped) == 1 and dropped[0].startswith("REJECTED in filter FORWARD by KUBE-SERVICES:")


def test_render_text_and_json() -> None:
    hops = assemble(observations(), lambda place, packet: None, PROBE)
    trace = Trace(Target("pod default/client", "10.244.1.2"), Target("service default/web", VIP, port=80), "tcp", 80,
                  ProbeResult("10.244.1.2", 58924, "connected", True), hops, observations(), {})
    text = render.text(trace)
    assert text.startswith(f"tcp probe from pod default/client 10.244.1.2 to service default/web {VIP}:80: connected")
    assert "\n← reply: tcp 10.244.2.3:8080 → 10.244.1.2:58924 flags syn,ack\n" in text
    document = json.loads(render.as_json(trace))
    assert [hop["place"] for hop in document["request"]][0] == "pod default/client"
    assert document["conntrack"]["node worker-1"][0]["reply"]["src"] == WEB


def test_render_names_an_unknown_address_once() -> None:
    address = Target("10.244.0.99", "10.244.0.99")  # what an address no node, pod or client owns resolves to
    trace = Trace(Target("pod default/client", "10.244.1.2"), address, "icmp", None,
                  ProbeResult("10.244.1.2", None, "timed out", False), {REQUEST: [], REPLY: []}, [], {})
    assert render.text(trace).startswith("icmp probe from pod default/client 10.244.1.2 to 10.244.0.99: timed out\n")


def test_trace_ruleset_marks_the_flow_and_traces_both_directions() -> None:
    ruleset = trace_ruleset("kinn-trace-42")
    assert ruleset.startswith("table ip kinn-trace-42 {")
    assert "type filter hook prerouting priority -199;" in ruleset and "type filter hook output priority -199;" in ruleset
    assert "ip dscp 0x2b ct mark set ct mark or 0x10000000" in ruleset
