"""flanneld's iptables rules (pkg/trafficmngr/iptables): FLANNEL-POSTRTG masquerades pod traffic
leaving the pod network (`--ip-masq`), FLANNEL-FWD accepts forwarding to and from it
(`--iptables-forward-rules`). Rule generation is pure; `apply` installs a rule set with one
`iptables-restore --noflush` in the node's namespace, keeping the jump rules last in their
built-in chains as upstream's delete-then-append transaction does.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
from dataclasses import dataclass

KUBE_PROXY_MARK = "0x4000/0x4000"  # kube-proxy already masquerades what it marked
MASQ_COMMENT = "flanneld masq"
FORWARD_COMMENT = "flanneld forward"
BUILTIN_CHAINS = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}


class IptablesError(RuntimeError):
    pass


@dataclass(frozen=True)
class Rule:
    table: str
    chain: str
    spec: tuple[str, ...]

    def restore_line(self, action: str = "-A") -> str:
        """The rule as iptables-restore reads it (arguments with spaces quoted)."""
        return " ".join([action, self.chain, *(f'"{arg}"' if " " in arg else arg for arg in self.spec)])


def _masq(match: list[str], random_fully: bool) -> tuple[str, ...]:
    return (*match, "-m", "comment", "--comment", MASQ_COMMENT, "-j", "MASQUERADE",
            *(("--random-fully",) if random_fully else ()))


def masq_rules(network: ipaddress.IPv4Network, subnet: ipaddress.IPv4Network,
               random_fully: bool = True) -> list[Rule]:
    """masqRules: leave kube-proxy-marked and pod-network-internal traffic alone, masquerade pods
    talking to the outside and the host talking to pods (not multicast)."""
    net, pod = str(network), str(subnet)
    comment = ("-m", "comment", "--comment", MASQ_COMMENT)

    def chain(*spec: str) -> Rule:
        return Rule("nat", "FLANNEL-POSTRTG", spec)

    return [
        Rule("nat", "POSTROUTING", (*comment, "-j", "FLANNEL-POSTRTG")),
        chain("-m", "mark", "--mark", KUBE_PROXY_MARK, *comment, "-j", "RETURN"),
        chain("-s", pod, "-d", net, *comment, "-j", "RETURN"),
        chain("-s", net, "-d", pod, *comment, "-j", "RETURN"),
        chain("!", "-s", net, "-d", pod, *comment, "-j", "RETURN"),
        chain(*_masq(["-s", net, "!", "-d", "224.0.0.0/4"], random_fully)),
        chain(*_masq(["!", "-s", net, "-d", net], random_fully)),
    ]


def forward_rules(network: ipaddress.IPv4Network) -> list[Rule]:
    """forwardRules: accept forwarding from and to the pod network even under a DROP policy."""
    comment = ("-m", "comment", "--comment", FORWARD_COMMENT)
    return [
        Rule("filter", "FORWARD", (*comment, "-j", "FLANNEL-FWD")),
        Rule("filter", "FLANNEL-FWD", ("-s", str(network), *comment, "-j", "ACCEPT")),
        Rule("filter", "FLANNEL-FWD", ("-d", str(network), *comment, "-j", "ACCEPT")),
    ]


def render_restore(rules: list[Rule], existing: frozenset[Rule] | set[Rule] = frozenset()) -> str:
    """An `iptables-restore --noflush` transaction: flannel's own chains are declared (which
    flushes them) and refilled; a jump rule already in a built-in chain is deleted and appended
    again, so a re-apply never duplicates it."""
    lines: list[str] = []
    for table in dict.fromkeys(rule.table for rule in rules):
        lines.append(f"*{table}")
        ours = dict.fromkeys(r.chain for r in rules if r.table == table and r.chain not in BUILTIN_CHAINS)
        lines.extend(f":{chain} - [0:0]" for chain in ours)
        for rule in (r for r in rules if r.table == table):
            if rule in existing:
                lines.append(rule.restore_line("-D"))
            lines.append(rule.restore_line())
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def _in_node(argv: list[str], netns: str | os.PathLike[str] | None) -> list[str]:
    """Run in the node: as is when flanneld runs inside it, through `ip netns exec` from outside."""
    return argv if netns is None else ["ip", "netns", "exec", os.fspath(netns), *argv]


def rule_exists(rule: Rule, netns: str | os.PathLike[str] | None = None) -> bool:
    argv = _in_node(["iptables", "-w", "5", "-t", rule.table, "-C", rule.chain, *rule.spec], netns)
    return subprocess.run(argv, capture_output=True).returncode == 0


def rules_present(rules: list[Rule], netns: str | os.PathLike[str] | None = None) -> bool:
    """ipTablesRulesExist: the resync loop re-applies when anything (e.g. a flush) removed a rule."""
    return all(rule_exists(rule, netns) for rule in rules)


def apply(rules: list[Rule], netns: str | os.PathLike[str] | None = None) -> None:
    existing = {rule for rule in rules if rule.chain in BUILTIN_CHAINS and rule_exists(rule, netns)}
    proc = subprocess.run(_in_node(["iptables-restore", "--noflush", "-w", "5"], netns),
                          input=render_restore(rules, existing), capture_output=True, text=True)
    if proc.returncode != 0:
        raise IptablesError(f"iptables-restore failed: {proc.stderr.strip()}")
