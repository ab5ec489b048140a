"""`kinn trace` from start to end: resolve the ends, arm tracing and listeners in every netns on the
path, send the probe, read the rules as they are now, assemble the path, and leave nothing behind."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import subprocess
from pathlib import Path
from dataclasses import dataclass

from kinn import netlink
from kinn.client.rest import Client
from kinn.cluster.cluster import Cluster
from kinn.cluster.paths import UNDERLAY_BRIDGE
from kinn.trace import arming, inside, monitors, probe
from kinn.trace.events import (Listening, Packet, hook_visits, parse_conntrack_line, parse_listening,
                               parse_plain_capture, parse_vxlan_capture)
from kinn.trace.path import Followed, Hop, Observation, assemble, assemble_proxied, pair
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
    proxied: dict[str, list[Hop]]  # the userspace proxy's own connection to the backend, if it made one


async def trace(client: Client, cluster: Cluster, source_spec: str, destination_spec: str, namespace: str,
                port: int | None, protocol: str | None) -> Trace:
    source = await resolve(client, cluster, source_spec, namespace)
    destination = await resolve(client, cluster, destination_spec, namespace, port, outside=source.label == "client")
    if source.place is None:
        raise ValueError(f"{source.label} cannot send a probe: trace from a pod, a node, the client or an address of one")
    protocol = protocol or destination.protocol or "tcp"
    port = None if protocol == "icmp" else port or destination.port  # an echo request has no port, a Service's has
    if protocol != "icmp" and port is None:
        raise ValueError(f"--port is needed to send a {protocol} probe to {destination.label}")
    return await asyncio.to_thread(_follow, cluster, source, destination, protocol, port)


# `nft monitor trace` names a rule from the ruleset it read when it started; a rule created later
# (kube-proxy rewrites KUBE-SERVICES, KUBE-FORWARD … at every sync, so at least every sync period)
# is left out of its output without a word. A probe whose nodes' rules changed meanwhile is sent again.
ATTEMPTS = 3


def _follow(cluster: Cluster, source: Target, destination: Target, protocol: str, port: int | None) -> Trace:
    """The probe with tracing armed around it (blocking: processes, netlink sockets, the probe)."""
    assert source.place is not None
    places = _places(cluster, source, destination)
    nodes = [place.netns for place in places if place.label.startswith("node ")]
    table, backends = arming.table_name(), _proxied_backends(cluster, destination, protocol)
    output_rules = [arming.follow_proxied(backends)] if backends else []
    rulesets = {place.netns: arming.trace_ruleset(table, output_rules if place.netns in nodes else [])
                for place in places}
    backend = cluster.spec.networking.backend
    for _ in range(ATTEMPTS):
        with arming.armed(table, rulesets):
            before = {netns: _rule_book(netns).handles() for netns in nodes}
            with monitors.listening(list(rulesets), nodes, backend) as listeners:
                result = probe.send(source.place.netns, protocol, destination.ip, port)
                books = {netns: _rule_book(netns) for netns in nodes}
                sockets = {netns: _listening(netns) for netns in nodes}
        if all(books[netns].handles() == handles for netns, handles in before.items()):
            break
    observations = [_observation(place, listeners, backend, books.get(place.netns), sockets.get(place.netns, {}))
                    for place in places]
    followed = Followed(table, pair(result.source_ip, result.source_port, destination.ip, port),
                        frozenset((ip, port) for _, ip, port in backends))
    return Trace(source, destination, protocol, port, result, assemble(observations, _route, followed), observations,
                 assemble_proxied(observations, _route, followed))


def _proxied_backends(cluster: Cluster, destination: Target, protocol: str) -> list[arming.Endpoint]:
    """A Service's endpoints when the userspace proxy serves it: its second connection goes to one."""
    if cluster.spec.networking.kube_proxy_mode != "userspace" or protocol == "icmp":
        return []
    return [(protocol, ip, port) for ip, port in destination.endpoints]


def _observation(place: Place, listeners: monitors.Listeners, backend: str, rules: RuleBook | None,
                 listening: dict[int, Listening]) -> Observation:
    """What one netns saw; its node's wire is read as the flannel backend puts packets on it."""
    captured = listeners.lines("capture", place.netns)
    return Observation(place, hook_visits(listeners.lines("trace", place.netns)),
                       list(filter(None, map(parse_conntrack_line, listeners.lines("conntrack", place.netns)))),
                       parse_vxlan_capture(captured) if backend == "vxlan" else [], rules,
                       parse_plain_capture(captured) if backend == "host-gw" else [], listening)


def _places(cluster: Cluster, source: Target, destination: Target) -> list[Place]:
    """Every netns the probe may cross: both ends, every node (the destination a Service picks is
    only known afterwards), and a Service's backends; with host-gw also the underlay, whose bridge
    carries pod packets between nodes as they are (br_netfilter shows them to its hooks)."""
    underlay = _underlay(cluster) if cluster.spec.networking.backend == "host-gw" else None
    candidates = [source.place, destination.place, *(node_place(node) for node in cluster.nodes),
                  *destination.backends, underlay]
    unique: dict[str, Place] = {}
    for place in candidates:
        if place is not None:
            unique.setdefault(place.netns, place)
    return list(unique.values())


def _underlay(cluster: Cluster) -> Place:
    netns = cluster.paths.underlay_netns
    with netlink.iproute(netns) as ipr:
        mac = netlink.get_link(ipr, UNDERLAY_BRIDGE).mac
    return Place("underlay", netns, bridge=UNDERLAY_BRIDGE, bridge_mac=mac)


def _rule_book(netns: str) -> RuleBook:
    """The node's rules now, both listings back to back (handles change with every iptables-restore,
    so the book is read right after the probe, before kube-proxy's next sync)."""
    return rule_book(inside.run(netns, "nft", "-a", "list", "ruleset"), inside.run(netns, "iptables-save"))


def _listening(netns: str) -> dict[int, Listening]:
    """The node's listening TCP sockets, each named by its process's command line up to the first
    option (`python -m kinn agent`), not just its executable."""
    return {port: dataclasses.replace(socket, command=_command(socket.pid, socket.command))
            for port, socket in parse_listening(inside.run(netns, "ss", "-Htlnp").splitlines()).items()}


def _command(pid: int, fallback: str) -> str:
    try:
        return command_name(Path(f"/proc/{pid}/cmdline").read_text()) or fallback
    except OSError:
        return fallback


def command_name(cmdline: str) -> str:
    """A /proc/<pid>/cmdline up to its first option, the program by its base name. A process that
    set its title (nginx's workers, kinn's forked agents: setproctitle) has one space-separated string
    there instead of NUL-separated arguments."""
    argv = [word for word in cmdline.split("\0") if word]
    if len(argv) == 1:
        argv = argv[0].split()
    words = list(itertools.takewhile(lambda word: not word.startswith("-") or word == "-m", argv))
    return " ".join([Path(words[0]).name, *words[1:]]) if words else ""


def _route(place: Place, packet: Packet) -> str | None:
    """The routing decision for a forwarded or sent packet, as `ip route get … from … [iif …]` prints it."""
    saddr, daddr, iif = packet.saddr, packet.daddr, packet.iif
    arrival = ["iif", iif] if iif else []  # a packet sent from the netns itself has no input interface
    try:
        decision = inside.run(place.netns, "ip", "route", "get", daddr, "from", saddr, *arrival)
    except subprocess.CalledProcessError:
        return None
    return "route: " + " ".join(word for word in decision.split() if word != "cache")
