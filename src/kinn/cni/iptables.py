"""The few iptables operations the reference plugins make (through go-iptables), by running the
`iptables` binary in the plugin's own namespace, plus upstream's chain and comment naming."""

from __future__ import annotations

import hashlib
import subprocess

CHAIN_PREFIX = "CNI-"
MAX_CHAIN_LENGTH = 28  # iptables' limit (29 with the NUL)


class IptablesError(RuntimeError):
    pass


def format_chain_name(name: str, container_id: str, prefix: str = "") -> str:
    """utils.FormatChainNameWithPrefix: `CNI-<prefix><sha512(name+id) hex>` cut to 28 characters."""
    digest = hashlib.sha512((name + container_id).encode()).hexdigest()
    return f"{CHAIN_PREFIX}{prefix}{digest}"[:MAX_CHAIN_LENGTH]


def format_comment(name: str, container_id: str) -> str:
    """utils.FormatComment: Go's %q quoting of both values."""
    return f"name: {_quote(name)} id: {_quote(container_id)}"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run(table: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["iptables", "-w", "5", "-t", table, *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise IptablesError(f"running iptables -t {table} {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def chain_exists(table: str, chain: str) -> bool:
    return run(table, "-n", "-L", chain, check=False).returncode == 0


def ensure_chain(table: str, chain: str) -> None:
    """Create `chain` unless it exists, also when a concurrent plugin run creates it meanwhile."""
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
