"""The iptables proxier: keeps each service port's rule fragment, decides full or partial sync, and
applies the result with one `iptables-restore --noflush` in the node's namespace.

A full sync (at start, after a failure, when the canary chains vanish, hourly) rewrites every
service's chains, ensures the jump rules in the built-in chains and deletes stale service chains
found with `iptables-save`; a partial sync rewrites the shared chains plus the changed services'
chains only (MinimizeIPTablesRestore). In large clusters (over 1,000 endpoint chains) comments on
per-endpoint rules are dropped and stale-chain cleanup waits for the periodic full sync, as upstream.
"""

from __future__ import annotations

import logging
import re
import subprocess
import time

from kinn.netlink.sysctl import set_sysctl
from kinn.proxy.changes import Change, ServiceKey, Snapshot
from kinn.proxy.iptables import rules
from kinn.proxy.node import NodeContext
from kinn.proxy.serviceport import Endpoint, ServicePort

log = logging.getLogger("kinn.proxy")

FULL_SYNC_PERIOD = 3600.0
RESTORE = ["iptables-restore", "-w", "5", "--noflush"]  # no --counters: upstream dropped it (always 0)
CHAIN_LINE = re.compile(r"^:(\S+) ", re.MULTILINE)
# A fragment depends on nothing but its port and endpoints (and the node, fixed per proxier).
FragmentKey = tuple[ServicePort, tuple[Endpoint, ...]]


class RestoreError(RuntimeError):
    pass


def _run(argv: list[str], stdin: str = "") -> str:
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RestoreError(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return proc.stdout


def iptables_save(table: str) -> str:
    return _run(["iptables-save", "-t", table])


def iptables_restore(text: str) -> None:
    """One `iptables-restore --noflush` transaction (all or nothing); RestoreError says why not."""
    _run(RESTORE, text)


def missing_jumps(saved: dict[str, str]) -> list[rules.JumpRule]:
    """Jump rules absent from the built-in chains."""
    return [jump for jump in rules.JUMP_RULES if not jump.present_in(saved[jump.table])]


class IptablesProxier:
    mode = "iptables"
    serves_health_check_node_ports = True

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self._fragments: dict[FragmentKey, rules.ServiceRules] = {}
        self._large = False
        self._needs_full = True
        self._last_full = 0.0
        self.last_restore = ""  # the last transaction, for `kinn explain` and tests

    def setup(self) -> None:
        """localhost NodePorts (127.0.0.1:<nodePort>) need route_localnet; KUBE-FIREWALL guards it."""
        set_sysctl("net.ipv4.conf.all.route_localnet", 1)

    def force_full_sync(self) -> None:
        self._needs_full = True

    def canaries_present(self) -> bool:
        return all(subprocess.run(["iptables", "-w", "5", "-t", table, "-n", "-L", rules.KUBE_PROXY_CANARY],
                                  capture_output=True).returncode == 0 for table in ("mangle", "nat", "filter"))

    def sync(self, snapshot: Snapshot, changes: dict[ServiceKey, Change]) -> None:
        """One sync. If it fails for any reason (the kernel refused the rules, or iptables-restore could
        not even be run: an OSError), it arms a full sync and re-raises."""
        full = self._needs_full or time.monotonic() - self._last_full > FULL_SYNC_PERIOD
        ports = snapshot.ports()
        endpoint_chains = sum(len(snapshot.endpoints_of(p)) for p in ports)
        large = endpoint_chains > rules.LARGE_CLUSTER_ENDPOINTS
        if large != self._large:  # comments on or off everywhere: nothing cached still fits
            full, self._large, self._fragments = True, large, {}
        changed = set(changes)
        fresh: dict[FragmentKey, rules.ServiceRules] = {}
        written = []
        for port in ports:
            key = (port, tuple(snapshot.endpoints_of(port)))
            fragment = self._fragments.get(key)
            if fragment is None:
                fragment = rules.service_rules(port, snapshot.endpoints_of(port), self.ctx, comments=not large)
            fresh[key] = fragment
            if full or port.name.service in changed:
                written.append(fragment)
        active = {chain for fragment in fresh.values() for chain in fragment.chains}
        stale: list[str] = []
        jumps: list[rules.JumpRule] = []
        try:
            if full:
                saved = {table: iptables_save(table) for table in ("filter", "nat")}
                stale = [c for c in CHAIN_LINE.findall(saved["nat"]) if rules.is_service_chain(c) and c not in active]
                jumps = missing_jumps(saved)
            elif not large:
                stale = [c for c in self._previous_chains() if c not in active]
            text = rules.render_restore(fresh.values(), written, stale, self.ctx, jumps, canaries=full)
            iptables_restore(text)
        except Exception:
            self._needs_full = True
            raise
        self._fragments = fresh
        self.last_restore = text
        if full:
            self._needs_full, self._last_full = False, time.monotonic()
        log.info("%s sync: %d service ports, %d rewritten, %d stale chains removed",
                 "full" if full else "partial", len(ports), len(written), len(stale))

    def _previous_chains(self) -> set[str]:
        return {chain for fragment in self._fragments.values() for chain in fragment.chains}
