"""NetworkPolicy as nftables rules on one node: (policies, pods, namespaces, node) → an nft script.

Plain flannel enforces no policy; a cluster that does pairs it with a policy agent on every node
(Canal: flannel + Calico's Felix; kube-router; kind's kube-network-policies). kinn's writes one
table per node, `ip kinn-network-policy`, that names what it enforces:

    table ip kinn-network-policy {
        map ingress-pods {                       # each isolated local pod's IP → its chain
            type ipv4_addr : verdict
            elements = { 10.244.1.5 : goto ingress-default/backend }
        }
        chain ingress {                          # every forwarded packet, routed or bridged
            type filter hook forward priority filter - 5; policy accept;
            ct state established,related accept  # replies, and connections already allowed
            ip daddr vmap @ingress-pods
        }
        chain ingress-default/backend {
            ip saddr { 10.244.2.3 } tcp dport 80 accept comment "default/allow-frontend"
            counter drop comment "default/backend: no NetworkPolicy allows it"
        }
        (egress-pods, egress and egress-<ns>/<pod> the same way, on the source address)
    }

Only the first packet of a connection is judged; conntrack lets the rest and the replies through.
Egress and ingress are two base chains at different priorities, so a packet leaving one isolated
pod for another on the same node must pass both (an `accept` ends only its own base chain).
Traffic to and from the pod's own node never crosses the forward hook: it is always allowed, as
the API says. A node with no isolated pod has no table at all, so it looks like a plain flannel node.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from kinn.api.selectors import label_selector_from_object

TABLE = "kinn-network-policy"
MAX_NAME = 200  # the kernel's limit for chains and sets is 256 (NFT_NAME_MAXLEN)
MAX_COMMENT = 128  # NFT_USERDATA_MAXLEN for a rule comment
PROTOCOLS = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}

Obj = dict[str, Any]


@dataclass(frozen=True)
class Direction:
    name: str  # of the base chain, the map and the pods' chains
    peers: str  # the policy rule's list of peers: `from` or `to`
    peer_field: str  # where a peer's address is in the packet
    own_field: str  # where the isolated pod's address is
    priority: int  # below `filter`: before iptables' FORWARD rules, egress first


DIRECTIONS = {"Ingress": Direction("ingress", "from", "saddr", "daddr", 5),
              "Egress": Direction("egress", "to", "daddr", "saddr", 10)}


@dataclass(frozen=True)
class PodInfo:
    """What policies need of a pod: where it is, its IPv4 address, its labels and named ports."""

    namespace: str
    name: str
    node: str
    ip: str
    labels: Mapping[str, str]
    ports: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (name, protocol) → containerPort


def pod_info(pod: Obj) -> PodInfo | None:
    """The pod as policies see it; None for what they do not apply to: a pod without an IPv4 address
    yet, a host-network pod (its address is its node's), a pod that has finished."""
    spec, status, meta = pod.get("spec") or {}, pod.get("status") or {}, pod["metadata"]
    if spec.get("hostNetwork") or status.get("phase") in ("Succeeded", "Failed"):
        return None
    ips = [entry["ip"] for entry in status.get("podIPs") or [] if ":" not in entry.get("ip", ":")]
    if not ips:
        return None
    ports = {(port["name"], port.get("protocol", "TCP")): port["containerPort"]
             for container in spec.get("containers") or [] for port in container.get("ports") or []
             if port.get("name")}
    return PodInfo(meta["namespace"], meta["name"], spec.get("nodeName", ""), ips[0],
                   meta.get("labels") or {}, ports)


@dataclass(frozen=True)
class Cluster:
    """The cluster as policies see it: every policy, every pod that policies apply to, and each
    namespace's labels (namespaceSelector)."""

    policies: Sequence[Obj]
    pods: Sequence[PodInfo]
    namespaces: Mapping[str, Mapping[str, str]]
    _selected: dict[str, list[str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def selected_ips(self, pod_selector: Obj, namespace_selector: Obj | None, namespace: str) -> list[str]:
        """The sorted addresses of the pods a peer selects: those `pod_selector` matches in the
        namespaces `namespace_selector` matches (None: in `namespace`). Policies repeat their peers,
        so each is worked out once per render."""
        key = json.dumps([pod_selector, namespace_selector, namespace if namespace_selector is None else None],
                         sort_keys=True)
        if key not in self._selected:
            pods = label_selector_from_object(pod_selector)
            if namespace_selector is None:
                namespaces = [namespace]
            else:
                selector = label_selector_from_object(namespace_selector)
                namespaces = [ns for ns, labels in self.namespaces.items() if selector.matches(labels)]
            self._selected[key] = _sorted_ips(pod.ip for ns in namespaces for pod in self._by_namespace.get(ns, ())
                                              if pods.matches(pod.labels))
        return self._selected[key]

    @functools.cached_property
    def _by_namespace(self) -> dict[str, list[PodInfo]]:
        found: dict[str, list[PodInfo]] = {}
        for pod in self.pods:
            found.setdefault(pod.namespace, []).append(pod)
        return found


def render(cluster: Cluster, node: str) -> str:
    """The nft script that makes the node's table what the policies ask for, in one transaction:
    the table is created (so the delete cannot fail), deleted, and written anew unless nothing on
    this node is isolated."""
    script = [f"table ip {TABLE}", f"delete table ip {TABLE}"]
    local = sorted((pod for pod in cluster.pods if pod.node == node), key=lambda pod: (pod.namespace, pod.name))
    sets: dict[str, list[str]] = {}  # the named sets the chains use: peers' and named ports' addresses
    policies = sorted((_Policy(cluster, policy, sets) for policy in cluster.policies), key=lambda policy: policy.name)
    named_ports = _named_ports(cluster.pods)
    body: list[str] = []
    for key, direction in DIRECTIONS.items():
        chains = [(pod, rules) for pod in local
                  if (rules := _pod_chain(policies, pod, key, named_ports, sets)) is not None]
        if not chains:
            continue
        name = direction.name
        elements = ", ".join(f"{pod.ip} : goto {_chain_name(name, pod)}" for pod, _ in chains)
        body += [f"\tmap {name}-pods {{", "\t\ttype ipv4_addr : verdict", f"\t\telements = {{ {elements} }}", "\t}",
                 f"\tchain {name} {{",
                 f"\t\ttype filter hook forward priority filter - {direction.priority}; policy accept;",
                 "\t\tct state established,related accept", f"\t\tip {direction.own_field} vmap @{name}-pods", "\t}"]
        for pod, rules in chains:
            body += [f"\tchain {_chain_name(name, pod)} {{", *(f"\t\t{rule}" for rule in rules), "\t}"]
    if body:
        declarations = [line for name, ips in sorted(sets.items()) for line in (
            f"\tset {name} {{", "\t\ttype ipv4_addr", f"\t\telements = {{ {', '.join(ips)} }}", "\t}")]
        script += [f"table ip {TABLE} {{", *declarations, *body, "}"]
    return "\n".join(script) + "\n"


class _Policy:
    """A policy made ready for every pod it may select: its selector parsed, and for each direction
    its rules with their peers resolved to matches once (a peer that selects no pod: None). Peers
    are resolved only for a policy that isolates a pod of this node: most policies isolate none."""

    def __init__(self, cluster: Cluster, policy: Obj, sets: dict[str, list[str]]) -> None:
        self.spec = policy.get("spec") or {}
        self.namespace, self.name = policy["metadata"]["namespace"], policy["metadata"]["name"]
        self.comment = _comment(f"{self.namespace}/{self.name}")
        self.selector = label_selector_from_object(self.spec.get("podSelector") or {})
        self.types = self.spec.get("policyTypes") or []
        self._cluster, self._sets = cluster, sets

    def isolates(self, pod: PodInfo, direction: str) -> bool:
        return direction in self.types and self.namespace == pod.namespace and self.selector.matches(pod.labels)

    @functools.cached_property
    def rules(self) -> dict[str, list[tuple[list[str | None], list[Obj]]]]:
        """Per direction, each rule's peer matches and its ports."""
        return {key: [([self._peer_match(peer, direction, f"{direction.peers}-{self.namespace}/{self.name}/{i}/{j}")
                        for j, peer in enumerate(rule[direction.peers])] if rule.get(direction.peers) else [""],
                       rule.get("ports") or [])
                      for i, rule in enumerate(self.spec.get(direction.name) or [])]
                for key, direction in DIRECTIONS.items() if key in self.types}

    def _peer_match(self, peer: Obj, direction: Direction, set_name: str) -> str | None:
        """The match for one peer: an ipBlock's CIDR less its exceptions, or membership of the named
        set of the selected pods' addresses, `<from|to>-<namespace>/<policy>/<rule>/<peer>` (None if
        it selects no pod: nft has no empty set to match against)."""
        where = f"ip {direction.peer_field}"
        if "ipBlock" in peer:
            block = peer["ipBlock"]
            excepted = block.get("except") or []
            return f"{where} {block['cidr']}" + (f" {where} != {{ {', '.join(excepted)} }}" if excepted else "")
        ips = self._cluster.selected_ips(peer.get("podSelector") or {}, peer.get("namespaceSelector"), self.namespace)
        if not ips:
            return None
        name = _limited(set_name)
        self._sets[name] = ips
        return f"{where} @{name}"


NamedPorts = Mapping[tuple[str, str], Mapping[int, list[str]]]  # (name, protocol) → number → pod IPs


def _named_ports(pods: Iterable[PodInfo]) -> NamedPorts:
    found: dict[tuple[str, str], dict[int, list[str]]] = {}
    for pod in pods:
        for key, number in pod.ports.items():
            found.setdefault(key, {}).setdefault(number, []).append(pod.ip)
    return found


def _pod_chain(policies: Sequence[_Policy], pod: PodInfo, direction: str, named_ports: NamedPorts,
               sets: dict[str, list[str]]) -> list[str] | None:
    """The rules of `pod`'s chain for `direction`, ending in a counted drop; None if no policy
    isolates the pod in that direction (everything is allowed).

    One `accept` per (peer, port) pair of each rule of each policy that isolates it: a rule allows
    traffic from any of its peers (none listed: from anywhere) to any of its ports (none listed:
    every port). A peer or a named port that matches nothing contributes no rule."""
    isolating = [policy for policy in policies if policy.isolates(pod, direction)]
    if not isolating:
        return None
    rules = []
    for policy in isolating:
        for peers, ports in policy.rules[direction]:
            port_matches = [match for port in ports
                            for match in _port_matches(port, pod, direction, named_ports, sets)] if ports else [""]
            rules += [" ".join(part for part in (peer, port, "accept comment", policy.comment) if part)
                      for peer in peers if peer is not None for port in port_matches]
    names = ", ".join(f"{policy.namespace}/{policy.name}" for policy in isolating)
    return [*rules, f"counter drop comment {_comment(f'{pod.namespace}/{pod.name}: not allowed by {names}')}"]


def _port_matches(port: Obj, pod: PodInfo, direction: str, named_ports: NamedPorts,
                  sets: dict[str, list[str]]) -> list[str]:
    """The matches for one port entry. A named port is the port of that name on the pod traffic goes
    to: for ingress the isolated pod's own; for egress each destination pod's, so one match per
    number, each with the named set `port-<name>/<protocol>/<number>` of the pods that have it."""
    protocol = port.get("protocol", "TCP")
    l4 = PROTOCOLS.get(protocol)
    if l4 is None:
        return []
    number = port.get("port")
    if number is None:
        return [f"meta l4proto {l4}"]
    if isinstance(number, int):
        end = port.get("endPort")
        return [f"{l4} dport {number}" + (f"-{end}" if end else "")]
    if direction == "Ingress":
        resolved = pod.ports.get((number, protocol))
        return [f"{l4} dport {resolved}"] if resolved is not None else []
    matches = []
    for resolved, ips in sorted(named_ports.get((number, protocol), {}).items()):
        name = _limited(f"port-{number}/{l4}/{resolved}")
        sets[name] = _sorted_ips(ips)
        matches.append(f"ip daddr @{name} {l4} dport {resolved}")
    return matches


def _sorted_ips(ips: Iterable[str]) -> list[str]:
    return sorted(set(ips), key=ipaddress.IPv4Address)


def _chain_name(direction: str, pod: PodInfo) -> str:
    """`<direction>-<namespace>/<pod>`, as kube-proxy's nftables chains carry the Service's name."""
    return _limited(f"{direction}-{pod.namespace}/{pod.name}")


def _limited(name: str) -> str:
    """A chain or set name within the kernel's limit: one too long keeps its start and gets a hash
    of the whole to stay unique."""
    if len(name) <= MAX_NAME:
        return name
    return f"{name[:MAX_NAME - 17]}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"


def _comment(text: str) -> str:
    """A quoted rule comment within the kernel's limit (names carry no quote or backslash)."""
    return '"' + text[:MAX_COMMENT - 1] + '"'
