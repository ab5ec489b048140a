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

import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from kinn.api.selectors import label_selector_from_object

TABLE = "kinn-network-policy"
MAX_CHAIN_NAME = 200  # the kernel's limit is 256 (NFT_CHAIN_MAXNAMELEN)
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


def render(cluster: Cluster, node: str) -> str:
    """The nft script that makes the node's table what the policies ask for, in one transaction:
    the table is created (so the delete cannot fail), deleted, and written anew unless nothing on
    this node is isolated."""
    script = [f"table ip {TABLE}", f"delete table ip {TABLE}"]
    local = sorted((pod for pod in cluster.pods if pod.node == node), key=lambda pod: (pod.namespace, pod.name))
    body: list[str] = []
    for key, direction in DIRECTIONS.items():
        chains = [(pod, rules) for pod in local if (rules := _pod_chain(cluster, pod, key)) is not None]
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
        script += [f"table ip {TABLE} {{", *body, "}"]
    return "\n".join(script) + "\n"


def _pod_chain(cluster: Cluster, pod: PodInfo, direction: str) -> list[str] | None:
    """The rules of `pod`'s chain for `direction`, ending in a counted drop; None if no policy
    isolates the pod in that direction (everything is allowed)."""
    policies = sorted((policy for policy in cluster.policies if _isolates(policy, pod, direction)),
                      key=lambda policy: policy["metadata"]["name"])
    if not policies:
        return None
    rules = [rule for policy in policies for rule in _policy_rules(cluster, policy, pod, direction)]
    names = ", ".join(f"{pod.namespace}/{policy['metadata']['name']}" for policy in policies)
    return [*rules, f"counter drop comment {_comment(f'{pod.namespace}/{pod.name}: not allowed by {names}')}"]


def _isolates(policy: Obj, pod: PodInfo, direction: str) -> bool:
    spec = policy.get("spec") or {}
    return (policy["metadata"]["namespace"] == pod.namespace and direction in (spec.get("policyTypes") or [])
            and label_selector_from_object(spec.get("podSelector") or {}).matches(pod.labels))


def _policy_rules(cluster: Cluster, policy: Obj, pod: PodInfo, direction: str) -> Iterable[str]:
    """One `accept` per (peer, port) pair of each of the policy's rules for `direction`: a rule
    allows traffic from any of its peers (none listed: from anywhere) to any of its ports (none
    listed: every port). A peer or a named port that matches nothing contributes no rule."""
    spec = DIRECTIONS[direction]
    comment = _comment(f"{policy['metadata']['namespace']}/{policy['metadata']['name']}")
    for rule in (policy.get("spec") or {}).get(spec.name) or []:
        peers = [_peer_match(cluster, policy, peer, spec.peer_field) for peer in rule[spec.peers]] \
            if rule.get(spec.peers) else [""]
        ports = [match for port in rule.get("ports") or [] for match in _port_matches(cluster, port, pod, direction)] \
            if rule.get("ports") else [""]
        for peer in peers:
            for port in ports:
                if peer is not None:
                    yield " ".join(part for part in (peer, port, "accept comment", comment) if part)


def _peer_match(cluster: Cluster, policy: Obj, peer: Obj, peer_field: str) -> str | None:
    """The match for one peer: an ipBlock's CIDR less its exceptions, or the set of the selected
    pods' addresses (None if it selects none: nft has no empty anonymous set)."""
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        match = f"ip {peer_field} {block['cidr']}"
        excepted = block.get("except") or []
        return match + (f" ip {peer_field} != {{ {', '.join(excepted)} }}" if excepted else "")
    pod_selector = label_selector_from_object(peer.get("podSelector") or {})
    if "namespaceSelector" in peer:
        namespace_selector = label_selector_from_object(peer["namespaceSelector"] or {})
        namespaces = {ns for ns, labels in cluster.namespaces.items() if namespace_selector.matches(labels)}
    else:
        namespaces = {policy["metadata"]["namespace"]}
    ips = _sorted_ips(pod.ip for pod in cluster.pods
                      if pod.namespace in namespaces and pod_selector.matches(pod.labels))
    return f"ip {peer_field} {{ {', '.join(ips)} }}" if ips else None


def _port_matches(cluster: Cluster, port: Obj, pod: PodInfo, direction: str) -> list[str]:
    """The matches for one port entry. A named port is the port of that name on the pod traffic goes
    to: for ingress the isolated pod's own; for egress each destination pod's, so one match per
    number, each with the pods that have it."""
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
    destinations: dict[int, list[str]] = {}
    for other in cluster.pods:
        if (resolved := other.ports.get((number, protocol))) is not None:
            destinations.setdefault(resolved, []).append(other.ip)
    return [f"ip daddr {{ {', '.join(_sorted_ips(ips))} }} {l4} dport {resolved}"
            for resolved, ips in sorted(destinations.items())]


def _sorted_ips(ips: Iterable[str]) -> list[str]:
    return sorted(set(ips), key=ipaddress.IPv4Address)


def _chain_name(direction: str, pod: PodInfo) -> str:
    """`<direction>-<namespace>/<pod>`, as kube-proxy's nftables chains carry the Service's name; a
    name too long for the kernel keeps its start and gets a hash of the whole to stay unique."""
    name = f"{direction}-{pod.namespace}/{pod.name}"
    if len(name) <= MAX_CHAIN_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{name[:MAX_CHAIN_NAME - 17]}-{digest}"


def _comment(text: str) -> str:
    """A quoted rule comment within the kernel's limit (names carry no quote or backslash)."""
    return '"' + text[:MAX_COMMENT - 1] + '"'
