"""The speaker: makes this node answer on the underlay for the LoadBalancer addresses it wins.

MetalLB's layer-2 speaker, run by the node agent: it watches Services, EndpointSlices and Nodes,
elects one node per address (`election`), and on the winner puts the address as a /32 on `lo`,
labelled `lo:kube-lb` (a dummy link as IPVS mode's kube-ipvs0 would do, but kernels without the
dummy driver exist). The kernel then answers ARP for it on eth0 (arp_ignore 0: any local
address), and the packets, addressed to a local address, meet kube-proxy's `loadbalancer IP`
rules in PREROUTING as IPVS mode's addresses do — and the address answers ping, which MetalLB's
userspace ARP responder cannot offer. Addresses this node lost are removed; a gained one is announced with
gratuitous ARP and recorded on the Service as MetalLB records it (`nodeAssigned`). Only addresses
on the node's own subnet are announced: ARP reaches no further.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from kinn import netlink
from kinn.client.events import EventRecorder
from kinn.client.informer import EventHandler, SharedInformerFactory, object_key, run_over_informers
from kinn.client.rest import Client, resource
from kinn.controllers.endpointslice_reconciler import SERVICE_NAME_LABEL
from kinn.controllers.service import wants_load_balancer
from kinn.loadbalancer import arp
from kinn.loadbalancer.election import announcer, speaker_nodes
from kinn.loadbalancer.provider import ingress_ips

log = logging.getLogger("kinn.speaker")

Obj = dict[str, Any]

SERVICES = resource("v1", "services")
ENDPOINT_SLICES = resource("discovery.k8s.io/v1", "endpointslices")
NODES = resource("v1", "nodes")
LB_LINK = "lo"
LB_LABEL = "lo:kube-lb"  # the addresses this speaker owns; any other address on lo is left alone
RETRY_SECONDS = 1.0
RESYNC_SECONDS = 30.0  # also without API changes: an address removed by hand comes back


@dataclass(frozen=True)
class SpeakerOptions:
    node_name: str
    node_ip: str


@dataclass(frozen=True)
class Uplink:
    """The node's link on the underlay (the one holding its node IP): where ARP is answered."""

    name: str
    mac: str
    network: ipaddress.IPv4Network


def find_uplink(node_ip: str) -> Uplink:
    with netlink.iproute() as ipr:
        for link in netlink.list_links(ipr):
            for cidr in netlink.ipv4_addresses(ipr, link.index):
                if cidr.split("/")[0] == node_ip:
                    return Uplink(link.name, link.mac, ipaddress.IPv4Interface(cidr).network)
    raise LookupError(f"no link of this node holds the node IP {node_ip}")


_applying = threading.Lock()  # a sync's thread and the withdrawal at exit must not interleave


def apply_addresses(wanted: set[str]) -> tuple[set[str], set[str]]:
    """Make lo hold exactly `wanted` under the speaker's label (as /32s); returns (added, removed)."""
    with _applying, netlink.iproute() as ipr:
        held = {cidr.split("/")[0] for cidr in netlink.list_addresses(ipr, LB_LINK, socket.AF_INET, LB_LABEL)}
        for ip in wanted - held:
            netlink.add_address(ipr, LB_LINK, f"{ip}/32", label=LB_LABEL)
        for ip in held - wanted:
            netlink.delete_address(ipr, LB_LINK, f"{ip}/32")
    return wanted - held, held - wanted


class Speaker:
    def __init__(self, client: Client, factory: SharedInformerFactory, options: SpeakerOptions) -> None:
        self.options = options
        self.recorder = EventRecorder(client, "kinn-speaker", host=options.node_name)
        changed = EventHandler(on_add=self._changed, on_update=lambda old, new: self._changed(new),
                               on_delete=self._changed)
        self.services = factory.informer(SERVICES)
        self.slices = factory.informer(ENDPOINT_SLICES)
        self.nodes = factory.informer(NODES)
        self.slices.indexer.add_indexer("service", _service_of_slice)
        for informer in (self.services, self.slices, self.nodes):
            informer.add_event_handler(changed)
        self._dirty = asyncio.Event()
        self._announcing: dict[str, str] = {}  # ip → Service key, as last applied

    def _changed(self, obj: Obj) -> None:
        self._dirty.set()  # every sync recomputes all addresses: cheap, and nothing can be missed

    async def run(self) -> None:
        """Sync on every change and every RESYNC_SECONDS; on the way out withdraw every address, as a
        stopped MetalLB speaker stops answering (the kernel would otherwise go on answering for it)."""
        await asyncio.gather(*(i.synced.wait() for i in (self.services, self.slices, self.nodes)))
        uplink: Uplink | None = None
        try:
            while True:
                try:
                    if uplink is None:
                        uplink = await asyncio.to_thread(find_uplink, self.options.node_ip)
                        log.info("announcing LoadBalancer addresses of %s on %s (%s)", uplink.network,
                                 uplink.name, uplink.mac)
                    await self._sync(uplink)
                except (OSError, LookupError, NetlinkError) as error:  # retried: the agent's other components go on
                    log.warning("sync failed: %s", error)
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._dirty.wait(), RESYNC_SECONDS)
                self._dirty.clear()
        finally:
            if uplink is not None:
                apply_addresses(set())

    def won(self, network: ipaddress.IPv4Network) -> dict[str, Obj]:
        """ip → Service for every address this node wins."""
        speakers = speaker_nodes(self.nodes.indexer.list())
        won: dict[str, Obj] = {}
        for service in self.services.indexer.list():
            if not wants_load_balancer(service):
                continue
            slices = self.slices.indexer.by_index("service", object_key(service))
            for ip in ingress_ips(service):
                if _on_link(ip, network) and announcer(service, ip, speakers, slices) == self.options.node_name:
                    won[ip] = service
        return won

    async def _sync(self, uplink: Uplink) -> None:
        won = self.won(uplink.network)
        added, removed = await asyncio.to_thread(apply_addresses, set(won))
        for ip in added:
            await asyncio.to_thread(arp.announce, uplink.name, uplink.mac, ip)
        for ip in removed:
            log.info("withdrawing %s", ip)
        for ip, service in won.items():
            if self._announcing.get(ip) != object_key(service):
                log.info("announcing %s for %s", ip, object_key(service))
                await self.recorder.event(service, "Normal", "nodeAssigned",
                                          f'announcing from node "{self.options.node_name}" with protocol "layer2"')
        self._announcing = {ip: object_key(service) for ip, service in won.items()}


def _on_link(ip: str, network: ipaddress.IPv4Network) -> bool:
    """Only addresses on the node's own segment can be announced with ARP."""
    try:
        return ipaddress.ip_address(ip) in network
    except ValueError:
        return False


def _service_of_slice(endpoint_slice: Obj) -> list[str]:
    name = (endpoint_slice["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
    return [f'{endpoint_slice["metadata"].get("namespace", "")}/{name}'] if name else []


async def run_speaker(client: Client, options: SpeakerOptions) -> None:
    """The node agent's speaker component: its own informers over the agent's client for it."""
    await run_over_informers(client, lambda factory: Speaker(client, factory, options))
