"""kinn trace's assembly in the other proxy and flannel modes, on real captured output:
userspace/ — kube-proxy --proxy-mode userspace with VXLAN, pod default/client (10.244.1.3, worker-1) →
svc default/web 10.99.76.4:80, whose pod 10.244.2.2:8080 runs on worker-2; host-gw/ — nftables mode
with the host-gw backend, the same pods and Service (10.101.99.221), the underlay's kinn0 traced too;
nodeport/ — iptables mode with VXLAN, the outside client → NodePort 32530 on worker-1, which runs no
backend, of a Service whose pod 10.244.2.2:80 runs on worker-2; hairpin/ — iptables mode, pod default/web
(10.244.2.6, worker-1) → svc default/web 10.98.68.84:80, whose only pod it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinn.trace.arming import follow_proxied, trace_ruleset
from kinn.trace.events import (ConntrackEvent, Tuple, hook_visits, parse_conntrack_line, parse_listening,
                               parse_plain_capture, parse_vxlan_capture)
from kinn.trace.path import REPLY, REQUEST, Followed, Observation, assemble, assemble_proxied, connection, pair
from kinn.trace.rules import RuleBook, rule_book
from kinn.trace.targets import Place
from kinn.trace.tracer import command_name

FIXTURES = Path(__file__).parent / "fixtures" / "trace"
WEB = "10.244.2.2"
NODES = ("worker-1", "worker-2")


def lines(mode: str, name: str) -> list[str]:
    path = FIXTURES / mode / f"{name}.txt"
    return path.read_text().splitlines() if path.exists() else []


def observations(mode: str) -> list[Observation]:
    client = Place("client", "client") if mode == "nodeport" else Place("pod default/client", "client", "worker-1")
    places = [Place("pod default/web", "web", "worker-2"), Place("node worker-2", "worker-2", "worker-2"),
              client, Place("node worker-1", "worker-1", "worker-1")]
    if mode == "host-gw":
        places.append(Place("underlay", "underlay", bridge="kinn0"))
    return [Observation(place, hook_visits(lines(mode, f"trace-{place.netns}")),
                        list(filter(None, map(parse_conntrack_line, lines(mode, f"conntrack-{place.netns}")))),
                        parse_vxlan_capture(lines(mode, f"capture-{place.netns}")) if mode != "host-gw" else [],
                        wire=parse_plain_capture(lines(mode, f"capture-{place.netns}")) if mode == "host-gw" else [],
                        rules=_rules(mode, place.netns), listening=parse_listening(lines(mode, f"ss-{place.netns}")))
            for place in places]


def _rules(mode: str, name: str) -> RuleBook | None:
    """The node's `nft -a list ruleset` and `iptables-save`, taken right after the probe (worker-1 in userspace/)."""
    nft, saved = lines(mode, f"nft-ruleset-{name}"), lines(mode, f"iptables-save-{name}")
    return rule_book("\n".join(nft), "\n".join(saved)) if nft else None


def no_route(place: Place, packet: object) -> str | None:
    return None


USERSPACE = Followed("kinn-trace-6921", pair("10.244.1.3", 50526, "10.99.76.4", 80), frozenset({(WEB, 8080)}))


def test_userspace_client_connection_ends_in_the_proxy_listener() -> None:
    hops = assemble(observations("userspace"), no_route, USERSPACE)
    assert [hop.place.label for hop in hops[REQUEST]] == ["pod default/client", "node worker-1"]
    node = hops[REQUEST][-1]
    nat = next(step for step in node.steps if step.chain == "PREROUTING")
    assert [hit.chain for hit in nat.rules] == ["PREROUTING", "KUBE-PORTALS-CONTAINER"]
    assert nat.rules[-1].rule == ('-A KUBE-PORTALS-CONTAINER -d 10.99.76.4/32 -p tcp -m comment --comment "default/web:" '
                                  '-m tcp --dport 80 -j REDIRECT --to-ports 38137')
    assert [step.kind for step in node.steps][-2:] == ["delivered", "proxy"]
    assert node.steps[-1].text.startswith("accepted by python (pid 27594) listening on 0.0.0.0:38137")
    assert [hop.place.label for hop in hops[REPLY]] == ["node worker-1", "pod default/client"]


def test_userspace_proxy_connection_is_followed_to_the_backend() -> None:
    proxied = assemble_proxied(observations("userspace"), no_route, USERSPACE)
    assert [hop.place.label for hop in proxied[REQUEST]] == \
        ["node worker-1", "node worker-2", "pod default/web"]
    assert proxied[REQUEST][0].packet.saddr == "10.244.1.0" and proxied[REQUEST][0].packet.daddr == WEB
    conntrack = [step.text for hop in proxied[REQUEST] for step in hop.steps if step.kind == "conntrack"]
    assert conntrack[0].startswith(f"conntrack NEW tcp original 10.244.1.0:38718 → {WEB}:8080")
    assert [hop.place.label for hop in proxied[REPLY]] == ["pod default/web", "node worker-2", "node worker-1"]
    # The client's connection's packets stay out of the proxy's path, and the other way round.
    assert all(hop.packet.daddr != "10.99.76.4" for hop in proxied[REQUEST])


def test_no_proxied_connection_without_backends_to_follow() -> None:
    assert assemble_proxied(observations("userspace"), no_route, Followed(USERSPACE.table, USERSPACE.sent)) == {}


def test_connection_grows_through_nat() -> None:
    events = [event for obs in observations("userspace") for event in obs.conntrack]
    conn = connection(USERSPACE.sent, events)
    assert pair("10.244.1.1", 38137, "10.244.1.3", 50526) in conn.pairs  # the REDIRECT's reply tuple
    assert pair("10.244.1.0", 38718, WEB, 8080) not in conn.pairs


NODEPORT = Followed("kinn-trace-14224", pair("10.240.0.254", 44480, "10.240.0.21", 32530))


def test_connection_holds_the_ends_between_dnat_and_snat() -> None:
    """A masqueraded flow: DNAT in prerouting, SNAT in postrouting, so forward and postrouting see
    the sender's address with the backend's, which neither conntrack tuple holds."""
    event = ConntrackEvent("NEW", "tcp", Tuple("10.240.0.254", "10.240.0.21", 44480, 32530),
                           Tuple(WEB, "10.244.1.0", 80, 33191))
    conn = connection(NODEPORT.sent, [event])
    assert pair("10.240.0.254", 44480, WEB, 80) in conn.pairs
    assert pair("10.244.1.0", 33191, WEB, 80) in conn.pairs and pair("10.240.0.21", 32530, "10.244.1.0", 33191) \
        not in conn.pairs


def test_nodeport_via_a_node_without_backend_is_followed_to_the_pod_and_back() -> None:
    """Seed 003's NodePort: worker-1 DNATs, masquerades and encapsulates; worker-2 delivers to the pod."""
    hops = assemble(observations("nodeport"), no_route, NODEPORT)
    assert [hop.place.label for hop in hops[REQUEST]] == ["client", "node worker-1", "node worker-2", "pod default/web"]
    worker1 = [step.text for step in hops[REQUEST][1].steps]
    assert any(text.startswith(f"filter FORWARD (iif eth0 oif flannel.1): tcp 10.240.0.254:44480 → {WEB}:80")
               for text in worker1), worker1
    assert any(text.startswith("nat POSTROUTING (iif eth0 oif flannel.1)") for text in worker1), worker1
    assert "VXLAN encapsulation: outer 10.240.0.21 → 10.240.0.22 udp 8472 vni 1 " \
           f"(inner 10.244.1.0:33191 → {WEB}:80)" in worker1
    assert hops[REQUEST][-1].steps[-1].text == "delivered to pod default/web on eth0"
    assert [hop.place.label for hop in hops[REPLY]] == ["pod default/web", "node worker-2", "node worker-1", "client"]
    assert hops[REPLY][-1].steps[-1].text == "delivered to client on eth0"


def test_a_packet_that_arrives_in_no_traced_netns_is_said_to_have_left() -> None:
    client = [obs for obs in observations("nodeport") if obs.place.label == "client"]
    request = assemble(client, no_route, NODEPORT)[REQUEST]
    assert request[-1].steps[-1].text == "left client on eth0; no netns kinn traces saw it arrive"


HAIRPIN = Followed("kinn-trace-30069", pair("10.244.2.6", 37216, "10.98.68.84", 80))


def test_hairpin_arrives_back_in_the_pod_after_the_node() -> None:
    """A pod reaching itself through its Service: its packet leaves, the node DNATs it back and
    masquerades it to cni0's address, and only then does it arrive in the pod, a new connection there."""
    hops = assemble(observations("hairpin"), no_route, HAIRPIN)
    for way in (REQUEST, REPLY):
        assert [hop.place.label for hop in hops[way]] == ["pod default/web", "node worker-1", "pod default/web"]
        assert hops[way][-1].steps[-1].text == "delivered to pod default/web on eth0"
    sender, node, receiver = hops[REQUEST]
    assert [step.text.split(" (")[0] for step in sender.steps if step.kind == "conntrack"] == \
        ["conntrack NEW tcp original 10.244.2.6:37216 → 10.98.68.84:80, reply 10.98.68.84:80 → 10.244.2.6:37216"]
    assert any("SNAT to 10.244.2.1:30531" in step.text for step in node.steps if step.kind == "conntrack")
    assert receiver.packet.saddr == "10.244.2.1" and receiver.packet.sport == 30531
    assert [step.text.split(", reply")[0] for step in receiver.steps if step.kind == "conntrack"] == \
        ["conntrack NEW tcp original 10.244.2.1:30531 → 10.244.2.6:80"]
    assert hops[REPLY][-1].packet.saddr == "10.98.68.84"  # un-DNATed by the node on the way back


def test_host_gw_plain_packet_on_eth0_and_the_underlay_bridge() -> None:
    followed = Followed("kinn-trace-9681", pair("10.244.1.3", 52234, "10.101.99.221", 80))
    hops = assemble(observations("host-gw"), lambda place, packet: f"route {place.label}", followed)
    assert [hop.place.label for hop in hops[REQUEST]] == \
        ["pod default/client", "node worker-1", "underlay", "node worker-2", "pod default/web"]
    worker1 = hops[REQUEST][1]
    wire = [step.text for step in worker1.steps if step.kind == "wire"]
    assert wire == [f"on the wire: eth0 10.244.1.3:52234 → {WEB}:8080 Flags [S], not encapsulated"]
    assert not any(step.kind in ("vxlan", "decap") for hop in hops[REQUEST] for step in hop.steps)
    underlay = [step.text for step in hops[REQUEST][2].steps]
    assert any(text.startswith("switched by kinn0 to ") and "not routed here (ttl 63)" in text for text in underlay)
    assert "underlay route underlay (for hosts using it as gateway)" in underlay
    dnat = next(step for step in worker1.steps if step.chain == "nat-prerouting")
    assert [hit.chain for hit in dnat.rules][1:3] == ["services", "service-PFISGYVC-default/web/tcp/"]
    assert dnat.rules[-1].rule.endswith(f"dnat to {WEB}:8080")
    assert [hop.place.label for hop in hops[REPLY]][1:4] == ["node worker-2", "underlay", "node worker-1"]


def test_plain_capture_and_listening_sockets() -> None:
    packets = parse_plain_capture(lines("host-gw", "capture-worker-1"))
    assert packets[0].packet == Tuple("10.244.1.3", WEB, 52234, 8080) and packets[0].summary == "Flags [S]"
    listening = parse_listening(lines("userspace", "ss-worker-1"))
    assert (listening[38137].address, listening[38137].pid, listening[10250].command) == ("0.0.0.0", 27594, "python")


def test_proxied_backends_armed_in_the_output_hook_first() -> None:
    rule = follow_proxied([("tcp", WEB, 8080), ("tcp", "10.244.1.5", 8080)])
    assert rule.strip() == ("meta l4proto . ip daddr . th dport { tcp . 10.244.2.2 . 8080, tcp . 10.244.1.5 . 8080 } "
                            "ct state new ct mark set ct mark or 0x10000000 ip dscp set 0x2b")
    ruleset = trace_ruleset("kinn-trace-7", [rule])
    output = ruleset.split("chain trace-output")[1]
    assert output.index("th dport") < output.index("ip dscp 0x2b ct mark set")
    assert "th dport" not in ruleset.split("chain trace-output")[0]


def test_host_gw_underlay_switches_or_routes_by_the_packets_destination_mac() -> None:
    """host-gw/from-client/: an ICMP echo from the outside client 10.240.0.254 (gateway: the underlay,
    kinn0 0e:97:04:9a:b9:e4) to the web pod on worker-2. An earlier packet had been routed by the
    underlay, which answered with an ICMP redirect: this one goes straight to worker-2's MAC."""
    def hops(kinn0_mac: str) -> list[list[str]]:
        places = [Place("pod default/web", "web", "worker-2"), Place("node worker-2", "worker-2", "worker-2"),
                  Place("underlay", "underlay", bridge="kinn0", bridge_mac=kinn0_mac), Place("client", "client")]
        observed = [Observation(place, hook_visits(lines("host-gw/from-client", f"trace-{place.netns}")),
                                list(filter(None, map(parse_conntrack_line,
                                                      lines("host-gw/from-client", f"conntrack-{place.netns}")))))
                    for place in places]
        found = assemble(observed, lambda place, packet: f"via {place.label}",
                         Followed("kinn-trace-22267", pair("10.240.0.254", None, WEB, None)))[REQUEST]
        assert [hop.place.label for hop in found] == ["client", "underlay", "node worker-2", "pod default/web"]
        return [[step.text for step in hop.steps] for hop in found]

    underlay = hops("0e:97:04:9a:b9:e4")[1]
    assert "switched by kinn0 to 1e:d8:ba:9f:e0:b7, not routed here (ttl 64)" in underlay
    # Had it been sent to kinn0's own MAC, the underlay would have routed it.
    underlay = hops("1e:d8:ba:9f:e0:b7")[1]
    assert "routed by the underlay (the sender's gateway): via underlay" in underlay
    assert not any(text.startswith("switched by") for text in underlay)


@pytest.mark.parametrize(("cmdline", "name"), [
    ("/usr/bin/python3\x00-m\x00kinn\x00agent\x00--cluster-cidr\x0010.244.0.0/16\x00", "python3 -m kinn agent"),
    # a titled process (kinn's forked agents, setproctitle): one string, with slashes in its options
    ("/work/.venv/bin/python -m kinn agent --cluster-cidr 10.244.0.0/16 --ip-masq\x00", "python -m kinn agent"),
    ("nginx: worker process\x00", "nginx: worker process"),
])
def test_listener_named_by_its_command_up_to_the_first_option(cmdline: str, name: str) -> None:
    assert command_name(cmdline) == name
