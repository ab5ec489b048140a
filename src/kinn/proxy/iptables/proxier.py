"""The iptables proxier: keeps each service port's rule fragment, decides full or partial sync, and
applies the result with one `iptables-restore --noflush` in the node's namespace.

A full sync (at start, after a failure, when the canary chains vanish, hourly) rewrites every
service's chains, ensures the jump rules in the built-in chains and deletes stale service chains
found by name; a partial sync rewrites the changed services' chains only
(MinimizeIPTablesRestore), and of the shared chains (KUBE-SERVICES …) only those whose rules
changed. Upstream rewrites the shared chains on every sync; with 1,000 services that is 1,000 rules
deleted and re-added in the kernel for an endpoint change that leaves them as they were, half the
cost of the sync. A shared chain changed behind kube-proxy's back is repaired by the next full sync.

In large clusters (over 1,000 endpoint chains) comments on per-endpoint rules are dropped and
stale-chain cleanup waits for the periodic full sync, as upstream; and a full sync zeroes the nat
table's counters (see rules.render_restore for why).
"""

from __future__ import annotations

import logging
import os
import subprocess
import time

from kinn import iptables
from kinn.netlink.sysctl import set_sysctl
from kinn.proxy.changes import Change, ServiceKey, Snapshot
from kinn.proxy.iptables import rules
from kinn.proxy.nftables import libnft
from kinn.proxy.node import NodeContext
from kinn.proxy.serviceport import Endpoint, ServicePort

log = logging.getLogger("kinn.proxy")

FULL_SYNC_PERIOD = 3600.0
RESTORE = ["iptables-restore", "-w", "5", "--noflush"]  # no --counters: upstream dropped it (always 0)
# A fragment depends on nothing but its port and endpoints (and the node, fixed per proxier).
FragmentKey = tuple[ServicePort, tuple[Endpoint, ...]]


class RestoreError(RuntimeError):
    pass


def _run(argv: list[str], stdin: str = "", env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RestoreError(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return proc.stdout


def iptables_save(table: str) -> str:
    return _run(["iptables-save", "-t", table])


def iptables_restore(text: str) -> None:
    """One `iptables-restore --noflush` transaction (all or nothing); RestoreError says why not."""
    _run(RESTORE, text, env=restore_environment())


def restore_environment() -> dict[str, str]:
    """iptables-restore's environment: this one, with glibc's fastbins off. It allocates and frees
    small blocks for every rule it parses; with fastbins, each larger allocation first consolidates
    them all (malloc_consolidate), a sixth of its user time for 30,000 rules (0.30 → 0.25 s)."""
    tunables = [os.environ["GLIBC_TUNABLES"]] if os.environ.get("GLIBC_TUNABLES") else []
    return {**os.environ, "GLIBC_TUNABLES": ":".join([*tunables, "glibc.malloc.mxfast=0"])}


def chain_names(table: str) -> set[str]:
    """The chains of an iptables table, by name. iptables-nft's tables are nf_tables tables (family
    ip), and nft lists chain names without rules: 70 ms with 11,000 chains, where iptables-save
    (1.8.9), which upstream reads them from, takes 2.5 s."""
    return set(libnft.names("chains", "ip", table))


def missing_jumps() -> list[rules.JumpRule]:
    """Jump rules absent from the built-in chains, read chain by chain (`iptables -S CHAIN` loads only
    that chain, however large the table)."""
    listed: dict[tuple[str, str], str] = {}
    for jump in rules.JUMP_RULES:
        if (jump.table, jump.chain) not in listed:
            listed[jump.table, jump.chain] = _run(["iptables", "-w", "5", "-t", jump.table, "-S", jump.chain])
    return [jump for jump in rules.JUMP_RULES if not jump.present_in(listed[jump.table, jump.chain])]


class IptablesProxier:
    mode = "iptables"
    serves_health_check_node_ports = True

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self._fragments: dict[FragmentKey, rules.ServiceRules] = {}
        self._shared: rules.SharedChains = {}  # as last applied
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
        return iptables.canaries_present(rules.KUBE_PROXY_CANARY, ("mangle", "nat", "filter"))

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
                stale = sorted(c for c in chain_names("nat") if rules.is_service_chain(c) and c not in active)
                jumps = missing_jumps()
            elif not large:
                stale = [c for c in self._previous_chains() if c not in active]
            shared = rules.shared_chains(fresh.values(), self.ctx)
            changed_shared = shared if full else {key: chain for key, chain in shared.items()
                                                  if self._shared.get(key) != chain}
            text = rules.render_restore(changed_shared, written, stale, jumps, canaries=full,
                                        load_all_chains=full and large)
            if text:
                iptables_restore(text)
        except Exception:
            self._needs_full = True
            raise
        self._fragments, self._shared = fresh, shared
        self.last_restore = text
        if full:
            self._needs_full, self._last_full = False, time.monotonic()
        log.info("%s sync: %d service ports, %d rewritten, %d stale chains removed",
                 "full" if full else "partial", len(ports), len(written), len(stale))

    def _previous_chains(self) -> set[str]:
        return {chain for fragment in self._fragments.values() for chain in fragment.chains}
