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
    the order iptables-save prints them: the dispatch rules naming it and every service chain they lead to."""
    found: dict[str, list[str]] = {}
    for table, rules in parse_save(saved).items():
        chains: set[str] = set()
        picked = {i for i, rule in enumerate(rules) if _names_service(_comment(rule), service)}
        frontier = {target for i in picked if (target := _jump(rules[i])) and is_service_chain(target)}
        while frontier:  # follow KUBE-SVC → KUBE-SEP, KUBE-EXT → KUBE-SVC/SVL, …
            chains |= frontier
            members = {i for i, rule in enumerate(rules) if RULE_LINE.match(rule).group(1) in frontier}
            picked |= members
            frontier = {target for i in members if (target := _jump(rules[i])) and is_service_chain(target)} - chains
        if picked:
            found[table] = [rules[i] for i in sorted(picked)]
    return found


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
