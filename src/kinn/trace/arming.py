"""Turning nftables tracing on for the probe's flow only, in one netns, and off again.

The probe leaves with a DSCP no one else uses. A table of kinn's own, `ip kinn-trace`, hooks
prerouting and output just after conntrack (priority -199) and marks the flow's conntrack entry
when it sees that DSCP; every packet of a marked entry, in either direction, then gets `meta nftrace
set 1`, so the reply (which does not carry the DSCP) and the ICMP error a REJECT sends (RELATED to the
entry) are traced too. For TCP only SYN and SYN-ACK are traced: the path of the handshake is the
connection's path. Nftrace and conntrack are per netns (the flag is cleared crossing a veth or a
tunnel), so the table goes into every netns on the path, and comes out with `delete table`.
"""

from __future__ import annotations

import contextlib
import subprocess
from typing import Iterator

from kinn.trace import inside

TABLE = "kinn-trace"
PROBE_DSCP = 0x2B  # unassigned in the IANA DSCP registry
TRACE_CT_MARK = 0x10000000


def trace_ruleset() -> str:
    """The `nft -f` input creating the tracing table."""
    rules = "\n".join([
        f"    ip dscp {PROBE_DSCP:#x} ct mark set ct mark or {TRACE_CT_MARK:#x}",
        f"    ct mark and {TRACE_CT_MARK:#x} != 0 meta l4proto != tcp meta nftrace set 1",
        f"    ct mark and {TRACE_CT_MARK:#x} != 0 tcp flags & syn == syn meta nftrace set 1",
    ])
    chains = "\n".join(f"  chain trace-{hook} {{\n    type filter hook {hook} priority -199; policy accept;\n{rules}\n  }}"
                       for hook in ("prerouting", "output"))
    return f"table ip {TABLE} {{\n{chains}\n}}\n"


def arm(netns: str) -> None:
    inside.run(netns, "nft", "-f", "-", input=trace_ruleset())


def disarm(netns: str) -> None:
    """Delete the tracing table; one already gone (or a netns gone) is fine."""
    with contextlib.suppress(subprocess.CalledProcessError, OSError):
        inside.run(netns, "nft", "delete", "table", "ip", TABLE)


@contextlib.contextmanager
def armed(namespaces: list[str]) -> Iterator[None]:
    """Tracing on in every namespace for the block, and off afterwards, whatever happens (Ctrl-C too)."""
    done: list[str] = []
    try:
        for netns in namespaces:
            done.append(netns)
            arm(netns)
        yield
    finally:
        for netns in done:
            disarm(netns)
