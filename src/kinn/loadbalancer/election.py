"""Which node announces a LoadBalancer address: MetalLB layer 2's election, computed alike by every speaker.

No messages are exchanged: each speaker watches the same Services, EndpointSlices and Nodes and
ranks the candidate nodes by sha256(`<node>#<ip>`); the first announces. Candidates are the nodes
whose speaker is alive — kinn's speaker lives in the node agent, so that is a Ready node — minus
those labelled `node.kubernetes.io/exclude-from-external-load-balancers` or NetworkUnavailable;
for `externalTrafficPolicy: Local` only those that also run a serving endpoint, since kube-proxy
drops external traffic on nodes without one. A Service with no serving endpoint is announced
nowhere, as MetalLB does.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable

from kinn.controllers.nodehealth import ready_status
from kinn.controllers.podutil import get_condition

Obj = dict[str, Any]

EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


def serving_endpoints(slices: Iterable[Obj]) -> list[Obj]:
    """Endpoints able to serve: ready, a missing condition counting as ready (as kube-proxy reads it)."""
    return [endpoint for endpoint_slice in slices for endpoint in endpoint_slice.get("endpoints") or ()
            if (endpoint.get("conditions") or {}).get("ready") is not False]


def speaker_nodes(nodes: Iterable[Obj]) -> set[str]:
    """Nodes whose speaker may announce (speakersForPool, with Ready standing for memberlist's liveness)."""
    def usable(node: Obj) -> bool:
        unavailable = get_condition(node.get("status") or {}, "NetworkUnavailable") or {}
        return (ready_status(node) == "True" and unavailable.get("status") != "True"
                and EXCLUDE_LABEL not in (node["metadata"].get("labels") or {}))
    return {node["metadata"]["name"] for node in nodes if usable(node)}


def announcer(service: Obj, ip: str, speakers: set[str], slices: list[Obj]) -> str | None:
    """The node that announces `ip` of `service`, or None when no node may."""
    serving = serving_endpoints(slices)
    if not serving:
        return None
    if (service.get("spec") or {}).get("externalTrafficPolicy") == "Local":
        speakers = speakers & {endpoint.get("nodeName") for endpoint in serving}
    return min(speakers, key=lambda node: hashlib.sha256(f"{node}#{ip}".encode()).digest(), default=None)
