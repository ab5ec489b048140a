"""flannel backends: how a node reaches the other nodes' pod subnets (vxlan, host-gw)."""

from __future__ import annotations

from kinn.flannel.backends.base import ExternalInterface, Netns, Network, find_external_interface
from kinn.flannel.backends.hostgw import HostGWNetwork
from kinn.flannel.backends.vxlan import VXLANNetwork
from kinn.flannel.subnet import NetConfig

BACKENDS: dict[str, type[VXLANNetwork] | type[HostGWNetwork]] = {"vxlan": VXLANNetwork, "host-gw": HostGWNetwork}


def new_network(config: NetConfig, ext: ExternalInterface, netns: Netns = None) -> Network:
    """The backend the net config names (`Backend.Type`)."""
    return BACKENDS[config.backend_type](ext, config, netns)


__all__ = ["BACKENDS", "ExternalInterface", "HostGWNetwork", "Network", "VXLANNetwork", "find_external_interface",
           "new_network"]
