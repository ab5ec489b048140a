"""kube-proxy's iptables rule set as a pure function (pkg/proxy/iptables syncProxyRules).

Each service port contributes a `ServiceRules` fragment, computed from the port, its endpoints and
the node: rules in the shared filter chains, dispatch rules in nat KUBE-SERVICES/KUBE-NODEPORTS,
and its own nat chains (KUBE-SVC/SVL/EXT/FW/SEP). `render_restore` assembles fragments into one
`iptables-restore --noflush` transaction. A full sync writes every chain; a partial sync writes only
the changed services' own chains and those shared chains whose rules changed (each written chain is
declared, which flushes it, and filled in full), which is what makes a one-service change cheap
with thousands of services.
Chain names, comments, rule order and probabilities are upstream's, so `iptables-save` in a kinn
node reads like seed 002's.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Iterable

from kinn.proxy.node import NodeContext
from kinn.proxy.serviceport import Endpoint, ServicePort, categorize

KUBE_SERVICES = "KUBE-SERVICES"
KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES"
KUBE_NODEPORTS = "KUBE-NODEPORTS"
KUBE_POSTROUTING = "KUBE-POSTROUTING"
KUBE_MARK_MASQ = "KUBE-MARK-MASQ"
KUBE_FORWARD = "KUBE-FORWARD"
KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL"
KUBE_FIREWALL = "KUBE-FIREWALL"  # the kubelet's localnet guard, which kube-proxy also installs
KUBE_PROXY_CANARY = "KUBE-PROXY-CANARY"
SERVICE_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")
LARGE_CLUSTER_ENDPOINTS = 1000  # above this many endpoint chains, per-rule comments are dropped

FILTER_CHAINS = (KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL)
NAT_CHAINS = (KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ)


@dataclass(frozen=True)
class JumpRule:
    """A rule kube-proxy keeps at the top of a built-in chain (ensured with `-I`, never flushed)."""

    table: str
    chain: str
    target: str
    comment: str
    extra: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        comment = ("-m", "comment", "--comment", quote(self.comment)) if self.comment else ()
        return " ".join((*self.extra, *comment, "-j", self.target))

    def present_in(self, listing: str) -> bool:
        """Whether an `iptables -S <chain>` (or `iptables-save`) listing has it: both render it as `spec`."""
        return f"-A {self.chain} {self.spec}" in listing


_NEW = ("-m", "conntrack", "--ctstate", "NEW")
JUMP_RULES = (
    JumpRule("filter", "INPUT", KUBE_EXTERNAL_SERVICES, "kubernetes externally-visible service portals", _NEW),
    JumpRule("filter", "FORWARD", KUBE_EXTERNAL_SERVICES, "kubernetes externally-visible service portals", _NEW),
    JumpRule("filter", "INPUT", KUBE_NODEPORTS, "kubernetes health check service ports"),
    JumpRule("filter", "FORWARD", KUBE_SERVICES, "kubernetes service portals", _NEW),
    JumpRule("filter", "OUTPUT", KUBE_SERVICES, "kubernetes service portals", _NEW),
    JumpRule("filter", "FORWARD", KUBE_FORWARD, "kubernetes forwarding rules"),
    JumpRule("filter", "INPUT", KUBE_PROXY_FIREWALL, "kubernetes load balancer firewall", _NEW),
    JumpRule("filter", "OUTPUT", KUBE_PROXY_FIREWALL, "kubernetes load balancer firewall", _NEW),
    JumpRule("filter", "FORWARD", KUBE_PROXY_FIREWALL, "kubernetes load balancer firewall", _NEW),
    JumpRule("filter", "INPUT", KUBE_FIREWALL, ""),
    JumpRule("filter", "OUTPUT", KUBE_FIREWALL, ""),
    JumpRule("nat", "OUTPUT", KUBE_SERVICES, "kubernetes service portals"),
    JumpRule("nat", "PREROUTING", KUBE_SERVICES, "kubernetes service portals"),
    JumpRule("nat", "POSTROUTING", KUBE_POSTROUTING, "kubernetes postrouting rules"),
)


@dataclass(frozen=True)
class ServiceRules:
    """One service port's share of a sync."""

    filter: tuple[str, ...]  # rules in the shared filter chains
    dispatch: tuple[str, ...]  # rules in nat KUBE-SERVICES and KUBE-NODEPORTS
    chains: tuple[str, ...]  # the nat chains it owns (declared, which flushes them, when written)
    rules: tuple[str, ...]  # the rules of those chains


_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_BASE32_PAIRS = tuple(a + b for a in _BASE32 for b in _BASE32)  # 10 bits → two characters


def _hash(text: str) -> str:
    """The first 16 base32 characters of SHA-256, which encode exactly its first 10 bytes: eight
    10-bit pairs. (base64.b32encode, pure Python, was half the rendering time of 10,000 chains.)"""
    bits, pairs = int.from_bytes(hashlib.sha256(text.encode()).digest()[:10], "big"), _BASE32_PAIRS
    return (pairs[bits >> 70] + pairs[bits >> 60 & 1023] + pairs[bits >> 50 & 1023] + pairs[bits >> 40 & 1023]
            + pairs[bits >> 30 & 1023] + pairs[bits >> 20 & 1023] + pairs[bits >> 10 & 1023] + pairs[bits & 1023])


def _service_hash(svc: ServicePort) -> str:
    return _hash(f"{svc.name}{svc.protocol.lower()}")


def service_chain(prefix: str, svc: ServicePort) -> str:
    """KUBE-SVC-/SVL-/EXT-/FW- + base32(sha256(`ns/svc:p` + protocol))[:16]."""
    return prefix + _service_hash(svc)


def endpoint_chain(svc: ServicePort, endpoint: Endpoint) -> str:
    return "KUBE-SEP-" + _hash(f"{svc.name}{svc.protocol.lower()}{endpoint}")


@functools.lru_cache(maxsize=1024)
def probability(n: int) -> str:
    """The statistic match's probability for the first of n remaining endpoints, as `%0.10f`."""
    return f"{1.0 / n:0.10f}"


def quote(comment: str) -> str:
    """A comment as iptables-restore reads it: one quoted word, quotes and backslashes escaped."""
    return '"' + comment.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _line(*args: str) -> str:
    return " ".join(args)


def service_rules(svc: ServicePort, endpoints: list[Endpoint], ctx: NodeContext, comments: bool = True) -> ServiceRules:
    """syncProxyRules' body for one service port."""
    name, proto = str(svc.name), svc.protocol.lower()
    match = ("-m", proto, "-p", proto)
    eps = categorize(endpoints, svc)
    digest = _service_hash(svc)  # the four chains of a service port share it
    svc_chain, svl_chain, ext_chain, fw_chain = (f"KUBE-{kind}-{digest}" for kind in ("SVC", "SVL", "EXT", "FW"))
    uses_cluster_chain = bool(eps.cluster) and svc.uses_cluster_endpoints
    uses_local_chain = bool(eps.local) and svc.uses_local_endpoints
    internal_chain, has_internal = (svl_chain, eps.has_any and bool(eps.local)) if svc.internal_policy_local \
        else (svc_chain, eps.has_any)
    external_policy_chain, has_external = (svl_chain, eps.has_any and bool(eps.local)) if svc.external_policy_local \
        else (svc_chain, eps.has_any)
    uses_ext_chain = eps.has_any and svc.externally_accessible
    uses_fw_chain = eps.has_any and bool(svc.load_balancer_ips) and bool(svc.load_balancer_source_ranges)
    lb_chain = fw_chain if uses_fw_chain else ext_chain
    if not eps.has_any:
        internal_filter = external_filter = ("REJECT", quote(f"{name} has no endpoints"))
    else:
        no_local = ("DROP", quote(f"{name} has no local endpoints"))
        internal_filter = no_local if not has_internal else None
        external_filter = no_local if not has_external else None
    dport = ("--dport", str(svc.port))

    filter_rules: list[str] = []
    dispatch: list[str] = []
    if has_internal:
        dispatch.append(_line("-A", KUBE_SERVICES, "-m", "comment", "--comment", quote(f"{name} cluster IP"),
                              *match, "-d", svc.cluster_ip, *dport, "-j", internal_chain))
    elif internal_filter:
        filter_rules.append(_line("-A", KUBE_SERVICES, "-m", "comment", "--comment", internal_filter[1],
                                  *match, "-d", svc.cluster_ip, *dport, "-j", internal_filter[0]))
    for ip in svc.external_ips:
        if eps.has_any:
            dispatch.append(_line("-A", KUBE_SERVICES, "-m", "comment", "--comment", quote(f"{name} external IP"),
                                  *match, "-d", ip, *dport, "-j", ext_chain))
        if external_filter:
            filter_rules.append(_line("-A", KUBE_EXTERNAL_SERVICES, "-m", "comment", "--comment", external_filter[1],
                                      *match, "-d", ip, *dport, "-j", external_filter[0]))
    for ip in svc.load_balancer_ips:
        if eps.has_any:
            dispatch.append(_line("-A", KUBE_SERVICES, "-m", "comment", "--comment", quote(f"{name} loadbalancer IP"),
                                  *match, "-d", ip, *dport, "-j", lb_chain))
        if uses_fw_chain:
            filter_rules.append(_line("-A", KUBE_PROXY_FIREWALL, "-m", "comment", "--comment",
                                      quote(f"{name} traffic not accepted by {fw_chain}"),
                                      *match, "-d", ip, *dport, "-j", "DROP"))
    if external_filter:
        filter_rules.extend(_line("-A", KUBE_EXTERNAL_SERVICES, "-m", "comment", "--comment", external_filter[1],
                                  *match, "-d", ip, *dport, "-j", external_filter[0]) for ip in svc.load_balancer_ips)
    if svc.node_port:
        if eps.has_any:
            dispatch.append(_line("-A", KUBE_NODEPORTS, "-m", "comment", "--comment", quote(name),
                                  *match, "--dport", str(svc.node_port), "-j", ext_chain))
        if external_filter:
            filter_rules.append(_line("-A", KUBE_EXTERNAL_SERVICES, "-m", "comment", "--comment", external_filter[1],
                                      "-m", "addrtype", "--dst-type", "LOCAL", *match,
                                      "--dport", str(svc.node_port), "-j", external_filter[0]))
    if svc.health_check_node_port:
        filter_rules.append(_line("-A", KUBE_NODEPORTS, "-m", "comment", "--comment",
                                  quote(f"{name} health check node port"), "-m", "tcp", "-p", "tcp",
                                  "--dport", str(svc.health_check_node_port), "-j", "ACCEPT"))

    chains: list[str] = []
    rules: list[str] = []
    sep = {ep: endpoint_chain(svc, ep) for ep in eps.reachable}
    if has_internal:
        vip = ("-m", "comment", "--comment", quote(f"{name} cluster IP"), *match, "-d", svc.cluster_ip, *dport)
        if ctx.masquerade_all:
            rules.append(_line("-A", internal_chain, *vip, "-j", KUBE_MARK_MASQ))
        elif ctx.cluster_cidr:
            # Off-cluster traffic to a VIP (a static route to the service range via a node) may
            # bounce to another node: masquerade it so replies come back this way.
            rules.append(_line("-A", internal_chain, *vip, "!", "-s", ctx.cluster_cidr, "-j", KUBE_MARK_MASQ))
    if uses_ext_chain:
        chains.append(ext_chain)
        rules.extend(_external_rules(svc, ctx, ext_chain, svc_chain))
        if has_external:
            rules.append(_line("-A", ext_chain, "-j", external_policy_chain))
    if uses_fw_chain:
        chains.append(fw_chain)
        rules.extend(_firewall_rules(svc, ctx, fw_chain, ext_chain))
    if uses_cluster_chain:
        chains.append(svc_chain)
        rules.extend(_balance(svc, svc_chain, eps.cluster, comments, sep))
    if uses_local_chain:
        chains.append(svl_chain)
        rules.extend(_balance(svc, svl_chain, eps.local, comments, sep))
    for ep, chain in sep.items():
        chains.append(chain)
        head = ("-A", chain, *(("-m", "comment", "--comment", quote(name)) if comments else ()))
        rules.append(_line(*head, "-s", ep.ip, "-j", KUBE_MARK_MASQ))  # hairpin: a pod reaching itself
        affinity = ("-m", "recent", "--name", chain, "--set") if svc.sticky_seconds else ()
        rules.append(_line(*head, *affinity, *match, "-j", "DNAT", "--to-destination", ep.text))
    return ServiceRules(tuple(filter_rules), tuple(dispatch), tuple(chains), tuple(rules))


def _external_rules(svc: ServicePort, ctx: NodeContext, ext_chain: str, svc_chain: str) -> list[str]:
    """KUBE-EXT's head: Cluster policy masquerades (the endpoint may be on another node); Local
    policy keeps the client's address, except for pods and the node itself, which use the cluster chain."""
    name = str(svc.name)
    if not svc.external_policy_local:
        return [_line("-A", ext_chain, "-m", "comment", "--comment",
                      quote(f"masquerade traffic for {name} external destinations"), "-j", KUBE_MARK_MASQ)]
    rules = []
    if ctx.cluster_cidr:
        rules.append(_line("-A", ext_chain, "-m", "comment", "--comment",
                           quote(f"pod traffic for {name} external destinations"),
                           "-s", ctx.cluster_cidr, "-j", svc_chain))
    local = ("-m", "addrtype", "--src-type", "LOCAL")
    rules.append(_line("-A", ext_chain, "-m", "comment", "--comment",
                       quote(f"masquerade LOCAL traffic for {name} external destinations"), *local, "-j", KUBE_MARK_MASQ))
    rules.append(_line("-A", ext_chain, "-m", "comment", "--comment",
                       quote(f"route LOCAL traffic for {name} external destinations"), *local, "-j", svc_chain))
    return rules


def _firewall_rules(svc: ServicePort, ctx: NodeContext, fw_chain: str, ext_chain: str) -> list[str]:
    """loadBalancerSourceRanges: only listed sources reach KUBE-EXT; the rest fall through to the
    filter table's DROP. The node's own requests to its VIP loop back from the VIP itself."""
    head = ("-A", fw_chain, "-m", "comment", "--comment", quote(f"{svc.name} loadbalancer IP"))
    rules = [_line(*head, "-s", cidr, "-j", ext_chain) for cidr in svc.load_balancer_source_ranges]
    node = ipaddress.ip_address(ctx.node_ip)
    if any(node in ipaddress.ip_network(cidr) for cidr in svc.load_balancer_source_ranges):
        rules.extend(_line(*head, "-s", ip, "-j", ext_chain) for ip in svc.load_balancer_ips)
    return rules


def _balance(svc: ServicePort, chain: str, endpoints: tuple[Endpoint, ...], comments: bool,
             sep: dict[Endpoint, str]) -> list[str]:
    """writeServiceToEndpointRules: affinity checks first, then one statistic rule per endpoint
    with probability 1/(n-i), the last one unconditional."""
    def comment(ep: Endpoint) -> tuple[str, ...]:
        return ("-m", "comment", "--comment", quote(f"{svc.name} -> {ep}")) if comments else ()

    rules = []
    if svc.sticky_seconds:
        for ep in endpoints:
            target = sep[ep]
            rules.append(_line("-A", chain, *comment(ep), "-m", "recent", "--name", target, "--rcheck",
                               "--seconds", str(svc.sticky_seconds), "--reap", "-j", target))
    n = len(endpoints)
    for i, ep in enumerate(endpoints):
        statistic = ("-m", "statistic", "--mode", "random", "--probability", probability(n - i)) if i < n - 1 else ()
        rules.append(_line("-A", chain, *comment(ep), *statistic, "-j", sep[ep]))
    return rules


def is_service_chain(chain: str) -> bool:
    return chain.startswith(SERVICE_CHAIN_PREFIXES)


SharedChains = dict[tuple[str, str], tuple[str, ...]]  # (table, chain) → its rules, in order


def _chain_of(rule: str) -> str:
    return rule.split(" ", 2)[1]  # "-A CHAIN …"


def shared_chains(fragments: Iterable[ServiceRules], ctx: NodeContext) -> SharedChains:
    """The rules of the chains all services share (filter KUBE-SERVICES …, nat KUBE-SERVICES,
    KUBE-NODEPORTS, KUBE-POSTROUTING, KUBE-MARK-MASQ), gathered from every service port's fragment."""
    mark = f"{ctx.mark}/{ctx.mark}"
    chains: dict[tuple[str, str], list[str]] = {("filter", c): [] for c in (*FILTER_CHAINS, KUBE_FIREWALL)}
    chains.update({("nat", c): [] for c in NAT_CHAINS})
    chains["filter", KUBE_FIREWALL].append(
        _line("-A", KUBE_FIREWALL, "-m", "comment", "--comment", quote("block incoming localnet connections"),
              "-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8", "-m", "conntrack",
              "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP"))
    for fragment in fragments:
        for rule in fragment.filter:
            chains["filter", _chain_of(rule)].append(rule)
        for rule in fragment.dispatch:
            chains["nat", _chain_of(rule)].append(rule)
    chains["filter", KUBE_FORWARD] += [
        _line("-A", KUBE_FORWARD, "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"),
        _line("-A", KUBE_FORWARD, "-m", "comment", "--comment", quote("kubernetes forwarding rules"),
              "-m", "mark", "--mark", mark, "-j", "ACCEPT"),
        _line("-A", KUBE_FORWARD, "-m", "comment", "--comment", quote("kubernetes forwarding conntrack rule"),
              "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
    ]
    chains["nat", KUBE_POSTROUTING] += [
        _line("-A", KUBE_POSTROUTING, "-m", "mark", "!", "--mark", mark, "-j", "RETURN"),
        _line("-A", KUBE_POSTROUTING, "-j", "MARK", "--xor-mark", ctx.mark),
        _line("-A", KUBE_POSTROUTING, "-m", "comment", "--comment", quote("kubernetes service traffic requiring SNAT"),
              "-j", "MASQUERADE", "--random-fully"),
    ]
    chains["nat", KUBE_MARK_MASQ].append(_line("-A", KUBE_MARK_MASQ, "-j", "MARK", "--or-mark", ctx.mark))
    chains["nat", KUBE_SERVICES].append(
        _line("-A", KUBE_SERVICES, "-m", "comment", "--comment",
              quote("kubernetes service nodeports; NOTE: this must be the last rule in this chain"),
              "-m", "addrtype", "--dst-type", "LOCAL", "-j", KUBE_NODEPORTS))
    return {key: tuple(rules) for key, rules in chains.items()}


def render_restore(shared: SharedChains, written: Iterable[ServiceRules], stale: Iterable[str],
                   jumps: Iterable[JumpRule] = (), canaries: bool = False, load_all_chains: bool = False) -> str:
    """The whole transaction: filter, then nat. `shared` are the shared chains to rewrite (declared,
    which flushes them, then filled); `written` the service ports whose own chains are rewritten;
    `stale` the service chains to flush and delete. A full sync adds the missing `jumps` and the
    `canaries`. A table with nothing to write is left out; with nothing at all, the text is empty.

    `load_all_chains` opens the nat part with `-Z` (zero the table's counters). iptables-nft 1.8.9
    with --noflush caches only the chains a transaction names, kept in a list sorted by name that
    every rule line searches: quadratic, 5.9 s for 1,000 services × 10 endpoints. A command naming
    no chain makes it load the whole table instead (1.0 s). -Z is the one such command that changes
    nothing but counters, and a full sync recreates every kube-proxy rule, whose counters restart
    at zero anyway; the table's other rules' counters restart too, so it is kept for large clusters."""
    jumps, written = list(jumps), list(written)
    canary = [f":{KUBE_PROXY_CANARY} - [0:0]"] if canaries else []
    text: list[str] = ["*mangle", *canary, "COMMIT"] if canaries else []
    for table in ("filter", "nat"):
        own = [chain for (t, chain) in shared if t == table]
        declared: list[str] = []
        rules = [rule for chain in own for rule in shared[table, chain]]
        if table == "nat":
            declared = [chain for fragment in written for chain in fragment.chains] + list(stale)
            rules += [rule for fragment in written for rule in fragment.rules]
            rules += [f"-X {chain}" for chain in stale]
        # Declared in reverse name order: iptables-nft (1.8.9) keeps its chain cache sorted by name and
        # inserts from the front, so this order makes 10,000 declarations take 0.2 s instead of 2.7 s.
        zero = ["-Z"] if table == "nat" and load_all_chains else []
        lines = [*zero, *(f":{c} - [0:0]" for c in own), *canary, *(f":{c} - [0:0]" for c in sorted(declared, reverse=True)),
                 *_inserts(jumps, table), *rules]
        if lines:
            text += [f"*{table}", *lines, "COMMIT"]
    return "\n".join([*text, ""]) if text else ""


def _inserts(jumps: list[JumpRule], table: str) -> list[str]:
    return [f"-I {jump.chain} 1 {jump.spec}" for jump in jumps if jump.table == table]
