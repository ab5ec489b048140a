"""`bridge`: a veth per container, its host end on a Linux bridge in the node namespace.

Mirrors containernetworking/plugins main/bridge: keys `bridge` (default cni0), `isGateway`,
`isDefaultGateway` (implies isGateway), `forceAddress`, `ipMasq`, `mtu`, `hairpinMode`,
`promiscMode`, `ipam`. Result interfaces are [bridge, host veth, container veth]; IPAM is released
again if anything fails after it allocated.
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any

from pyroute2 import IPRoute

from kinn import netlink
from kinn.cni.errors import INVALID_NETWORK_CONFIG, CNIError
from kinn.cni.invoke import exec_plugin
from kinn.cni.ipmasq import setup_ip_masq, teardown_ip_masq
from kinn.cni.plugins.skel import CmdArgs, plugin_main
from kinn.cni.utils import format_chain_name, format_comment

DEFAULT_BRIDGE = "cni0"
DEFAULT_MTU = 1500


def _conf(cmd: CmdArgs) -> dict[str, Any]:
    conf = dict(cmd.config)
    conf.setdefault("bridge", DEFAULT_BRIDGE)
    if conf.get("isDefaultGateway"):
        conf["isGateway"] = True
    if conf.get("hairpinMode") and conf.get("promiscMode"):
        raise CNIError(999, "cannot set hairpin mode and promiscuous mode at the same time.")
    if not (conf.get("ipam") or {}).get("type"):
        raise CNIError(INVALID_NETWORK_CONFIG, 'bridge: "ipam" with a "type" is required')
    return conf


def _ipam_config(cmd: CmdArgs) -> dict[str, Any]:
    return {key: value for key, value in cmd.config.items() if key != "prevResult"}


def host_veth_name() -> str:
    """ip.RandomVethName: `veth` + 4 random bytes in hex."""
    return f"veth{secrets.token_hex(4)}"


def _setup_veth(ipr: IPRoute, cmd: CmdArgs, conf: dict[str, Any], bridge_index: int) -> tuple[netlink.Link, netlink.Link]:
    """Create the pair (container end named CNI_IFNAME in the pod), attach the host end to the bridge."""
    with netlink.iproute(cmd.netns) as pod:
        if netlink.find_link(pod, cmd.ifname) is not None:
            raise CNIError(999, f"container veth name provided ({cmd.ifname}) already exists")
    mtu = int(conf.get("mtu") or DEFAULT_MTU)
    host = netlink.add_veth(ipr, host_veth_name(), cmd.ifname, peer_netns=cmd.netns, mtu=mtu, txqlen=0)
    netlink.set_master(ipr, host.index, bridge_index)
    if conf.get("hairpinMode"):
        netlink.set_bridge_port_hairpin(ipr, host.index, True)
    netlink.set_up(ipr, host.index)
    with netlink.iproute(cmd.netns) as pod:
        netlink.set_up(pod, cmd.ifname)
        container = netlink.get_link(pod, cmd.ifname)
    return netlink.get_link(ipr, host.index), container


def _gateways(ips: list[dict[str, Any]], is_gateway: bool) -> None:
    """Without an IPAM gateway, the gateway is the subnet's first address (calcGatewayIP)."""
    for ip in ips:
        if not ip.get("gateway") and is_gateway:
            ip["gateway"] = str(ipaddress.ip_interface(ip["address"]).network.network_address + 1)


def _configure_container(cmd: CmdArgs, result: dict[str, Any]) -> None:
    """ipam.ConfigureIface: addresses, then routes via their gw or the family's gateway."""
    with netlink.iproute(cmd.netns) as pod:
        for ip in result["ips"]:
            netlink.add_address(pod, cmd.ifname, ip["address"])
        for route in result.get("routes") or []:
            family = ipaddress.ip_network(route["dst"]).version
            gw = route.get("gw") or next((ip.get("gateway") for ip in result["ips"]
                                         if ipaddress.ip_interface(ip["address"]).version == family), None)
            netlink.add_route(pod, route["dst"], via=gw, dev=cmd.ifname, exist_ok=True)


def _ensure_gateway_address(ipr: IPRoute, bridge: str, ip: dict[str, Any], force: bool) -> None:
    """Put `<gateway>/<prefix>` on the bridge unless there; another address of that subnet is an
    error unless forceAddress replaces it (ensureAddr)."""
    gateway = ipaddress.ip_interface(f"{ip['gateway']}/{ipaddress.ip_interface(ip['address']).network.prefixlen}")
    for existing in netlink.list_addresses(ipr, bridge):
        current = ipaddress.ip_interface(existing)
        if current == gateway:
            return
        if current.version == gateway.version and current.network == gateway.network and current.version == 4:
            if not force:
                raise CNIError(999, f'"{bridge}" already has an IP address different from {gateway}')
            netlink.delete_address(ipr, bridge, existing)
    # A concurrent ADD (pods start in parallel) may have put it there since: EEXIST is fine, as upstream's.
    netlink.add_address(ipr, bridge, str(gateway), exist_ok=True)


def _interfaces(bridge: netlink.Link, host: netlink.Link, container: netlink.Link, netns: str) -> list[dict[str, Any]]:
    return [{"name": bridge.name, "mac": bridge.mac}, {"name": host.name, "mac": host.mac},
            {"name": container.name, "mac": container.mac, "sandbox": netns}]


def add(cmd: CmdArgs) -> dict[str, Any]:
    conf = _conf(cmd)
    with netlink.iproute() as ipr:
        bridge = netlink.ensure_bridge(ipr, conf["bridge"], int(conf.get("mtu") or DEFAULT_MTU))
        if conf.get("promiscMode"):
            netlink.set_promisc(ipr, bridge.index)
        host, container = _setup_veth(ipr, cmd, conf, bridge.index)
        ipam = exec_plugin(conf["ipam"]["type"], "ADD", _ipam_config(cmd)) or {}
        try:
            return _finish_add(ipr, cmd, conf, ipam, host, container)
        except Exception:
            exec_plugin(conf["ipam"]["type"], "DEL", _ipam_config(cmd))
            raise


def _finish_add(ipr: IPRoute, cmd: CmdArgs, conf: dict[str, Any], ipam: dict[str, Any],
                host: netlink.Link, container: netlink.Link) -> dict[str, Any]:
    ips = [dict(ip, interface=2) for ip in ipam.get("ips") or []]
    if not ips:
        raise CNIError(999, "IPAM plugin returned missing IP config")
    _gateways(ips, bool(conf.get("isGateway")))
    routes = list(ipam.get("routes") or [])
    if conf.get("isDefaultGateway"):
        for ip in ips:
            default = "0.0.0.0/0" if ipaddress.ip_interface(ip["address"]).version == 4 else "::/0"
            if not any(r["dst"] == default for r in routes):
                routes.append({"dst": default, "gw": ip["gateway"]})
    result: dict[str, Any] = {"cniVersion": cmd.cni_version, "ips": ips, "routes": routes, "dns": ipam.get("dns") or {}}
    _configure_container(cmd, result)
    if conf.get("isGateway"):
        for ip in ips:
            _ensure_gateway_address(ipr, conf["bridge"], ip, bool(conf.get("forceAddress")))
        netlink.enable_ip_forward()
    if conf.get("ipMasq"):
        for ip in ips:
            setup_ip_masq(ip["address"], format_chain_name(conf["name"], cmd.container_id),
                          format_comment(conf["name"], cmd.container_id))
    # The bridge's MAC may change when its first port joins or it gets an address: read it last.
    bridge = netlink.get_link(ipr, conf["bridge"])
    result["interfaces"] = _interfaces(bridge, netlink.get_link(ipr, host.index), container, cmd.netns)
    if not result["routes"]:
        del result["routes"]
    return {k: result[k] for k in ("cniVersion", "interfaces", "ips", "routes", "dns") if k in result}


def delete(cmd: CmdArgs) -> None:
    conf = _conf(cmd)
    exec_plugin(conf["ipam"]["type"], "DEL", _ipam_config(cmd))
    if not cmd.netns or not netlink.exists(cmd.netns):
        return  # the namespace is gone, and with it the veth (kubernetes#43014)
    with netlink.iproute(cmd.netns) as pod:
        link = netlink.find_link(pod, cmd.ifname)
        if link is None:
            return
        addresses = netlink.ipv4_addresses(pod, link.index)
        netlink.delete_link(pod, link.index)
    if conf.get("ipMasq"):
        for address in addresses:
            teardown_ip_masq(address, format_chain_name(conf["name"], cmd.container_id),
                             format_comment(conf["name"], cmd.container_id))


def check(cmd: CmdArgs) -> None:
    conf = _conf(cmd)
    exec_plugin(conf["ipam"]["type"], "CHECK", _ipam_config(cmd))
    prev = cmd.config.get("prevResult") or {}
    with netlink.iproute(cmd.netns) as pod:
        link = netlink.find_link(pod, cmd.ifname)
        if link is None:
            raise CNIError(999, f"Error: Container Interface name in prevResult: {cmd.ifname} not found")
        present = set(netlink.list_addresses(pod, link.index))
    for ip in prev.get("ips") or []:
        if ip["address"] not in present:
            raise CNIError(999, f"Error: IP {ip['address']} not found on {cmd.ifname}")
    with netlink.iproute() as ipr:
        bridge = netlink.find_link(ipr, conf["bridge"])
        if bridge is None or bridge.kind != "bridge":
            raise CNIError(999, f'bridge "{conf["bridge"]}" not found')


def main() -> None:
    plugin_main(add, delete, check, "CNI bridge plugin (kinn)")


if __name__ == "__main__":
    main()
