"""Assembling what every netns saw into the probe's path: the request's hops, then the reply's.

Each netns's trace gives, in order, the hooks the packet went through there. Which netns comes first
is told by the packet itself: the TTL drops by one at every routing hop, and at equal TTL the netns
that sent the packet (it passed the tracing table's output hook) comes first, then a bridge between
netns (the underlay switching it between nodes), then one that forwarded it without routing (a node
bridging it on cni0 through br_netfilter keeps the TTL), then the one it reached.
Between hooks the path gains what the other observers saw: the routing decision at a forwarding
node, the packet on the node's wire (in VXLAN or plain), the conntrack entry and its NAT.

A path is one connection's: a packet belongs to it when its addresses and ports are the probe's or
ones a conntrack entry of the connection gives them (NAT rewrites them on the way). This keeps apart
what the trace tables of two concurrent traces both mark, and the two connections of the userspace
proxy: the client's, which ends in the proxy's listening socket, and the proxy's own to the backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from kinn.trace.arming import PROBE_DSCP, is_trace_table
from kinn.trace.events import ConntrackEvent, Encapsulated, HookVisit, Listening, Packet, Plain, Tuple
from kinn.trace.rules import RuleBook
from kinn.trace.targets import Place

REQUEST, REPLY = "request", "reply"
ICMP_ERRORS = {"destination-unreachable", "time-exceeded"}
REPLY_ICMP = {"echo-reply", *ICMP_ERRORS}
TUNNEL_DEVICES = ("flannel.1",)


@dataclass
class Observation:
    """Everything seen in one netns during the probe."""

    place: Place
    visits: list[HookVisit]
    conntrack: list[ConntrackEvent] = field(default_factory=list)
    captures: list[Encapsulated] = field(default_factory=list)
    rules: RuleBook | None = None
    wire: list[Plain] = field(default_factory=list)
    listening: dict[int, Listening] = field(default_factory=dict)  # a node's listening TCP sockets by port


Endpoint = tuple[str, int | None]  # an address and port (None for ICMP)
Pair = frozenset[Endpoint]


def pair(src: str, sport: int | None, dst: str, dport: int | None) -> Pair:
    """The two ends of a packet or a conntrack tuple, whichever way it goes."""
    return frozenset({(src, sport), (dst, dport)})


def _tuple_pair(t: Tuple) -> Pair:
    return pair(t.src, t.sport, t.dst, t.dport)


@dataclass(frozen=True)
class Followed:
    """What a path is assembled for: this trace's own table, the probe's ends as sent, and the
    endpoints (ip, port) of a Service the userspace proxy serves, whose second connection goes to one."""

    table: str
    sent: Pair
    backends: frozenset[Endpoint] = frozenset()


@dataclass(frozen=True)
class Connection:
    """Every pair of ends one connection shows along its path."""

    pairs: frozenset[Pair]

    def holds(self, packet: Packet) -> bool:
        """The connection's packets, and the ICMP errors sent to one of its ends (a REJECT's)."""
        if pair(packet.saddr, packet.sport, packet.daddr, packet.dport) in self.pairs:
            return True
        return packet.icmp_type in ICMP_ERRORS and any(packet.daddr == ip for ends in self.pairs for ip, _ in ends)

    def owns(self, event: ConntrackEvent) -> bool:
        return _tuple_pair(event.original) in self.pairs


def connection(seed: Pair, events: Iterable[ConntrackEvent]) -> Connection:
    """The connection with ends `seed`, grown by every conntrack entry sharing a pair with it (its
    original and reply tuples differ where NAT applies) until none adds one."""
    pairs, entries = {seed}, [_ends(event) for event in events]
    grown = True
    while grown:
        grown = False
        for ends in entries:
            if ends & pairs and not ends <= pairs:
                pairs |= ends
                grown = True
    return Connection(frozenset(pairs))


def _ends(event: ConntrackEvent) -> set[Pair]:
    """The pairs of ends a conntrack entry's packets show: as sent, as answered, and in between when
    both DNAT and SNAT apply (a NodePort's or LoadBalancer's masqueraded traffic). DNAT rewrites the
    destination in prerouting, SNAT the source only in postrouting, so forward and postrouting see
    the sender's source with the new destination; and the reply, un-SNATed in prerouting and
    un-DNATed in postrouting, shows the same two ends in between."""
    original, reply = event.original, event.reply
    return {_tuple_pair(original), _tuple_pair(reply), pair(original.src, original.sport, reply.src, reply.sport)}


@dataclass(frozen=True)
class RuleHit:
    """A rule that matched, in its owner's syntax (iptables-save's for iptables-nft rules)."""

    chain: str
    rule: str
    verdict: str


@dataclass
class Step:
    """One thing that happened to the packet in a netns."""

    kind: str  # hook | route | vxlan | decap | wire | bridged | conntrack | unnat | delivered | left | proxy | dropped
    text: str
    table: str | None = None
    chain: str | None = None
    rules: list[RuleHit] = field(default_factory=list)
    verdict: str | None = None


@dataclass
class Hop:
    place: Place
    direction: str
    packet: Packet
    steps: list[Step] = field(default_factory=list)


Router = Callable[[Place, Packet], str | None]


def direction(packet: Packet) -> str:
    """Request or reply, from the packet alone: TCP by its flags, ICMP by its type, UDP by the DSCP."""
    if packet.proto == "tcp":
        return REPLY if packet.tcp_flags not in ("syn", None) else REQUEST
    if packet.proto == "icmp":
        return REPLY if packet.icmp_type in REPLY_ICMP else REQUEST
    return REQUEST if packet.dscp == f"{PROBE_DSCP:#x}" else REPLY


def assemble(observations: list[Observation], route: Router, followed: Followed) -> dict[str, list[Hop]]:
    """The probe's connection: the request's and the reply's hops, each in path order."""
    probe = connection(followed.sent, _events(observations))
    return {way: _hops(observations, way, route, probe, followed.table) for way in (REQUEST, REPLY)}


def assemble_proxied(observations: list[Observation], route: Router, followed: Followed) -> dict[str, list[Hop]]:
    """The userspace proxy's second connection: in the node where the probe's connection ended, the
    first new conntrack entry towards one of the Service's endpoints after the probe's own (the proxy
    dials once it has accepted), or nothing when there is none."""
    probe = connection(followed.sent, _events(observations))
    dialled = next((event for obs in observations for event in _after(obs.conntrack, probe)
                    if event.type == "NEW" and (event.original.dst, event.original.dport) in followed.backends), None)
    if dialled is None:
        return {}
    second = connection(_tuple_pair(dialled.original), _events(observations))
    return {way: _hops(observations, way, route, second, followed.table) for way in (REQUEST, REPLY)}


def _after(events: list[ConntrackEvent], conn: Connection) -> list[ConntrackEvent]:
    """A netns's conntrack events (in the kernel's order) after the connection's first, not its own."""
    first = next((i for i, event in enumerate(events) if conn.owns(event)), len(events))
    return [event for event in events[first + 1:] if not conn.owns(event)]


def _events(observations: list[Observation]) -> list[ConntrackEvent]:
    return [event for obs in observations for event in obs.conntrack]


def _hops(observations: list[Observation], way: str, route: Router, conn: Connection, table: str) -> list[Hop]:
    def mine(visit: HookVisit) -> bool:
        return direction(visit.packet) == way and conn.holds(visit.packet) \
            and (visit.table == table or not is_trace_table(visit.table))

    seen = [(obs, run) for obs in observations if (visits := [v for v in obs.visits if mine(v)])
            for run in _arrivals(visits)]
    seen.sort(key=lambda pair: (-max(v.packet.ttl for v in pair[1]), not any(map(_sent, pair[1])),
                                pair[0].place.bridge is None, not any(map(_forwarding, pair[1]))))
    hops = [_hop(obs, visits, way, route, conn, table) for obs, visits in seen]
    if hops and not any(step.kind == "dropped" for hop in hops for step in hop.steps):
        last, leaving = hops[-1], seen[-1][1][-1].packet
        if leaving.oif not in (None, "lo"):  # it went on from the last netns it was seen in, to none traced
            last.steps.append(Step("left", f"left {last.place.label} on {leaving.oif}; no netns kinn traces "
                                           "saw it arrive"))
            return hops
        last.steps.append(Step("delivered", f"delivered to {last.place.label}"
                                            + (f" on {last.packet.iif}" if last.packet.iif else " (local)")))
        if way == REQUEST:
            last.steps.extend(_accepted(seen[-1][0], conn, last.packet))
    return hops


def _arrivals(visits: list[HookVisit]) -> list[list[HookVisit]]:
    """A netns's visits, split where the packet came back after leaving: a pod reaching itself
    through its Service (a hairpin) sends the packet to the node, which DNATs it back to the pod,
    and that arrival comes after the node's hops. Through lo it never left the netns. A bridge
    (the underlay) only ever sees arrivals: a packet that crosses it twice — to a node that
    forwards it to another node, as a NodePort on a node without the backend does with host-gw —
    arrives the second time with the TTL that node's routing lowered."""
    runs = [[visits[0]]]
    for visit in visits[1:]:
        previous = runs[-1][-1]
        came_back = not _prerouting(previous) and previous.packet.oif and visit.packet.iif != "lo"
        if _prerouting(visit) and (came_back or (_prerouting(previous) and visit.packet.ttl < previous.packet.ttl)):
            runs.append([])
        runs[-1].append(visit)
    return runs


def _prerouting(visit: HookVisit) -> bool:
    return "prerouting" in visit.chain.lower()


def _accepted(obs: Observation, conn: Connection, packet: Packet) -> list[Step]:
    """Who accepted a connection redirected to a local port: the userspace proxy's listener."""
    entry = _entry(obs, REQUEST, conn, packet)
    listener = obs.listening.get(entry.dnat.dport or 0) if entry and entry.dnat else None
    if listener is None:
        return []
    return [Step("proxy", f"accepted by {listener.command} (pid {listener.pid}) listening on "
                          f"{listener.address}:{listener.port}: the userspace proxy ends this TCP connection here "
                          "and opens a second one of its own to a backend")]


def _hop(obs: Observation, visits: list[HookVisit], way: str, route: Router, conn: Connection, table: str) -> Hop:
    hop = Hop(obs.place, way, visits[0].packet)
    arrived = visits[0].packet.iif
    if arrived in TUNNEL_DEVICES:
        hop.steps.append(Step("decap", f"decapsulated from VXLAN on {arrived}"))
    for visit in visits:
        if visit.table == table:
            hop.steps.append(Step("hook", _where(visit)))
            if not visit.packet.iif and (decision := route(obs.place, visit.packet)):
                hop.steps.append(Step("route", decision))  # the sender's own routing decision
            continue
        if _forwarding(visit) and not any(step.kind == "route" for step in hop.steps):  # one decision, however many tables hook forward
            decision = route(obs.place, visit.packet)
            if decision:
                hop.steps.append(Step("route", decision))
        hop.steps.append(_hook_step(obs, visit))
        if visit.verdict == "drop":
            culprit = visit.rules[-1] if visit.rules else None
            hop.steps.append(Step("dropped", ("REJECTED" if culprit and "reject" in culprit.text else "DROPPED")
                                  + f" in {visit.table} {visit.chain}"
                                  + (f" by {_rule_text(obs, visit.table, culprit)}" if culprit else " by policy")))
            break
    if obs.place.bridge and arrived == obs.place.bridge:
        hop.steps.extend(_switched(obs.place, visits[0].packet, route))
    hop.steps.extend(_conntrack_steps(obs, way, conn, hop.packet))
    hop.steps.extend(_vxlan_steps(obs, visits, conn))
    hop.steps.extend(_plain_steps(obs, visits, conn))
    return hop


def _sent(visit: HookVisit) -> bool:
    """Whether the packet was made in this netns (postrouting has no input interface either)."""
    return is_trace_table(visit.table) and visit.chain == "trace-output"


def _forwarding(visit: HookVisit) -> bool:
    """Whether the hook is forward (iptables' FORWARD, or an nft chain of the forward hook)."""
    return visit.chain.upper() == "FORWARD" or "forward" in visit.chain


def _switched(place: Place, packet: Packet, route: Router) -> list[Step]:
    """The underlay between nodes: a bridge, which switches a packet sent to a node's MAC (the sender
    routed it; the TTL stays), or a router for one sent to the bridge's own MAC as the gateway (as
    the client does; host-gw gives the underlay a route per node's pod subnet)."""
    decision = route(place, packet)
    if packet.ether_daddr == place.bridge_mac:
        return [Step("route", f"routed by the underlay (the sender's gateway): {decision}")] if decision else []
    steps = [Step("bridged", f"switched by {place.bridge} to {packet.ether_daddr}, not routed here (ttl {packet.ttl})")]
    if decision:
        steps.append(Step("route", f"underlay {decision} (for hosts using it as gateway)"))
    return steps


def _where(visit: HookVisit) -> str:
    packet = visit.packet
    hook = visit.chain.removeprefix("trace-")
    device = f"in on {packet.iif}" if packet.iif else f"out on {packet.oif}"
    return f"{hook} {device}: {packet.describe()}"


def _hook_step(obs: Observation, visit: HookVisit) -> Step:
    hits = [RuleHit(rule.chain, _rule_text(obs, visit.table, rule), rule.verdict) for rule in visit.rules]
    devices = " ".join(f"{name} {dev}" for name, dev in (("iif", visit.packet.iif), ("oif", visit.packet.oif)) if dev)
    return Step("hook", f"{visit.table} {visit.chain} ({devices}): {visit.packet.describe()}", visit.table,
                visit.chain, hits, visit.verdict)


def _rule_text(obs: Observation, table: str, rule: object) -> str:
    chain, text, handle = rule.chain, rule.text, rule.handle  # type: ignore[attr-defined]
    named = obs.rules.iptables_rule(table, chain, handle, text) if obs.rules else None
    return named or f"{chain}: {text}"


def _conntrack_steps(obs: Observation, way: str, conn: Connection, packet: Packet) -> list[Step]:
    """The flow's entry (request: its NAT as created) and, for the reply, the translation undone."""
    entry = _entry(obs, way, conn, packet)
    if entry is None:
        return []
    if way == REQUEST:
        nat = [f"DNAT to {entry.dnat.dst}:{entry.dnat.dport}" if entry.dnat and entry.dnat.dport else
               f"DNAT to {entry.dnat.dst}" if entry.dnat else "",
               f"SNAT to {entry.snat.dst}" + (f":{entry.snat.dport}" if entry.snat.dport else "") if entry.snat else ""]
        described = ", ".join(filter(None, nat)) or "no NAT"
        return [Step("conntrack", f"conntrack {entry.type} {entry.proto} original {entry.original}, "
                                  f"reply {entry.reply} ({described})")]
    undo = []
    if entry.dnat:
        undo.append(f"source {entry.reply.src}" + (f":{entry.reply.sport}" if entry.reply.sport else "")
                    + f" rewritten back to {entry.original.dst}"
                    + (f":{entry.original.dport}" if entry.original.dport else ""))
    if entry.snat:
        undo.append(f"destination {entry.reply.dst} rewritten back to {entry.original.src}")
    return [Step("unnat", "conntrack un-NAT: " + "; ".join(undo))] if undo else []


def _entry(obs: Observation, way: str, conn: Connection, packet: Packet) -> ConntrackEvent | None:
    """The connection's entry in this netns that the hop's packet made (request) or answers (reply),
    else its first: a hairpin's pod holds two, its own and the node's masqueraded one back to it."""
    entries = [event for event in obs.conntrack if event.type == "NEW" and conn.owns(event)]
    ends = pair(packet.saddr, packet.sport, packet.daddr, packet.dport)
    matching = (event for event in entries if _tuple_pair(event.original if way == REQUEST else event.reply) == ends)
    return next(matching, entries[0] if entries else None)


def _on_the_wire(packet: Packet, seen: Tuple, conn: Connection) -> bool:
    """Whether `seen` on the node's eth0 is `packet` as it left: the connection's, going the same
    way. nft traces a packet entering postrouting, before SNAT (a masquerade) rewrites its source;
    its destination is final by then."""
    return (seen.dst, seen.dport) == (packet.daddr, packet.dport) and _tuple_pair(seen) in conn.pairs


def _vxlan_steps(obs: Observation, visits: list[HookVisit], conn: Connection) -> list[Step]:
    """The node's wire: this hop's packet leaving inside VXLAN (outer node IPs, UDP port, VNI)."""
    out = [v.packet for v in visits if v.packet.oif in TUNNEL_DEVICES]
    if not out:
        return []
    packet = out[-1]
    for capture in obs.captures:
        if _on_the_wire(packet, capture.inner, conn):
            return [Step("vxlan", f"VXLAN encapsulation: outer {capture.outer_src} → {capture.outer_dst} "
                                  f"udp {capture.outer_dport} vni {capture.vni} (inner {capture.inner})")]
    return [Step("vxlan", f"VXLAN encapsulation on {packet.oif} (not seen on eth0)")]


def _plain_steps(obs: Observation, visits: list[HookVisit], conn: Connection) -> list[Step]:
    """The node's wire with the host-gw backend: this hop's packet leaving on eth0 as it is."""
    out = [v.packet for v in visits if v.packet.oif == "eth0"]
    for packet in out[-1:]:
        for plain in obs.wire:
            if _on_the_wire(packet, plain.packet, conn):
                return [Step("wire", f"on the wire: eth0 {plain.packet} {plain.summary}, not encapsulated")]
    return []
