"""Thin typed helpers over pyroute2 for the kernel objects kinn wires nodes and pods with.

Namespaces are named as `ip netns` names them; every link/address/route/neighbour function
takes an IPRoute opened in the namespace it acts in:

    with iproute("kt-node") as ipr:
        add_bridge(ipr, "cni0"); add_address(ipr, "cni0", "10.244.1.1/24"); set_up(ipr, "cni0")
"""

import importlib
from typing import Any

# Each name's submodule, imported on first use (PEP 562): most of them need pyroute2, ~230 ms and
# ~11 MB per process, which `kinn down`, `kinn get clusters` and the API server (listing or entering
# namespaces only) do without.
_NAMES = {
    "addresses": ["add_address", "delete_address", "ipv4_addresses", "list_addresses"],
    "ifaddrs": ["interface_addresses"],
    "links": ["Link", "LinkNotFound", "add_bridge", "add_veth", "add_vxlan", "delete_link", "ensure_bridge",
              "find_link", "get_link", "index_of", "list_links", "move_to_netns", "rename",
              "set_bridge_port_hairpin", "set_down", "set_mac", "set_master", "set_mtu", "set_promisc", "set_up"],
    "neighbours": ["FdbEntry", "Neighbour", "add_fdb", "add_neighbour", "delete_fdb", "delete_neighbour",
                   "list_fdb", "list_neighbours"],
    "netns": ["NetnsError", "create", "delete", "enter", "errno_words", "exists", "in_host_netns", "iproute",
              "list_names", "netns_path", "run_in", "socket_in"],
    "ping": ["ping"],
    "routes": ["Route", "add_route", "delete_route", "get_route", "list_routes", "replace_route"],
    "sysctl": ["enable_ip_forward", "get_sysctl", "set_bridge_nf_call_iptables", "set_sysctl"],
}
_SUBMODULE = {name: module for module, names in _NAMES.items() for name in names}


def __getattr__(name: str) -> Any:
    """A helper (or a submodule, `netlink.netns`) by name, importing its submodule on first use.
    Helpers win over submodules of the same name (`netlink.ping` is the function), as they did when
    this package imported them all up front."""
    if name in _SUBMODULE:
        value = getattr(importlib.import_module(f"kinn.netlink.{_SUBMODULE[name]}"), name)
        globals()[name] = value  # after the import, which set the submodule under its own name
        return value
    if name in _NAMES:
        return importlib.import_module(f"kinn.netlink.{name}")
    raise AttributeError(f"module 'kinn.netlink' has no attribute {name!r}")


__all__ = sorted(_SUBMODULE)
