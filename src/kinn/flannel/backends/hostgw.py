"""The host-gw backend: no encapsulation, one route per remote node straight to its public IP:

    10.244.2.0/24 via 10.240.0.22 dev eth0

It only works when all nodes share an L2 segment (the next hop must be directly reachable).
"""

from __future__ import annotations

import ipaddress

from kinn import netlink
from kinn.flannel.backends.base import ExternalInterface, Netns, Network, log
from kinn.flannel.subnet import Lease, LeaseAttrs, NetConfig


class HostGWNetwork(Network):
    backend_type = "host-gw"

    def __init__(self, ext: ExternalInterface, config: NetConfig, netns: Netns = None) -> None:
        super().__init__(ext, netns)
        self.network = config.network

    @property
    def mtu(self) -> int:
        return self.ext.mtu

    def register(self, stored_mac: str | None) -> LeaseAttrs:
        """Nothing to create; host-gw publishes no backend data (the annotation reads "null")."""
        return LeaseAttrs(self.ext.public_ip, self.backend_type, None)

    def add_remote(self, lease: Lease) -> None:
        with netlink.iproute(self.netns) as ipr:
            netlink.replace_route(ipr, str(lease.subnet), via=lease.attrs.public_ip, dev=self.ext.index)

    def remove_remote(self, lease: Lease) -> None:
        with netlink.iproute(self.netns) as ipr:
            netlink.delete_route(ipr, str(lease.subnet), via=lease.attrs.public_ip, dev=self.ext.index)

    def prune(self, keep: set[ipaddress.IPv4Network]) -> None:
        """Gateway routes on the external interface into the flannel network whose node is gone."""
        with netlink.iproute(self.netns) as ipr:
            for route in netlink.list_routes(ipr):
                subnet = ipaddress.IPv4Network(route.dst)
                if (route.oif == self.ext.index and route.gateway and subnet.subnet_of(self.network)
                        and subnet not in keep):
                    log.info("removing stale route to %s", subnet)
                    netlink.delete_route(ipr, route.dst, via=route.gateway, dev=self.ext.index)
