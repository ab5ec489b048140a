"""`kinn trace` from start to end: resolve the ends, arm tracing and listeners in every netns on the
path, send the probe, read the rules as they are now, assemble the path, and leave nothing behind."""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import dataclass

from kinn.client.rest import Client
from kinn.cluster.cluster import Cluster
from kinn.trace import arming, inside, monitors, probe
from kinn.trace.events import Packet, hook_visits, parse_conntrack_line, parse_vxlan_capture
from kinn.trace.path import Hop, Observation, assemble
from kinn.trace.probe import ProbeResult
from kinn.trace.rules import RuleBook, rule_book
from kinn.trace.targets import Place, Target, node_place, resolve


@dataclass
class Trace:
    source: Target
    destination: Target
    protocol: str
    port: int | None
    probe: ProbeResult
    hops: dict[str, list[Hop]]
    observations: list[Observation]


async def trace(client: Client, cluster: Cluster, source_spec: str, destination_spec: str, namespace: str,
                port: int | None, protocol: str | None) -> Trace:
    source = await resolve(client, cluster, source_spec, namespace)
    destination = await resolve(client, cluster, destination_spec, namespace, port)
    if source.place is None:
        raise ValueError(f"{source.label} cannot send a probe: trace from a pod, a node, the client or an address of one")
    protocol = protocol or destination.protocol or "tcp"
    port = port or destination.port
    if protocol != "icmp" and port is None:
        raise ValueError(f"--port is needed to send a {protocol} probe to {destination.label}")
    return await asyncio.to_thread(_follow, cluster, source, destination, protocol, port)


def _follow(cluster: Cluster, source: Target, destination: Target, protocol: str, port: int | None) -> Trace:
    """The probe with tracing armed around it (blocking: processes, netlink sockets, the probe)."""
    assert source.place is not None
    places = _places(cluster, source, destination)
    namespaces = [place.netns for place in places]
    nodes = [place.netns for place in places if place.label.startswith("node ")]
    with arming.armed(namespaces), monitors.listening(namespaces, nodes) as listeners:
        result = probe.send(source.place.netns, protocol, destination.ip, port)
        books = {netns: _rule_book(netns) for netns in nodes}
    observations = [Observation(place, hook_visits(listeners.lines("trace", place.netns)),
                                list(filter(None, map(parse_conntrack_line, listeners.lines("conntrack", place.netns)))),
                                parse_vxlan_capture(listeners.lines("capture", place.netns)), books.get(place.netns))
                    for place in places]
    return Trace(source, destination, protocol, port, result, assemble(observations, _route), observations)


def _places(cluster: Cluster, source: Target, destination: Target) -> list[Place]:
    """Every netns the probe may cross: both ends, every node (the destination a Service picks is
    only known afterwards), and a Service's backends."""
    candidates = [source.place, destination.place, *(node_place(node) for node in cluster.nodes),
                  *destination.backends]
    unique: dict[str, Place] = {}
    for place in candidates:
        if place is not None:
            unique.setdefault(place.netns, place)
    return list(unique.values())


def _rule_book(netns: str) -> RuleBook:
    """The node's rules right after the probe, both listings back to back (handles change with every
    iptables-restore, so they are read before kube-proxy's next sync)."""
    return rule_book(inside.run(netns, "nft", "-a", "list", "ruleset"), inside.run(netns, "iptables-save"))


def _route(place: Place, packet: Packet) -> str | None:
    """The routing decision for a forwarded or sent packet, as `ip route get … from … [iif …]` prints it."""
    saddr, daddr, iif = packet.saddr, packet.daddr, packet.iif
    arrival = ["iif", iif] if iif else []  # a packet sent from the netns itself has no input interface
    try:
        decision = inside.run(place.netns, "ip", "route", "get", daddr, "from", saddr, *arrival)
    except subprocess.CalledProcessError:
        return None
    return "route: " + " ".join(word for word in decision.split() if word != "cache")
