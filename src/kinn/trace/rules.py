"""Naming a traced rule as its owner wrote it.

kube-proxy's iptables mode (and flannel, and the CNI plugins) write rules with iptables-nft, and
`nft monitor trace` prints those rules without their xt matches: the comment, `-m statistic`,
`-m mark` vanish. The rule's handle still identifies it: `nft -a list ruleset` gives its position in
its chain, and `iptables-save` lists the same chain's rules in the same kernel order, in the syntax
of `iptables-save` (`-A KUBE-SVC-… -m comment --comment "default/web -> 10.244.2.3:8080" -m statistic
--mode random --probability 0.50000000000 -j KUBE-SEP-…`). Native nftables rules (kube-proxy's
nftables mode) are already printed in full and keep nft's own text. Pure: the listings come in as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kinn.trace.arming import is_trace_table
from kinn.trace.events import COUNTER

# iptables-nft's tables; any other table is nftables-native.
XTABLES = ("raw", "mangle", "nat", "filter", "security")
TABLE_HEADER = re.compile(r"^table (?P<family>\w+) (?P<name>\S+) \{")
CHAIN_HEADER = re.compile(r"^\s*chain (?P<name>\S+) \{")
HANDLE = re.compile(r"\s*# handle (\d+)\s*$")


@dataclass
class RuleBook:
    """One netns's rules at one moment: nft positions by handle, and iptables-save's rule lines."""

    positions: dict[tuple[str, str, int], tuple[str, int]] = field(default_factory=dict)
    by_text: dict[tuple[str, str, str], tuple[str, int]] = field(default_factory=dict)
    iptables: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def iptables_rule(self, table: str, chain: str, handle: int | None, nft_text: str) -> str | None:
        """The `-A CHAIN …` line of an iptables-nft rule seen in a trace, None for native nft rules (or
        a rule replaced since, when neither its handle nor its text is found)."""
        if table not in XTABLES:
            return None
        position = self.positions.get((table, chain, handle or -1)) or self.by_text.get((table, chain, nft_text))
        if position is None:
            return None
        rules = self.iptables.get((table, position[0]), [])
        return rules[position[1]] if position[1] < len(rules) else None

    def handles(self) -> frozenset[tuple[str, str, int]]:
        """Every rule's (table, chain, handle) outside the traces' own tables: two books with the
        same handles saw the same rules, since a rewritten rule gets a new handle."""
        return frozenset(key for key in self.positions if not is_trace_table(key[0]))

    def chain_rules(self, table: str, chain: str) -> list[str]:
        """The chain's rules in iptables-save syntax (the `-A` lines)."""
        return self.iptables.get((table, chain), [])


def rule_book(nft_ruleset: str, iptables_save: str) -> RuleBook:
    """A RuleBook from `nft -a list ruleset` and `iptables-save` taken one after the other."""
    book = RuleBook()
    table, chain, index = "", "", 0
    for line in nft_ruleset.splitlines():
        if header := TABLE_HEADER.match(line):
            table = header["name"] if header["family"] == "ip" else ""
        elif header := CHAIN_HEADER.match(line):
            chain, index = header["name"], 0
        elif line.strip() == "}":
            chain = ""  # the end of a chain (or of a set, outside any chain)
        elif table and chain and (handle := HANDLE.search(line)):
            text = " ".join(COUNTER.sub("", line[:handle.start()]).split())
            book.positions[(table, chain, int(handle.group(1)))] = (chain, index)
            book.by_text.setdefault((table, chain, text), (chain, index))
            index += 1
    for line in iptables_save.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith("-A "):
            book.iptables.setdefault((table, line.split()[1]), []).append(line)
    return book
