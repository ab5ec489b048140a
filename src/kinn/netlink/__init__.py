"""Thin typed helpers over pyroute2 for the kernel objects kinn wires nodes and pods with.

Namespaces are named as `ip netns` names them; every link/address/route/neighbour function
takes an IPRoute opened in the namespace it acts in:

    with iproute("kt-node") as ipr:
        add_bridge(ipr, "cni0"); add_address(ipr, "cni0", "10.244.1.1/24"); set_up(ipr, "cni0")
"""

from kinn.netlink.addresses import add_address, delete_address, ipv4_addresses, list_addresses
from kinn.netlink.links import (Link, LinkNotFound, add_bridge, add_veth, add_vxlan, delete_link,
                                ensure_bridge, find_link, get_link, index_of, list_links, move_to_netns,
                                rename, set_bridge_port_hairpin, set_down, set_mac, set_master, set_mtu,
                                set_promisc, set_up)
from kinn.netlink.neighbours import (FdbEntry, Neighbour, add_fdb, add_neighbour, delete_fdb, delete_neighbour,
                                    list_fdb, list_neighbours)
from kinn.netlink.netns import (NetnsError, create, delete, enter, exists, iproute, list_names,
                                netns_path, run_in, socket_in)
from kinn.netlink.ping import ping
from kinn.netlink.routes import Route, add_route, delete_route, get_route, list_routes, replace_route
from kinn.netlink.sysctl import enable_ip_forward, get_sysctl, set_bridge_nf_call_iptables, set_sysctl

__all__ = [
    "FdbEntry", "Link", "LinkNotFound", "Neighbour", "NetnsError", "Route",
    "add_address", "add_bridge", "add_fdb", "add_neighbour", "add_route", "add_veth", "add_vxlan",
    "create", "delete", "delete_address", "delete_fdb", "delete_link", "delete_neighbour", "delete_route",
    "enable_ip_forward", "ensure_bridge", "enter", "exists", "find_link", "get_link", "get_route", "get_sysctl",
    "index_of", "iproute", "ipv4_addresses", "list_addresses", "list_fdb", "list_links", "list_names",
    "list_neighbours", "list_routes",
    "move_to_netns", "netns_path", "ping", "rename", "replace_route", "run_in", "set_bridge_nf_call_iptables",
    "set_bridge_port_hairpin", "set_down", "set_mac", "set_master", "set_mtu", "set_promisc", "set_sysctl", "set_up",
    "socket_in",
]
