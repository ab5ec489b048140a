"""A trace as people read it (hop by hop, rules as their owners wrote them) and as tools read it (JSON)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from kinn.trace.path import REPLY, REQUEST, Hop
from kinn.trace.targets import Target
from kinn.trace.tracer import Trace

ARROWS = {REQUEST: "→", REPLY: "←"}


def text(trace: Trace) -> str:
    target = _named(trace.destination) + (f":{trace.port}" if trace.port else "")
    lines = [f"{trace.protocol} probe from {_named(trace.source)} to {target}: {trace.probe.outcome}"]
    lines.extend(_connection(trace.hops))
    if trace.proxied:
        lines.append("\n== the userspace proxy's own TCP connection to the backend: a second connection, joined to "
                     "the one above by kube-proxy, which copies the bytes between them ==")
        lines.extend(_connection(trace.proxied, "proxy's "))
    return "\n".join(lines) + "\n"


def _named(target: Target) -> str:
    """`pod default/client 10.244.1.2`; an address that nothing kinn knows owns is only itself."""
    return target.ip if target.label == target.ip else f"{target.label} {target.ip}"


def _connection(hops: dict[str, list[Hop]], whose: str = "") -> list[str]:
    lines = []
    for way in (REQUEST, REPLY):
        if not hops[way]:
            lines.append(f"\n{ARROWS[way]} {whose}{way}: not seen")
            continue
        lines.append(f"\n{ARROWS[way]} {whose}{way}: {hops[way][0].packet.describe()}")
        lines.extend(line for hop in hops[way] for line in _hop(hop))
    return lines


def _hop(hop: Hop) -> list[str]:
    where = hop.place.label + (f" (on {hop.place.node})" if hop.place.node and hop.place.label.startswith("pod") else "")
    lines = [f"  {where}"]
    for step in hop.steps:
        lines.append(f"    {step.text}")
        lines.extend(f"        {hit.rule}  [{hit.verdict}]" for hit in step.rules)
    return lines


def as_json(trace: Trace) -> str:
    def hop(h: Hop) -> dict[str, Any]:
        return {"place": h.place.label, "node": h.place.node, "netns": h.place.netns,
                "packet": dataclasses.asdict(h.packet), "steps": [dataclasses.asdict(step) for step in h.steps]}

    document = {
        "source": {"name": trace.source.label, "ip": trace.source.ip},
        "destination": {"name": trace.destination.label, "ip": trace.destination.ip, "port": trace.port},
        "protocol": trace.protocol,
        "probe": dataclasses.asdict(trace.probe),
        "request": [hop(h) for h in trace.hops[REQUEST]],
        "reply": [hop(h) for h in trace.hops[REPLY]],
        "proxied": {way: [hop(h) for h in trace.proxied.get(way, [])] for way in (REQUEST, REPLY)},
        "conntrack": {obs.place.label: [dataclasses.asdict(event) for event in obs.conntrack]
                      for obs in trace.observations if obs.conntrack},
    }
    return json.dumps(document, indent=2)
