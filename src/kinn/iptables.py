"""The few iptables operations node components make one rule at a time (go-iptables, and the
kubelet's pkg/util/iptables): the `iptables` binary run in the caller's network namespace, with
"ensure" forms that are no-ops when the chain or rule is already there, and removals that succeed
when it is already gone. Whole rule sets go through `iptables-restore` instead (kube-proxy, flannel).
"""

from __future__ import annotations

import subprocess
from typing import Iterable


class IptablesError(RuntimeError):
    pass


def run(table: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["iptables", "-w", "5", "-t", table, *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise IptablesError(f"running iptables -t {table} {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def chain_exists(table: str, chain: str) -> bool:
    return run(table, "-n", "-L", chain, check=False).returncode == 0


def ensure_chain(table: str, chain: str) -> None:
    """Create `chain` unless it exists, also when another process (a concurrent plugin run, kube-proxy)
    creates it meanwhile."""
    if not chain_exists(table, chain) and run(table, "-N", chain, check=False).returncode != 0:
        if not chain_exists(table, chain):
            raise IptablesError(f"cannot create chain {chain} in table {table}")


def rule_exists(table: str, chain: str, rule: list[str]) -> bool:
    return run(table, "-C", chain, *rule, check=False).returncode == 0


def append_unique(table: str, chain: str, rule: list[str]) -> None:
    if not rule_exists(table, chain, rule):
        run(table, "-A", chain, *rule)


def insert_unique(table: str, chain: str, rule: list[str]) -> None:
    if not rule_exists(table, chain, rule):
        run(table, "-I", chain, "1", *rule)


def delete_rule(table: str, chain: str, rule: list[str]) -> None:
    """Delete a rule if present (teardown must succeed when things are already gone)."""
    if chain_exists(table, chain) and rule_exists(table, chain, rule):
        run(table, "-D", chain, *rule)


def delete_chain(table: str, chain: str) -> None:
    """Flush and remove a chain if present."""
    if chain_exists(table, chain):
        run(table, "-F", chain)
        run(table, "-X", chain)


def list_rules(table: str, chain: str) -> list[str]:
    """`iptables -S <chain>` lines (empty if the chain does not exist)."""
    proc = run(table, "-S", chain, check=False)
    return proc.stdout.splitlines() if proc.returncode == 0 else []


def canaries_present(chain: str, tables: Iterable[str]) -> bool:
    """Whether the empty canary `chain` still exists in every table: when something flushes the
    tables (a firewall reload), the canaries vanish with the rules, and their owner rewrites both."""
    return all(chain_exists(table, chain) for table in tables)
