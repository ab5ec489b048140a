"""The part of a node's kube-proxy rules that belongs to one Service, cut out of the whole rule set.

kube-proxy names what it writes after the Service, which is how a person reads `iptables-save`
(seed 002) and how this module finds them: in iptables (and userspace) mode, rules whose comment
names the service port (`"default/web:http cluster IP"`, `default/web:http`, `"masquerade traffic for
default/web:http external destinations"`, `"default/web:http has no endpoints"`), then, following
their jumps, the per-service chains (KUBE-SVC/SVL/EXT/FW/SEP-…) in full, whose per-endpoint rules
lose their comments in large clusters. In nftables mode the chain names carry the service
(`service-<H8>-default/web/tcp/http`, `endpoint-<H8>-default/web/tcp/http__10.244.1.3/8080`) and the
verdict-map elements jump to them.
"""

from __future__ import annotations

import re

from kinn.proxy.iptables.rules import is_service_chain

TABLE_LINE = re.compile(r"^\*(\S+)$")
RULE_LINE = re.compile(r"^-A (\S+) ")
COMMENT = re.compile(r'--comment (?:"((?:[^"\\]|\\.)*)"|(\S+))')
JUMP = re.compile(r" -[jg] (\S+)")
DISPATCH_ORDER = ("KUBE-SERVICES", "KUBE-NODEPORTS")


def _names_service(comment: str, service: str) -> bool:
    """`service` (namespace/name) as a word of the comment, with or without a `:port` suffix."""
    return re.search(rf"(?:^|\s){re.escape(service)}(?::\S*)?(?:\s|$)", comment) is not None


def _comment(rule: str) -> str:
    match = COMMENT.search(rule)
    return (match.group(1) or match.group(2) or "") if match else ""


def _jump(rule: str) -> str | None:
    match = JUMP.search(rule)
    return match.group(1) if match else None


def parse_save(saved: str) -> dict[str, list[str]]:
    """`iptables-save` output → its `-A` rules per table, in order."""
    tables: dict[str, list[str]] = {}
    current: list[str] = []
    for line in saved.splitlines():
        if match := TABLE_LINE.match(line):
            current = tables.setdefault(match.group(1), [])
        elif RULE_LINE.match(line):
            current.append(line)
    return tables


def iptables_service_rules(saved: str, service: str) -> dict[str, list[str]]:
    """Per table, the rules of `iptables-save` output that implement `service` (namespace/name), in
    the order a packet meets them: the dispatch rules naming it (KUBE-SERVICES, KUBE-NODEPORTS …),
    then the service chains they lead to, level by level (KUBE-SVC, then KUBE-SEP …), each chain's
    rules in their own order — not iptables-save's alphabetical order of chains."""
    found: dict[str, list[str]] = {}
    for table, rules in parse_save(saved).items():
        picked = {i for i, rule in enumerate(rules) if _names_service(_comment(rule), service)}
        dispatch = {i for i in picked if not is_service_chain(_chain(rules[i]))}
        depth = _reach(rules, dispatch)  # KUBE-SERVICES → KUBE-SVC → KUBE-SEP, KUBE-NODEPORTS → KUBE-EXT → …
        deepest = max(depth.values(), default=0)  # chains only other service chains lead to come after
        depth.update({chain: deepest + level for chain, level in _reach(rules, picked, set(depth)).items()})
        picked |= {i for i, rule in enumerate(rules) if _chain(rule) in depth}
        if picked:
            found[table] = [rules[i] for i in sorted(picked, key=lambda i: _packet_order(depth, rules[i], i))]
    return found


def _reach(rules: list[str], start: set[int], known: set[str] | None = None) -> dict[str, int]:
    """The service chains the `start` rules lead to, each with how many jumps away it is."""
    depth: dict[str, int] = {}
    seen = set(known or ())
    frontier = {target for i in start if (target := _jump(rules[i])) and is_service_chain(target)} - seen
    while frontier:
        depth.update(dict.fromkeys(frontier, len(set(depth.values())) + 1))
        seen |= frontier
        members = [rule for rule in rules if _chain(rule) in frontier]
        frontier = {target for rule in members if (target := _jump(rule)) and is_service_chain(target)} - seen
    return depth


def _packet_order(depth: dict[str, int], rule: str, index: int) -> tuple[int, int, int]:
    """Service chains by how many jumps from the dispatch chains; KUBE-SERVICES (where PREROUTING
    and OUTPUT lead) before KUBE-NODEPORTS (its last rule), then the rest as iptables-save lists them."""
    chain = _chain(rule)
    entry = DISPATCH_ORDER.index(chain) if chain in DISPATCH_ORDER else len(DISPATCH_ORDER)
    return depth.get(chain, 0), entry, index


def _chain(rule: str) -> str:
    return RULE_LINE.match(rule).group(1)  # type: ignore[union-attr]


def chain_names_service(chain: str, service: str) -> bool:
    """nftables chain names: `<kind>-<H8>-<namespace>/<name>/<proto>/<port>[__<ip>/<port>]`."""
    return re.match(rf"^[a-z]+-[A-Z0-9]{{8}}-{re.escape(service)}/", chain) is not None


def nft_service_rules(listing: str, service: str) -> list[str]:
    """From `nft list table ip kube-proxy`: the service's chains in full, and the elements of the
    maps and sets that name it (its ClusterIP, NodePort, no-endpoints entries), each under its
    container's header line."""
    out: list[str] = []
    header, keep_block, block = "", False, []
    for line in listing.splitlines():
        stripped = line.strip()
        if match := re.match(r"^(chain|map|set) (\S+) \{$", stripped):
            header, block = line, [line]
            keep_block = match.group(1) == "chain" and chain_names_service(match.group(2), service)
            continue
        if not header:
            continue
        if stripped == "}" and line.startswith("\t}"):
            if keep_block:
                out += block + [line]
            elif len(block) > 1 and not block[0].lstrip().startswith("chain"):
                out += block
            header, keep_block, block = "", False, []
            continue
        if keep_block:
            block.append(line)
        elif re.search(rf"-{re.escape(service)}/|\"{re.escape(service)}(:[^\"]*)?\"", line):
            block.append(line)
    return out


def conntrack_entries(listing: str, ips: set[str], ports: set[int] = frozenset()) -> list[str]:
    """`conntrack -L` lines with one of `ips` as a source or destination, or one of `ports` as a
    destination port (NodePorts) — the flows the kernel NATed for a Service or that touch a pod."""
    wanted = {f"src={ip}" for ip in ips} | {f"dst={ip}" for ip in ips} | {f"dport={port}" for port in ports}
    return [line for line in listing.splitlines() if wanted.intersection(line.split())]
