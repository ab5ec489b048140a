"""Parsing what the kernel reports about a traced packet: `nft -a monitor trace`, `conntrack -E` and
`tcpdump -T vxlan` lines. Pure functions over text, so they are tested on captured real output.

Also the plain packets of the host-gw backend on a node's eth0 (`tcpdump -nn`), and which process
listens on a port (`ss -Htlnp`), to name the userspace proxy that accepts a connection.

`nft monitor trace` prints one line per event of a traced packet in one netns: a `packet:` line when
it enters a base chain (a netfilter hook), a `rule` line for each rule that matched with the verdict,
a `policy` line when it falls off a base chain. The trace id ties a hook's lines together (the kernel
derives it from the skb, so it can change between hooks). Rules made by iptables-nft are printed
without their xt matches (comment, statistic, mark) — kinn.trace.rules maps them back by handle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TRACE_LINE = re.compile(r"^trace id (?P<id>\w+) (?P<family>\w+) (?P<table>\S+) (?P<chain>\S+) "
                        r"(?P<kind>packet|rule|policy):? ?(?P<rest>.*?)\s*$")
RULE_REST = re.compile(r"^(?P<text>.*?)\s*(?:# handle (?P<handle>\d+)\s*)?\(verdict (?P<verdict>[^)]*)\)$")
COUNTER = re.compile(r"\s*counter packets \d+ bytes \d+")
CONNTRACK_LINE = re.compile(r"^\s*\[(?P<type>NEW|UPDATE|DESTROY)\]\s+(?P<proto>\w+)\s+\d+\s+(?:\d+\s+)?"
                            r"(?:(?P<state>[A-Z_]+)\s+)?(?P<rest>src=.*)$")
TUPLE_KEYS = re.compile(r"(\w+)=(\S+)")
VXLAN_OUTER = re.compile(r"IP (?P<src>[\d.]+)\.(?P<sport>\d+) > (?P<dst>[\d.]+)\.(?P<dport>\d+): VXLAN.*vni (?P<vni>\d+)")
IPV4 = r"\d+\.\d+\.\d+\.\d+"
TCP_FLAGS = {"0x12": "syn,ack"}  # nft prints flag combinations as a number
PLAIN_IP = re.compile(rf"^(?:[\d:.]+ )?IP (?P<src>{IPV4})(?:\.(?P<sport>\d+))? > (?P<dst>{IPV4})(?:\.(?P<dport>\d+))?: (?P<what>.*)$")
SS_LISTEN = re.compile(r'^\S+\s+\d+\s+\d+\s+(?P<local>\S+):(?P<port>\d+)\s+\S+\s+users:\(\("(?P<comm>[^"]*)",pid=(?P<pid>\d+)')
INNER_IP = re.compile(rf"^IP (?P<src>{IPV4})(?:\.(?P<sport>\d+))? > (?P<dst>{IPV4})(?:\.(?P<dport>\d+))?: (?P<what>.*)$")


@dataclass(frozen=True)
class Packet:
    """The headers nft printed for a packet entering a hook (only those a path needs)."""

    saddr: str
    daddr: str
    proto: str
    ttl: int
    iif: str | None = None
    oif: str | None = None
    sport: int | None = None
    dport: int | None = None
    dscp: str = "cs0"
    tcp_flags: str | None = None
    icmp_type: str | None = None
    ether_daddr: str | None = None  # printed for packets entering from a bridge

    def describe(self) -> str:
        ends = (f"{self.saddr}:{self.sport} → {self.daddr}:{self.dport}" if self.sport is not None
                else f"{self.saddr} → {self.daddr}")
        flags = TCP_FLAGS.get(self.tcp_flags or "", self.tcp_flags)
        detail = self.icmp_type or (f"flags {flags}" if flags else "")
        return f"{self.proto} {ends}" + (f" {detail}" if detail else "")


@dataclass(frozen=True)
class TraceEvent:
    """One line of `nft -a monitor trace`."""

    trace_id: str
    family: str
    table: str
    chain: str
    kind: str  # packet | rule | policy
    text: str  # the packet's headers, the rule (no counters, no handle), or the policy verdict
    handle: int | None = None
    verdict: str = ""


@dataclass
class HookVisit:
    """A packet's pass through one base chain: the rules that matched, in order, and how it ended."""

    table: str
    chain: str
    packet: Packet
    rules: list[TraceEvent] = field(default_factory=list)
    policy: str | None = None

    @property
    def verdict(self) -> str:
        """What the hook decided: the policy it fell to, or the last rule's verdict."""
        if self.policy:
            return self.policy
        return self.rules[-1].verdict if self.rules else "accept"


def parse_trace_line(line: str) -> TraceEvent | None:
    """A TraceEvent, or None for anything else nft prints (blank lines, warnings)."""
    match = TRACE_LINE.match(line)
    if not match:
        return None
    head = match.group("id", "family", "table", "chain")
    kind, rest = match["kind"], match["rest"]
    if kind != "rule":
        return TraceEvent(*head, kind=kind, text=rest.strip())
    rule = RULE_REST.match(rest)
    if not rule:
        return None
    text = " ".join(COUNTER.sub("", rule["text"]).split())
    return TraceEvent(*head, kind=kind, text=text, handle=int(rule["handle"]) if rule["handle"] else None,
                      verdict=rule["verdict"])


def parse_packet(text: str) -> Packet:
    """The headers of a `packet:` line (`iif "cni0" ... ip saddr 10.244.1.2 ... tcp sport 40123 ...`)."""
    def value(pattern: str) -> str | None:
        found = re.search(pattern, text)
        return found.group(1) if found else None

    proto = value(r"\b(tcp|udp|icmp) (?:sport|type)") or "ip"
    sport, dport = value(rf"{proto} sport (\d+)"), value(rf"{proto} dport (\d+)")
    return Packet(saddr=value(r"ip saddr (\S+)") or "", daddr=value(r"ip daddr (\S+)") or "", proto=proto,
                  ttl=int(value(r"ip ttl (\d+)") or 0), iif=value(r'iif "([^"]+)"'), oif=value(r'oif "([^"]+)"'),
                  sport=int(sport) if sport else None, dport=int(dport) if dport else None,
                  dscp=value(r"ip dscp (\S+)") or "cs0", tcp_flags=value(r"tcp flags == (\S+)"),
                  icmp_type=value(r"icmp type (\S+)"), ether_daddr=value(r"ether daddr (\S+)"))


def hook_visits(lines: list[str]) -> list[HookVisit]:
    """Group a netns's trace lines into hook visits, in the order the packets entered the hooks."""
    visits: list[HookVisit] = []
    current: dict[str, HookVisit] = {}
    for event in filter(None, map(parse_trace_line, lines)):
        if event.kind == "packet":
            current[event.trace_id] = HookVisit(event.table, event.chain, parse_packet(event.text))
            visits.append(current[event.trace_id])
        elif (visit := current.get(event.trace_id)) is not None:
            if event.kind == "rule":
                visit.rules.append(event)
            else:
                visit.policy = event.text
    return visits


@dataclass(frozen=True)
class Tuple:
    """One direction of a conntrack entry."""

    src: str
    dst: str
    sport: int | None = None
    dport: int | None = None

    def __str__(self) -> str:
        return f"{self.src}:{self.sport} → {self.dst}:{self.dport}" if self.sport is not None \
            else f"{self.src} → {self.dst}"


@dataclass(frozen=True)
class ConntrackEvent:
    """A `conntrack -E` line: the original and reply tuples say what NAT does to the flow."""

    type: str
    proto: str
    original: Tuple
    reply: Tuple
    state: str | None = None
    mark: int = 0

    @property
    def dnat(self) -> Tuple | None:
        """Where the original direction is really sent, when it is not the destination it was sent to."""
        if (self.reply.src, self.reply.sport) == (self.original.dst, self.original.dport):
            return None
        return Tuple(self.original.dst, self.reply.src, self.original.dport, self.reply.sport)

    @property
    def snat(self) -> Tuple | None:
        """The source the original direction leaves with, when it is not the sender's."""
        if (self.reply.dst, self.reply.dport) == (self.original.src, self.original.sport):
            return None
        return Tuple(self.original.src, self.reply.dst, self.original.sport, self.reply.dport)


def parse_conntrack_line(line: str) -> ConntrackEvent | None:
    """A ConntrackEvent from `conntrack -E` output, None for its summary and other lines."""
    match = CONNTRACK_LINE.match(line)
    if not match:
        return None
    pairs = TUPLE_KEYS.findall(match["rest"])
    starts = [i for i, (key, _) in enumerate(pairs) if key == "src"]
    if len(starts) < 2:
        return None
    original, reply = dict(pairs[starts[0]:starts[1]]), dict(pairs[starts[1]:])
    mark = reply.get("mark", "0")
    return ConntrackEvent(match["type"], match["proto"], _tuple(original), _tuple(reply), match["state"],
                          int(mark, 0))


def _tuple(keys: dict[str, str]) -> Tuple:
    sport, dport = keys.get("sport"), keys.get("dport")
    return Tuple(keys["src"], keys["dst"], int(sport) if sport else None, int(dport) if dport else None)


@dataclass(frozen=True)
class Encapsulated:
    """A VXLAN packet on a node's wire: outer UDP between the VTEPs, and the pod packet inside."""

    outer_src: str
    outer_dst: str
    outer_dport: int
    vni: int
    inner: Tuple
    inner_summary: str


def parse_vxlan_capture(lines: list[str]) -> list[Encapsulated]:
    """Pairs of `tcpdump -nn -T vxlan` lines: the outer header's line, then the inner packet's."""
    packets = []
    for outer_line, inner_line in zip(lines, lines[1:]):
        outer, inner = VXLAN_OUTER.search(outer_line), INNER_IP.match(inner_line.strip())
        if outer and inner:
            ports = [int(port) if port else None for port in inner.group("sport", "dport")]
            packets.append(Encapsulated(outer["src"], outer["dst"], int(outer["dport"]), int(outer["vni"]),
                                        Tuple(inner["src"], inner["dst"], *ports), inner["what"].split(",")[0]))
    return packets


@dataclass(frozen=True)
class Plain:
    """A pod packet on a node's wire without encapsulation (the host-gw backend)."""

    packet: Tuple
    summary: str


def parse_plain_capture(lines: list[str]) -> list[Plain]:
    """`tcpdump -nn` lines of IPv4 packets (an optional timestamp first)."""
    packets = []
    for line in lines:
        if match := PLAIN_IP.match(line.strip()):
            ports = [int(port) if port else None for port in match.group("sport", "dport")]
            packets.append(Plain(Tuple(match["src"], match["dst"], *ports), match["what"].split(",")[0]))
    return packets


@dataclass(frozen=True)
class Listening:
    """A listening TCP socket and the process holding it, as `ss -Htlnp` prints it."""

    address: str
    port: int
    command: str
    pid: int


def parse_listening(lines: list[str]) -> dict[int, Listening]:
    """Listening sockets by port."""
    found = {}
    for line in lines:
        if match := SS_LISTEN.match(line.strip()):
            found[int(match["port"])] = Listening(match["local"], int(match["port"]), match["comm"], int(match["pid"]))
    return found
