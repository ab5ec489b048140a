"""Assembling what every netns saw into the probe's path: the request's hops, then the reply's.

Each netns's trace gives, in order, the hooks the packet went through there. Which netns comes first
is told by the packet itself: the TTL drops by one at every routing hop, and at equal TTL the netns
that sent the packet (it passed the tracing table's output hook) comes first, then one that
forwarded it without routing (a node bridging it on cni0 through br_netfilter keeps the TTL), then
the one it reached.
Between hooks the path gains what the other observers saw: the routing decision at a forwarding
node, the VXLAN packet on the node's wire, the conntrack entry and its NAT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from kinn.trace.arming import PROBE_DSCP, TABLE
from kinn.trace.events import ConntrackEvent, Encapsulated, HookVisit, Packet
from kinn.trace.rules import RuleBook
from kinn.trace.targets import Place

REQUEST, REPLY = "request", "reply"
REPLY_ICMP = {"echo-reply", "destination-unreachable", "time-exceeded"}
TUNNEL_DEVICES = ("flannel.1",)


@dataclass
class Observation:
    """Everything seen in one netns during the probe."""

    place: Place
    visits: list[HookVisit]
    conntrack: list[ConntrackEvent] = field(default_factory=list)
    captures: list[Encapsulated] = field(default_factory=list)
    rules: RuleBook | None = None


@dataclass(frozen=True)
class RuleHit:
    """A rule that matched, in its owner's syntax (iptables-save's for iptables-nft rules)."""

    chain: str
    rule: str
    verdict: str


@dataclass
class Step:
    """One thing that happened to the packet in a netns."""

    kind: str  # hook | route | vxlan | decap | conntrack | unnat | delivered | dropped
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


def assemble(observations: list[Observation], route: Router) -> dict[str, list[Hop]]:
    """The request's and the reply's hops, each in path order."""
    return {way: _hops(observations, way, route) for way in (REQUEST, REPLY)}


def _hops(observations: list[Observation], way: str, route: Router) -> list[Hop]:
    seen = [(obs, visits) for obs in observations
            if (visits := [v for v in obs.visits if direction(v.packet) == way])]
    seen.sort(key=lambda pair: (-max(v.packet.ttl for v in pair[1]), not any(map(_sent, pair[1])),
                                not any(map(_forwarding, pair[1]))))
    hops = [_hop(obs, visits, way, route) for obs, visits in seen]
    if hops and not any(step.kind == "dropped" for hop in hops for step in hop.steps):
        last = hops[-1]
        last.steps.append(Step("delivered", f"delivered to {last.place.label}"
                                            + (f" on {last.packet.iif}" if last.packet.iif else " (local)")))
    return hops


def _hop(obs: Observation, visits: list[HookVisit], way: str, route: Router) -> Hop:
    hop = Hop(obs.place, way, visits[0].packet)
    arrived = visits[0].packet.iif
    if arrived in TUNNEL_DEVICES:
        hop.steps.append(Step("decap", f"decapsulated from VXLAN on {arrived}"))
    for visit in visits:
        if visit.table == TABLE:
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
    hop.steps.extend(_conntrack_steps(obs, way))
    hop.steps.extend(_vxlan_steps(obs, visits))
    return hop


def _sent(visit: HookVisit) -> bool:
    """Whether the packet was made in this netns (postrouting has no input interface either)."""
    return visit.table == TABLE and visit.chain == "trace-output"


def _forwarding(visit: HookVisit) -> bool:
    """Whether the hook is forward (iptables' FORWARD, or an nft chain of the forward hook)."""
    return visit.chain.upper() == "FORWARD" or "forward" in visit.chain


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


def _conntrack_steps(obs: Observation, way: str) -> list[Step]:
    """The flow's entry (request: its NAT as created) and, for the reply, the translation undone."""
    entry = next((event for event in obs.conntrack if event.type == "NEW"), None)
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


def _vxlan_steps(obs: Observation, visits: list[HookVisit]) -> list[Step]:
    """The node's wire: this hop's packet leaving inside VXLAN (outer node IPs, UDP port, VNI)."""
    out = [v.packet for v in visits if v.packet.oif in TUNNEL_DEVICES]
    if not out:
        return []
    packet = out[-1]
    for capture in obs.captures:
        inner = capture.inner
        if (inner.src, inner.dst, inner.sport, inner.dport) == (packet.saddr, packet.daddr, packet.sport, packet.dport):
            return [Step("vxlan", f"VXLAN encapsulation: outer {capture.outer_src} → {capture.outer_dst} "
                                  f"udp {capture.outer_dport} vni {capture.vni} (inner {inner})")]
    return [Step("vxlan", f"VXLAN encapsulation on {packet.oif} (not seen on eth0)")]
