"""The nftables proxier: keeps what the table holds, decides full or partial sync, and applies the
sync's transactions in the node's namespace: those commands.py encodes as netlink batches of its
own (nft 1.0.6 would first read every chain of the table), anything else through libnftables
(libnft.py).

A full sync (at start, after a failed transaction, when the table vanished) lists the table's
chains and sets and rebuilds it, the Services' chains in batches and the fixed chains and maps
last; otherwise a sync is one transaction writing only the changed Services (see rules.py).
Chains a sync left stale are deleted by a transaction of their own at the start of a sync at least
a second later, as upstream: if that fails (a reference the kernel has not dropped yet), they are
tried again later and the sync itself goes on.
"""

from __future__ import annotations

import logging
import time

from kinn.proxy.changes import Change, ServiceKey, Snapshot
from kinn.proxy.nftables import libnft, rules
from kinn.proxy.nftables.commands import compile_transaction
from kinn.proxy.nftables.libnft import NftError
from kinn.proxy.nftables.nfnetlink import Connection, Unsupported
from kinn.proxy.nftables.transaction import Transaction
from kinn.proxy.node import NodeContext

log = logging.getLogger("kinn.proxy")

__all__ = ["NftError", "NftablesProxier", "apply", "table_names"]


def table_names(kind: str) -> list[str]:
    """The names of our table's `chains` or `sets`."""
    try:
        return libnft.names(kind, rules.FAMILY, rules.TABLE)
    except NftError:
        return []  # no table of the family yet


def apply(tx: Transaction, connection: Connection) -> None:
    """Commit `tx` atomically: as one netlink batch through `connection` when every command is one
    commands.py encodes (what partial syncs and stale-chain deletions write), else through
    libnftables; NftError if refused."""
    try:
        batch = compile_transaction(tx)
    except Unsupported:
        libnft.run(tx.text())
        return
    connection.commit(batch)


class NftablesProxier:
    mode = "nftables"
    serves_health_check_node_ports = True

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.state = rules.TableState()
        self._needs_full = True
        self.last_transaction = ""  # for tests and debugging, as the iptables proxier's last_restore
        self._netlink = Connection()  # opened in the namespace of the first sync's thread, the node's

    def setup(self) -> None:
        """Fail at start-up, with the reason, if nft cannot program this namespace (knftables.New's check)."""
        try:
            libnft.run(f"add table {rules.FAMILY} {rules.TABLE}", check=True)
        except (NftError, OSError) as exc:
            raise RuntimeError(f"the nftables proxy mode needs nft's library (Debian's nftables package): {exc}") \
                from exc

    def force_full_sync(self) -> None:
        self._needs_full = True

    def canaries_present(self) -> bool:
        """The nftables mode has no canary chains: the table's small `nodeport-ips` set stands in for
        them (cheap to list at any table size); gone means the table was deleted or the ruleset flushed."""
        try:
            libnft.run(f"list set {rules.FAMILY} {rules.TABLE} {rules.NODEPORT_IPS}")
        except NftError:
            return False
        return True

    def sync(self, snapshot: Snapshot, changes: dict[ServiceKey, Change]) -> None:
        """One sync. If it fails for any reason (nft refused the transaction, or its library could not
        even be loaded: an OSError), it arms a full sync and re-raises: partial_sync has already recorded the
        changes as applied, so only a full sync can make the table what the state says again."""
        now = time.monotonic()
        self._delete_stale_chains(now)
        full = self._needs_full
        try:
            if full:
                transactions, state = rules.full_sync(snapshot, self.ctx, now, table_names("chains"),
                                                      table_names("sets"))
            else:
                transactions = [rules.partial_sync(self.state, snapshot, changes, self.ctx, now)]
            for tx in transactions:
                if tx:
                    apply(tx, self._netlink)
        except Exception:
            self._needs_full = True  # the state no longer says what the kernel holds
            raise
        if full:
            self.state, self._needs_full = state, False
        self.last_transaction = "".join(tx.text() for tx in transactions)
        log.info("%s sync: %d services, %d changed, %d stale chains pending", "full" if full else "partial",
                 len(snapshot.services), len(changes), len(self.state.stale_chains))

    def _delete_stale_chains(self, now: float) -> None:
        due = rules.due_stale_chains(self.state, now)
        if not due:
            return
        for chain in due:
            del self.state.stale_chains[chain]
        try:
            apply(rules.delete_chains(due), self._netlink)
        except (NftError, OSError) as exc:
            log.warning("unable to delete %d stale nftables chains; will retry later: %s", len(due), exc)
            self.state.stale_chains.update(dict.fromkeys(due, now))
