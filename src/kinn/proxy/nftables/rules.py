"""kube-proxy's nftables rule set as a pure function (pkg/proxy/nftables syncProxyRules, v1.31).

Everything lives in one table, `ip kube-proxy`. Service IPs and NodePorts are not matched rule by
rule: the `services` chain looks the packet's (daddr . l4proto . dport) up in the verdict map
`service-ips` (NodePorts: `service-nodeports`, for the node's IP in `nodeport-ips`) and jumps to the
service port's own chain, which picks an endpoint chain with `numgen random mod N vmap`; the
endpoint chain DNATs. Services without endpoints are elements of `no-endpoint-services` /
`no-endpoint-nodeports` whose verdict is `goto reject-chain` (or `drop` when only local endpoints
are missing), checked by the filter chains before DNAT; other ports of a ClusterIP are rejected by
`cluster-ips-check`. Names, comments and statements are upstream's, so `nft list table ip
kube-proxy` in a kinn node reads like a real node's.

A partial sync is one transaction: it rewrites only the changed Services' chains and adds or
deletes only the map and set elements that changed, so its size does not grow with the number of
Services. A full sync (start, failure, table gone) rebuilds the table in a few transactions: the
Services' chains first, in batches, then the one that rewrites the fixed chains and the maps and so
switches every Service to its new chains at once. A chain no longer used is flushed at once but
deleted only by a later transaction at least a second after (kernels before 6.2 notice a map
element's chain reference going away only a moment later).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Iterable

from kinn.proxy.changes import Change, ServiceKey, Snapshot
from kinn.proxy.nftables.elements import Element, ElementKey, ElementStore
from kinn.proxy.nftables.transaction import BaseChain, Transaction
from kinn.proxy.node import NodeContext
from kinn.proxy.serviceport import Categorized, Endpoint, ServicePort, categorize

FAMILY, TABLE = "ip", "kube-proxy"
TABLE_COMMENT = "rules for kube-proxy"

SERVICES = "services"
SERVICE_IPS = "service-ips"
SERVICE_NODEPORTS = "service-nodeports"
NODEPORT_IPS = "nodeport-ips"
CLUSTER_IPS = "cluster-ips"
SERVICE_ENDPOINTS_CHECK = "service-endpoints-check"
NODEPORT_ENDPOINTS_CHECK = "nodeport-endpoints-check"
NO_ENDPOINT_SERVICES = "no-endpoint-services"
NO_ENDPOINT_NODEPORTS = "no-endpoint-nodeports"
REJECT_CHAIN = "reject-chain"
CLUSTER_IPS_CHECK = "cluster-ips-check"
FIREWALL_IPS = "firewall-ips"
FIREWALL_CHECK = "firewall-check"
MARK_MASQ = "mark-for-masquerade"
MASQUERADING = "masquerading"

DSTNAT, SRCNAT = -100, 100
# The filter chains see the destination before DNAT, so they run just before it; the cluster-ips
# check of locally sent packets must see it after (a DNATed one is no longer a ClusterIP).
BASE_CHAINS = (
    BaseChain("filter-prerouting", "filter", "prerouting", DSTNAT - 10),
    BaseChain("filter-input", "filter", "input", DSTNAT - 10),
    BaseChain("filter-forward", "filter", "forward", DSTNAT - 10),
    BaseChain("filter-output", "filter", "output", DSTNAT - 10),
    BaseChain("filter-output-post-dnat", "filter", "output", DSTNAT + 10),
    BaseChain("nat-prerouting", "nat", "prerouting", DSTNAT),
    BaseChain("nat-output", "nat", "output", DSTNAT),
    BaseChain("nat-postrouting", "nat", "postrouting", SRCNAT),
)
_NEW = "ct state new"
# (target, base chain, match) — the endpoints checks REJECT, which is only valid in input, forward and output.
JUMPS = (
    (NODEPORT_ENDPOINTS_CHECK, "filter-input", _NEW),
    (SERVICE_ENDPOINTS_CHECK, "filter-input", _NEW),
    (SERVICE_ENDPOINTS_CHECK, "filter-forward", _NEW),
    (SERVICE_ENDPOINTS_CHECK, "filter-output", _NEW),
    (FIREWALL_CHECK, "filter-prerouting", _NEW),
    (FIREWALL_CHECK, "filter-output", _NEW),
    (SERVICES, "nat-output", ""),
    (SERVICES, "nat-prerouting", ""),
    (MASQUERADING, "nat-postrouting", ""),
    (CLUSTER_IPS_CHECK, "filter-forward", _NEW),
    (CLUSTER_IPS_CHECK, "filter-output-post-dnat", _NEW),
)
ADDR = "ipv4_addr"
SERVICE_MAP_TYPE = f"{ADDR} . inet_proto . inet_service : verdict"
NODEPORT_MAP_TYPE = "inet_proto . inet_service : verdict"
# Every set and map a sync fills (flushed by a full sync), with its kind.
CONTAINERS = (("set", CLUSTER_IPS), ("map", SERVICE_IPS), ("map", FIREWALL_IPS), ("map", NO_ENDPOINT_SERVICES),
              ("map", NO_ENDPOINT_NODEPORTS), ("map", SERVICE_NODEPORTS))

NAME_LENGTH_MAX = 256  # nftables' NFT_NAME_MAXLEN
CHAIN_NAME_BASE_MAX = NAME_LENGTH_MAX - 16  # room for the longest prefix ("external-", "affinity-" …)
STALE_CHAIN_GRACE = 1.0
FULL_SYNC_BATCH = 500  # Services per transaction of a full sync's chains


def hash_and_truncate(name: str) -> str:
    """`<first 8 of base32(sha256(name))>-<name>`: readable, and unique even when cut to length."""
    name = base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()[:8] + "-" + name
    return name if len(name) <= CHAIN_NAME_BASE_MAX else name[:CHAIN_NAME_BASE_MAX - 3] + "..."


def chain_name_base(svc: ServicePort) -> str:
    """`HASH-ns/svc/proto/port`: `/` cannot occur in any of the parts, so it tells service chains apart."""
    return hash_and_truncate(f"{svc.name.namespace}/{svc.name.name}/{svc.protocol.lower()}/{svc.name.port}")


def endpoint_chain_name_base(svc: ServicePort, endpoint: Endpoint) -> str:
    """`HASH-ns/svc/proto/port__ip/port`."""
    return hash_and_truncate(f"{svc.name.namespace}/{svc.name.name}/{svc.protocol.lower()}/{svc.name.port}"
                             f"__{endpoint.ip}/{endpoint.port}")


def is_service_chain(name: str) -> bool:
    return "/" in name


def is_affinity_set(name: str) -> bool:
    return name.startswith("affinity-")


@dataclass(frozen=True)
class Rule:
    chain: str
    rule: str
    comment: str = ""


@dataclass(frozen=True)
class ServiceObjects:
    """One service port's share of the table: its own chains, sets and rules, and its elements in the shared maps."""

    chains: tuple[str, ...]
    affinity_sets: tuple[tuple[str, int], ...]  # (name, timeout seconds)
    rules: tuple[Rule, ...]
    elements: tuple[Element, ...]


@dataclass(frozen=True)
class _Policy:
    """Which of a service port's chains exist and where its internal and external traffic goes
    (the first half of syncProxyRules' loop, shared by its elements and its rules)."""

    base: str
    internal_local: bool  # internalTrafficPolicy: Local
    has_internal: bool  # a chain to send ClusterIP traffic to
    external_local: bool  # externalTrafficPolicy: Local
    has_external: bool  # endpoints for NodePort/externalIP/LB traffic that was not short-circuited
    uses_cluster_chain: bool
    uses_local_chain: bool
    uses_external_chain: bool
    uses_fw_chain: bool
    no_endpoints_verdict: str

    @property
    def cluster_chain(self) -> str:
        return "service-" + self.base

    @property
    def local_chain(self) -> str:
        return "local-" + self.base

    @property
    def external_chain(self) -> str:
        return "external-" + self.base

    @property
    def fw_chain(self) -> str:
        return "firewall-" + self.base

    @property
    def internal_chain(self) -> str:
        return self.local_chain if self.internal_local else self.cluster_chain

    @property
    def external_policy_chain(self) -> str:
        return self.local_chain if self.external_local else self.cluster_chain


def _policy(svc: ServicePort, eps: Categorized) -> _Policy:
    has_local = eps.has_any and bool(eps.local)
    return _Policy(
        base=chain_name_base(svc),
        internal_local=svc.internal_policy_local,
        has_internal=has_local if svc.internal_policy_local else eps.has_any,
        external_local=svc.external_policy_local,
        has_external=has_local if svc.external_policy_local else eps.has_any,
        uses_cluster_chain=bool(eps.cluster) and svc.uses_cluster_endpoints,
        uses_local_chain=bool(eps.local) and svc.uses_local_endpoints,
        # Even without externally usable endpoints, the external chain short-circuits pods and the node.
        uses_external_chain=eps.has_any and svc.externally_accessible,
        uses_fw_chain=bool(svc.load_balancer_ips) and bool(svc.load_balancer_source_ranges),
        # No endpoints at all: reject. Only no *local* ones under a Local policy: drop what was not short-circuited.
        no_endpoints_verdict="drop" if eps.has_any else f"goto {REJECT_CHAIN}",
    )


def service_objects(svc: ServicePort, endpoints: list[Endpoint], ctx: NodeContext) -> ServiceObjects:
    """syncProxyRules' body for one service port."""
    eps = categorize(endpoints, svc)
    policy = _policy(svc, eps)
    bases = {ep.text: endpoint_chain_name_base(svc, ep) for ep in eps.reachable}
    chains = ["endpoint-" + b for b in bases.values()]
    if policy.uses_cluster_chain:
        chains.append(policy.cluster_chain)
    if policy.uses_local_chain:
        chains.append(policy.local_chain)
    if policy.uses_external_chain:
        chains.append(policy.external_chain)
    if policy.uses_fw_chain:
        chains.append(policy.fw_chain)
    affinity_sets = tuple(("affinity-" + b, svc.sticky_seconds) for b in bases.values()) if svc.sticky_seconds else ()
    return ServiceObjects(tuple(chains), affinity_sets, tuple(_rules(svc, eps, policy, bases, ctx)),
                          tuple(_elements(svc, eps, policy)))


def _elements(svc: ServicePort, eps: Categorized, policy: _Policy) -> list[Element]:
    name, proto = str(svc.name), svc.protocol.lower()

    def vip(ip: str) -> str:
        return f"{ip} . {proto} . {svc.port}"

    def no_endpoints(container: str, key: str) -> Element:
        return Element(container, key, policy.no_endpoints_verdict, name)

    elements = [Element(CLUSTER_IPS, svc.cluster_ip)]
    if policy.has_internal:
        elements.append(Element(SERVICE_IPS, vip(svc.cluster_ip), f"goto {policy.internal_chain}"))
    else:
        elements.append(no_endpoints(NO_ENDPOINT_SERVICES, vip(svc.cluster_ip)))
    for ip in svc.external_ips:
        if eps.has_any:
            elements.append(Element(SERVICE_IPS, vip(ip), f"goto {policy.external_chain}"))
        if not policy.has_external:
            elements.append(no_endpoints(NO_ENDPOINT_SERVICES, vip(ip)))
    for ip in svc.load_balancer_ips:
        if eps.has_any:
            elements.append(Element(SERVICE_IPS, vip(ip), f"goto {policy.external_chain}"))
        if policy.uses_fw_chain:
            elements.append(Element(FIREWALL_IPS, vip(ip), f"goto {policy.fw_chain}"))
    if not policy.has_external:
        elements.extend(no_endpoints(NO_ENDPOINT_SERVICES, vip(ip)) for ip in svc.load_balancer_ips)
    if svc.node_port:
        # NodePorts are not subject to loadBalancerSourceRanges (upstream cannot change that any more).
        if eps.has_any:
            elements.append(Element(SERVICE_NODEPORTS, f"{proto} . {svc.node_port}", f"goto {policy.external_chain}"))
        if not policy.has_external:
            elements.append(no_endpoints(NO_ENDPOINT_NODEPORTS, f"{proto} . {svc.node_port}"))
    return elements


def _rules(svc: ServicePort, eps: Categorized, policy: _Policy, bases: dict[str, str], ctx: NodeContext) -> list[Rule]:
    """`bases`: each reachable endpoint's chain name base, by `ip:port`."""
    proto = svc.protocol.lower()
    rules: list[Rule] = []
    if policy.has_internal:
        match = f"ip daddr {svc.cluster_ip} {proto} dport {svc.port}"
        if ctx.masquerade_all:
            rules.append(Rule(policy.internal_chain, f"{match} jump {MARK_MASQ}"))
        elif ctx.cluster_cidr:
            # Off-cluster traffic to a VIP (a static route to the service range via a node) may
            # bounce to another node: masquerade it so replies come back this way.
            rules.append(Rule(policy.internal_chain, f"{match} ip saddr != {ctx.cluster_cidr} jump {MARK_MASQ}"))
    if policy.uses_external_chain:
        rules.extend(_external_rules(svc, ctx, policy.external_chain, policy.cluster_chain))
        if policy.has_external:
            rules.append(Rule(policy.external_chain, f"goto {policy.external_policy_chain}"))
    if policy.uses_fw_chain:
        rules.append(_firewall_rule(svc, ctx, policy.fw_chain))
    if policy.uses_cluster_chain:
        rules.extend(_balance(svc, policy.cluster_chain, [bases[ep.text] for ep in eps.cluster]))
    if policy.uses_local_chain:
        rules.extend(_balance(svc, policy.local_chain, [bases[ep.text] for ep in eps.local]))
    for ep in eps.reachable:
        base = bases[ep.text]
        chain = "endpoint-" + base
        rules.append(Rule(chain, f"ip saddr {ep.ip} jump {MARK_MASQ}"))  # hairpin: a pod reaching itself
        if svc.sticky_seconds:
            rules.append(Rule(chain, f"update @affinity-{base} {{ ip saddr }}"))
        rules.append(Rule(chain, f"meta l4proto {proto} dnat to {ep.text}"))
    return rules


def _external_rules(svc: ServicePort, ctx: NodeContext, external_chain: str, cluster_chain: str) -> list[Rule]:
    """The external chain's head: Cluster policy masquerades (the endpoint may be on another node);
    Local policy keeps the client's address, except for pods and the node itself, which are sent to
    the Cluster-policy endpoints as if they had gone out to a load balancer and come back."""
    if not svc.external_policy_local:
        return [Rule(external_chain, f"jump {MARK_MASQ}")]
    rules = []
    if ctx.cluster_cidr:
        rules.append(Rule(external_chain, f"ip saddr {ctx.cluster_cidr} goto {cluster_chain}", "short-circuit pod traffic"))
    # The node's own request to an external IP has that (local) IP as its source: masquerade it.
    rules.append(Rule(external_chain, f"fib saddr type local jump {MARK_MASQ}", "masquerade local traffic"))
    rules.append(Rule(external_chain, f"fib saddr type local goto {cluster_chain}", "short-circuit local traffic"))
    return rules


def _firewall_rule(svc: ServicePort, ctx: NodeContext, fw_chain: str) -> Rule:
    """loadBalancerSourceRanges: other sources are dropped. A node inside the ranges reaching a VIP
    that is also a local address loops back with the VIP as source, so the VIPs are allowed then too."""
    sources = list(svc.load_balancer_source_ranges)
    node = ipaddress.ip_address(ctx.node_ip)
    if any(node in ipaddress.ip_network(cidr) for cidr in sources):
        sources += svc.load_balancer_ips
    return Rule(fw_chain, f"ip saddr != {{ {' , '.join(sources)} }} drop")


def _balance(svc: ServicePort, chain: str, bases: list[str]) -> list[Rule]:
    """writeServiceToEndpointRules: affinity lookups first, then one random pick among all the
    endpoints (`bases`: their chain name bases)."""
    rules = [Rule(chain, f"ip saddr @affinity-{b} goto endpoint-{b}") for b in bases] if svc.sticky_seconds else []
    choices = " , ".join(f"{i} : goto endpoint-{b}" for i, b in enumerate(bases))
    rules.append(Rule(chain, f"numgen random mod {len(bases)} vmap {{ {choices} }}"))
    return rules


def write_setup(tx: Transaction, ctx: NodeContext) -> None:
    """setupNFTables: the table, base chains, fixed chains and rules, and empty sets and maps.

    NodePorts answer on the node's IP only (`--nodeport-addresses primary`, the nftables mode's
    default; localhost NodePorts are not supported in this mode). Traffic to unallocated ClusterIPs
    is not dropped: that needs the ServiceCIDR objects of the MultiCIDRServiceAllocator gate, off by
    default in v1.31."""
    tx.add_table(TABLE_COMMENT)
    for chain in BASE_CHAINS:
        tx.add_base_chain(chain)
        tx.flush_chain(chain.name)
    created: set[str] = set()
    for target, source, match in JUMPS:
        _ensure_chain(tx, target, created)
        tx.add_rule(source, f"{match} jump {target}".strip())
    for chain in (SERVICES, CLUSTER_IPS_CHECK, MASQUERADING, MARK_MASQ):
        _ensure_chain(tx, chain, created)
    tx.add_rule(MARK_MASQ, f"mark set mark or {ctx.mark}")
    tx.add_rule(MASQUERADING, f"mark and {ctx.mark} == 0 return")
    tx.add_rule(MASQUERADING, f"mark set mark xor {ctx.mark}")
    tx.add_rule(MASQUERADING, "masquerade fully-random")
    tx.add_set(CLUSTER_IPS, ADDR, comment="Active ClusterIPs")
    tx.add_rule(CLUSTER_IPS_CHECK, f"ip daddr @{CLUSTER_IPS} reject", "Reject traffic to invalid ports of ClusterIPs")
    tx.add_set(NODEPORT_IPS, ADDR, comment="IPs that accept NodePort traffic")
    tx.flush("set", NODEPORT_IPS)
    tx.add_element(NODEPORT_IPS, ctx.node_ip)
    tx.add_map(NO_ENDPOINT_SERVICES, SERVICE_MAP_TYPE, "vmap to drop or reject packets to services with no endpoints")
    tx.add_map(NO_ENDPOINT_NODEPORTS, NODEPORT_MAP_TYPE,
               "vmap to drop or reject packets to service nodeports with no endpoints")
    tx.add_chain(REJECT_CHAIN, "helper for @no-endpoint-services / @no-endpoint-nodeports")
    tx.flush_chain(REJECT_CHAIN)
    tx.add_rule(REJECT_CHAIN, "reject")
    tx.add_rule(SERVICE_ENDPOINTS_CHECK, f"ip daddr . meta l4proto . th dport vmap @{NO_ENDPOINT_SERVICES}")
    tx.add_rule(NODEPORT_ENDPOINTS_CHECK,
                f"ip daddr @{NODEPORT_IPS} meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}")
    tx.add_map(FIREWALL_IPS, SERVICE_MAP_TYPE, "destinations that are subject to LoadBalancerSourceRanges")
    tx.add_rule(FIREWALL_CHECK, f"ip daddr . meta l4proto . th dport vmap @{FIREWALL_IPS}")
    tx.add_map(SERVICE_IPS, SERVICE_MAP_TYPE, "ClusterIP, ExternalIP and LoadBalancer IP traffic")
    tx.add_map(SERVICE_NODEPORTS, NODEPORT_MAP_TYPE, "NodePort traffic")
    tx.add_rule(SERVICES, f"ip daddr . meta l4proto . th dport vmap @{SERVICE_IPS}")
    tx.add_rule(SERVICES, f"ip daddr @{NODEPORT_IPS} meta l4proto . th dport vmap @{SERVICE_NODEPORTS}")
    for kind, name in CONTAINERS:
        tx.flush(kind, name)


def _ensure_chain(tx: Transaction, chain: str, created: set[str]) -> None:
    """Add and flush a chain once per transaction (a second flush would drop rules added since)."""
    if chain not in created:
        created.add(chain)
        tx.add_chain(chain)
        tx.flush_chain(chain)


@dataclass
class TableState:
    """What the table holds after the last successful sync: each Service's objects, the elements,
    and the chains flushed but not yet deleted (with when they went stale)."""

    objects: dict[ServiceKey, tuple[ServiceObjects, ...]] = field(default_factory=dict)
    elements: ElementStore = field(default_factory=ElementStore)
    stale_chains: dict[str, float] = field(default_factory=dict)


def _objects_of(key: ServiceKey, snapshot: Snapshot, ctx: NodeContext) -> tuple[ServiceObjects, ...]:
    ports = sorted(snapshot.services.get(key, []), key=lambda p: (p.name, p.protocol))
    return tuple(service_objects(port, snapshot.endpoints_of(port), ctx) for port in ports)


def full_sync(snapshot: Snapshot, ctx: NodeContext, now: float, existing_chains: Iterable[str],
              existing_sets: Iterable[str]) -> tuple[list[Transaction], TableState]:
    """The transactions rebuilding the table, in the order to commit them, and the state they leave.
    `existing_*` are the table's chains and sets before it (listed from the kernel): service chains
    and affinity sets no Service uses any more are flushed (chains, deleted later) or deleted (sets).

    The Services' chains and rules come first, FULL_SYNC_BATCH Services per transaction, each
    Service whole within one; until the last transaction the maps still send traffic where they did
    (nowhere, on a new table). The last one rewrites the fixed chains, the sets and maps and their
    elements. All in one transaction would cost the kernel time quadratic in the Services: binding
    each Service chain's anonymous `numgen` map walks every message of the batch before it
    (__nft_set_trans_bind), which made a full sync of 5,000 Services × 10 endpoints take a minute."""
    state = TableState()
    batches: list[Transaction] = []
    touched: list[ElementKey] = []
    for index, key in enumerate(sorted(snapshot.services)):
        if index % FULL_SYNC_BATCH == 0:
            batches.append(_services_transaction())
        objects = _objects_of(key, snapshot, ctx)
        state.objects[key] = objects
        _write_objects(batches[-1], objects)
        touched += state.elements.claim(key, (), (e for o in objects for e in o.elements))
    tx = Transaction(FAMILY, TABLE)
    write_setup(tx, ctx)
    active_chains = {c for objects in state.objects.values() for o in objects for c in o.chains}
    for chain in existing_chains:
        if is_service_chain(chain) and chain not in active_chains:
            tx.flush_chain(chain)
            state.stale_chains[chain] = now
    active_sets = {name for objects in state.objects.values() for o in objects for name, _ in o.affinity_sets}
    for name in existing_sets:
        if is_affinity_set(name) and name not in active_sets:
            tx.delete_set(name)
    state.elements.reconcile(tx, touched)
    return batches + [tx], state


def _services_transaction() -> Transaction:
    """A transaction for a batch of Services' chains, starting with what they refer to outside
    themselves (the table, and the chain their rules jump to), so that it commits on a new table too."""
    tx = Transaction(FAMILY, TABLE)
    tx.add_table(TABLE_COMMENT)
    tx.add_chain(MARK_MASQ)
    return tx


def partial_sync(state: TableState, snapshot: Snapshot, changes: dict[ServiceKey, Change], ctx: NodeContext,
                 now: float) -> Transaction:
    """The transaction for the changed Services only (empty when nothing changed), updating `state` as
    if it succeeded: a failed transaction is followed by a full sync, which starts from scratch."""
    tx = Transaction(FAMILY, TABLE)
    touched: list[ElementKey] = []
    for key in sorted(changes):
        old, new = state.objects.pop(key, ()), _objects_of(key, snapshot, ctx)
        if new:
            state.objects[key] = new
        new_chains = {c for o in new for c in o.chains}
        new_sets = dict(s for o in new for s in o.affinity_sets)
        gone_chains = [c for o in old for c in o.chains if c not in new_chains]
        _write_objects(tx, new, gone_chains, gone_sets=[n for o in old for n, t in o.affinity_sets
                                                        if new_sets.get(n) != t])
        for chain in new_chains:
            state.stale_chains.pop(chain, None)
        state.stale_chains.update(dict.fromkeys(gone_chains, now))
        touched += state.elements.claim(key, (e for o in old for e in o.elements), (e for o in new for e in o.elements))
    state.elements.reconcile(tx, touched)
    return tx


def _write_objects(tx: Transaction, objects: Iterable[ServiceObjects], gone_chains: Iterable[str] = (),
                   gone_sets: Iterable[str] = ()) -> None:
    """A Service's chains (created and emptied), then what it no longer uses (stale chains flushed,
    dropped or changed affinity sets deleted, once no rule refers to them), its sets, its rules."""
    objects = list(objects)
    for chain in (c for o in objects for c in o.chains):
        tx.add_chain(chain)
        tx.flush_chain(chain)
    for chain in gone_chains:
        tx.flush_chain(chain)
    for name in gone_sets:
        tx.delete_set(name)
    for name, timeout in (s for o in objects for s in o.affinity_sets):
        # "dynamic": the kernel adds it itself once a rule updates the set; asking for it keeps
        # the next `add set` identical to what is there.
        tx.add_set(name, ADDR, flags="dynamic,timeout", timeout=timeout)
    for rule in (r for o in objects for r in o.rules):
        tx.add_rule(rule.chain, rule.rule, rule.comment)


def due_stale_chains(state: TableState, now: float) -> list[str]:
    """Stale chains flushed at least STALE_CHAIN_GRACE ago, which a separate transaction may delete."""
    return sorted(chain for chain, since in state.stale_chains.items() if now - since >= STALE_CHAIN_GRACE)


def delete_chains(chains: Iterable[str]) -> Transaction:
    tx = Transaction(FAMILY, TABLE)
    for chain in chains:
        tx.delete_chain(chain)
    return tx
