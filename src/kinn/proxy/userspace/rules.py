"""The userspace proxier's iptables rules as a pure function (pkg/proxy/userspace's portal rules).

No packet is load-balanced by the kernel in this mode: the rules only steer a Service's traffic to
the proxy's own listening socket for that service port. Traffic arriving from pods (PREROUTING →
KUBE-PORTALS-CONTAINER) is REDIRECTed to the proxy port; the node's own traffic (OUTPUT →
KUBE-PORTALS-HOST) is DNATed to <node IP>:<proxy port>, because REDIRECT of local packets
answers from the wrong address. NodePorts go the same way through KUBE-NODEPORT-CONTAINER/-HOST,
whose jumps sit last in their chains (`--dst-type LOCAL` matches broadly). Argument order, comments
and chain names are upstream's, so `iptables-save` in a kinn node reads like seed 000's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from kinn.proxy.iptables.rules import JumpRule, quote
from kinn.proxy.serviceport import ServicePort, ServicePortName

KUBE_PORTALS_CONTAINER = "KUBE-PORTALS-CONTAINER"
KUBE_PORTALS_HOST = "KUBE-PORTALS-HOST"
KUBE_NODEPORT_CONTAINER = "KUBE-NODEPORT-CONTAINER"
KUBE_NODEPORT_HOST = "KUBE-NODEPORT-HOST"
CHAINS = (KUBE_PORTALS_CONTAINER, KUBE_PORTALS_HOST, KUBE_NODEPORT_CONTAINER, KUBE_NODEPORT_HOST)

_PORTALS_COMMENT = "handle ClusterIPs; NOTE: this must be before the NodePort rules"
_NODEPORTS_COMMENT = "handle service NodePorts; NOTE: this must be the last rule in the chain"
_DST_LOCAL = ("-m", "addrtype", "--dst-type", "LOCAL")
# iptablesInit: the portal jumps are prepended, the NodePort jumps appended.
PREPENDED_JUMPS = (
    JumpRule("nat", "PREROUTING", KUBE_PORTALS_CONTAINER, _PORTALS_COMMENT),
    JumpRule("nat", "OUTPUT", KUBE_PORTALS_HOST, _PORTALS_COMMENT),
)
APPENDED_JUMPS = (
    JumpRule("nat", "PREROUTING", KUBE_NODEPORT_CONTAINER, _NODEPORTS_COMMENT, _DST_LOCAL),
    JumpRule("nat", "OUTPUT", KUBE_NODEPORT_HOST, _NODEPORTS_COMMENT, _DST_LOCAL),
)


@dataclass(frozen=True)
class Portal:
    """A service port as this node's proxy serves it: its listener's port and the node port it holds
    (0 when the Service has none or the port could not be claimed, which opens no NodePort rules)."""

    service: ServicePort
    proxy_port: int
    node_port: int = 0


def portal_name(name: ServicePortName) -> str:
    """`ns/svc:port`, the colon kept for unnamed ports: the ServicePortName of 1.0/1.1 that seed 000
    shows in its comments (`default/frontend:`)."""
    return f"{name.namespace}/{name.name}:{name.port}"


def _common(portal: Portal, dport: int, dest_ip: str = "", physical_in: bool = False,
            dst_local: bool = False) -> tuple[str, ...]:
    """iptablesCommonPortalArgs, in upstream's order."""
    proto = portal.service.protocol.lower()
    args: tuple[str, ...] = ("-m", "comment", "--comment", quote(portal_name(portal.service.name)),
                             "-p", proto, "-m", proto, "--dport", str(dport))
    if dest_ip:
        args += ("-d", f"{dest_ip}/32")
    if physical_in:
        args += ("-m", "physdev", "!", "--physdev-is-in")
    if dst_local:
        args += _DST_LOCAL
    return args


def _redirect(portal: Portal) -> tuple[str, ...]:
    return ("-j", "REDIRECT", "--to-ports", str(portal.proxy_port))


def _dnat(portal: Portal, node_ip: str) -> tuple[str, ...]:
    return ("-j", "DNAT", "--to-destination", f"{node_ip}:{portal.proxy_port}")


def _rule(chain: str, *args: str) -> str:
    return " ".join(("-A", chain, *args))


def portal_rules(portal: Portal, node_ip: str) -> list[str]:
    """openPortal's rules for one service port: cluster IP, external IPs, load-balancer IPs, node port."""
    svc = portal.service
    rules = []
    for ip in (svc.cluster_ip, *svc.load_balancer_ips):
        rules.append(_rule(KUBE_PORTALS_CONTAINER, *_common(portal, svc.port, ip), *_redirect(portal)))
        rules.append(_rule(KUBE_PORTALS_HOST, *_common(portal, svc.port, ip), *_dnat(portal, node_ip)))
    for ip in svc.external_ips:
        # An external IP is proxied when it arrives from outside (not bridged from a local pod) or
        # when it is one of the node's own addresses.
        rules.append(_rule(KUBE_PORTALS_CONTAINER, *_common(portal, svc.port, ip, physical_in=True), *_redirect(portal)))
        rules.append(_rule(KUBE_PORTALS_CONTAINER, *_common(portal, svc.port, ip, dst_local=True), *_redirect(portal)))
        rules.append(_rule(KUBE_PORTALS_HOST, *_common(portal, svc.port, ip, dst_local=True), *_dnat(portal, node_ip)))
    if portal.node_port:
        rules.append(_rule(KUBE_NODEPORT_CONTAINER, *_common(portal, portal.node_port), *_redirect(portal)))
        rules.append(_rule(KUBE_NODEPORT_HOST, *_common(portal, portal.node_port), *_dnat(portal, node_ip)))
    return rules


def missing_jumps(saved_nat: str) -> list[JumpRule]:
    """The jump rules absent from `iptables-save -t nat` (compared with its own rendering)."""
    return [jump for jump in (*PREPENDED_JUMPS, *APPENDED_JUMPS) if not jump.present_in(saved_nat)]


def render_restore(portals: Iterable[Portal], node_ip: str, missing: Iterable[JumpRule] = ()) -> str:
    """One `iptables-restore --noflush` transaction: the four chains declared (so flushed) and
    rewritten whole, plus whichever jump rules are `missing`."""
    missing = list(missing)
    jumps = [f"-I {j.chain} 1 {j.spec}" for j in PREPENDED_JUMPS if j in missing]
    jumps += [f"-A {j.chain} {j.spec}" for j in APPENDED_JUMPS if j in missing]
    rules = [rule for portal in portals for rule in portal_rules(portal, node_ip)]
    return "\n".join(["*nat", *(f":{chain} - [0:0]" for chain in CHAINS), *jumps, *rules, "COMMIT", ""])
