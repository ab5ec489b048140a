"""Turning nftables tracing on for the probe's flow only, in one netns, and off again.

The probe leaves with a DSCP no one else uses. A table of kinn's own, `ip kinn-trace-<pid>`, hooks
prerouting and output just after conntrack (priority -199) and marks the flow's conntrack entry
when it sees that DSCP; every packet of a marked entry, in either direction, then gets `meta nftrace
set 1`, so the reply (which does not carry the DSCP) and the ICMP error a REJECT sends (RELATED to the
entry) are traced too. For TCP only SYN and SYN-ACK are traced: the path of the handshake is the
connection's path. Nftrace and conntrack are per netns (the flag is cleared crossing a veth or a
tunnel), so the table goes into every netns on the path, and comes out with `delete table`. Each
trace names its table after its own process, so two traces at once never delete each other's.

The userspace proxy's second connection (see `follow_proxied`) is armed in the nodes' output hook.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from typing import Iterator, Mapping, Sequence

from kinn.trace import inside

TABLE_PREFIX = "kinn-trace"
PROBE_DSCP = 0x2B  # unassigned in the IANA DSCP registry
TRACE_CT_MARK = 0x10000000
Endpoint = tuple[str, str, int]  # (protocol, ip, port)


def table_name() -> str:
    """This trace's table: one per tracing process."""
    return f"{TABLE_PREFIX}-{os.getpid()}"


def is_trace_table(table: str) -> bool:
    """Whether a table is some trace's (this one's or a concurrent one's): not part of the path."""
    return table == TABLE_PREFIX or table.startswith(f"{TABLE_PREFIX}-")


def follow_proxied(backends: list[Endpoint]) -> str:
    """The output-hook rule that makes the userspace proxy's second connection a traced one.

    The proxy dials the backend from the node with a socket of its own: the probe's DSCP is not on
    that connection. Two ways to find it were possible: watching every new conntrack entry of the
    node (unfiltered `conntrack -E`) for one towards a backend that starts right after the probe, or
    marking it where it starts, in the node's output hook. The second is taken because it makes the
    connection traced like the probe's, by the same machinery: its conntrack entry gets the trace
    mark (so it is followed in this node, SYN-ACK included) and its SYN the probe's DSCP (so every
    netns further on marks and traces it too); a conntrack watch would only name the connection once
    it exists, too late to trace its packets. The rule matches a new connection from the node to
    one of the Service's endpoints while the trace runs — which another client of that endpoint
    could also open in that moment; the path assembly takes the first that starts after the probe's.
    """
    elements = ", ".join(f"{proto} . {ip} . {port}" for proto, ip, port in backends)
    return (f"    meta l4proto . ip daddr . th dport {{ {elements} }} ct state new "
            f"ct mark set ct mark or {TRACE_CT_MARK:#x} ip dscp set {PROBE_DSCP:#x}")


def trace_ruleset(table: str, output_rules: Sequence[str] = ()) -> str:
    """The `nft -f` input creating the tracing table; `output_rules` go first into its output chain."""
    rules = [
        f"    ip dscp {PROBE_DSCP:#x} ct mark set ct mark or {TRACE_CT_MARK:#x}",
        f"    ct mark and {TRACE_CT_MARK:#x} != 0 meta l4proto != tcp meta nftrace set 1",
        f"    ct mark and {TRACE_CT_MARK:#x} != 0 tcp flags & syn == syn meta nftrace set 1",
    ]
    chains = "\n".join(
        f"  chain trace-{hook} {{\n    type filter hook {hook} priority -199; policy accept;\n"
        + "\n".join([*(output_rules if hook == "output" else []), *rules]) + "\n  }"
        for hook in ("prerouting", "output"))
    return f"table ip {table} {{\n{chains}\n}}\n"


def disarm(netns: str, table: str) -> None:
    """Delete the tracing table; one already gone (or a netns gone) is fine."""
    with contextlib.suppress(subprocess.CalledProcessError, OSError):
        inside.run(netns, "nft", "delete", "table", "ip", table)


@contextlib.contextmanager
def armed(table: str, rulesets: Mapping[str, str]) -> Iterator[None]:
    """Each netns's tracing ruleset loaded for the block, and the table deleted afterwards, whatever
    happens (Ctrl-C too)."""
    done: list[str] = []
    try:
        for netns, ruleset in rulesets.items():
            done.append(netns)
            inside.run(netns, "nft", "-f", "-", input=ruleset)
        yield
    finally:
        for netns in done:
            disarm(netns, table)
