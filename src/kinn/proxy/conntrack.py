"""Stale UDP conntrack entries (pkg/proxy/conntrack CleanStaleEntries), for every proxy mode.

UDP has no connection to close: a conntrack entry DNATing a client to a backend that went away
keeps sending that client's datagrams into the void until it times out, and an entry created while
a service had no endpoints keeps them rejected. After each sync, entries towards removed UDP
endpoints are deleted, and so are a UDP service's entries when it goes from no endpoints to some.
Deletion goes through the `conntrack` tool (Debian's conntrack package), in the proxy's namespace.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass

from kinn.proxy.changes import Change, ServiceKey, Snapshot
from kinn.proxy.serviceport import ServicePort, categorize

log = logging.getLogger("kinn.proxy")


@dataclass(frozen=True)
class Deletion:
    """One `conntrack -D` filter."""

    args: tuple[str, ...]

    def argv(self) -> list[str]:
        return ["conntrack", "-D", "-p", "udp", *self.args]


def _service_ips(port: ServicePort) -> tuple[str, ...]:
    return (port.cluster_ip, *port.external_ips, *port.load_balancer_ips)


def stale_entries(snapshot: Snapshot, changes: dict[ServiceKey, Change]) -> list[Deletion]:
    """The deletions one sync calls for (a pure function of before and after)."""
    deletions: list[Deletion] = []
    for key, before in changes.items():
        after_ports = {(p.name, p.protocol): p for p in snapshot.services.get(key, [])}
        for old in before.ports:
            if old.protocol != "UDP":
                continue
            old_eps = categorize(before.endpoints.get((old.name.port, old.protocol), []), old).reachable
            new = after_ports.get((old.name, old.protocol))
            new_eps = categorize(snapshot.endpoints_of(new), new).reachable if new else ()
            kept = {ep.ip for ep in new_eps}
            for ep in old_eps:
                if ep.ip in kept:
                    continue
                deletions.extend(Deletion(("--orig-dst", ip, "--dst-nat", ep.ip)) for ip in _service_ips(old))
                if old.node_port:
                    deletions.append(Deletion(("--orig-port-dst", str(old.node_port), "--dst-nat", ep.ip)))
        for new in snapshot.services.get(key, []):
            if new.protocol != "UDP":
                continue
            old_port = next((p for p in before.ports if (p.name, p.protocol) == (new.name, new.protocol)), None)
            had = bool(old_port) and bool(categorize(before.endpoints.get((new.name.port, "UDP"), []), old_port).reachable)
            if not had and categorize(snapshot.endpoints_of(new), new).reachable:
                deletions.extend(Deletion(("--orig-dst", ip)) for ip in _service_ips(new))
                if new.node_port:
                    deletions.append(Deletion(("--orig-port-dst", str(new.node_port),)))
    return deletions


def delete(deletions: list[Deletion]) -> None:
    """Run the deletions; "0 flow entries" is conntrack's exit status 1 and not an error."""
    for deletion in deletions:
        proc = subprocess.run(deletion.argv(), capture_output=True, text=True)
        if proc.returncode not in (0, 1):
            log.warning("%s: %s", " ".join(deletion.argv()), proc.stderr.strip())
