"""`portmap`: hostPort forwarding with iptables nat rules in the node namespace.

Same chains as the reference plugin (iptables mode): `CNI-HOSTPORT-DNAT` entered from PREROUTING
and OUTPUT for local destinations, one `CNI-DN-<hash>` per container with its DNAT rules,
`CNI-HOSTPORT-SETMARK` marking hairpin and localhost traffic with 0x2000, and `CNI-HOSTPORT-MASQ`
masquerading marked traffic from POSTROUTING. The mappings come from `runtimeConfig.portMappings`
(capability `portMappings`); the plugin passes `prevResult` through unchanged.
"""

from __future__ import annotations

import ipaddress
import shlex
from itertools import groupby
from typing import Any

from kinn import iptables, netlink
from kinn.cni.errors import INVALID_NETWORK_CONFIG, CNIError
from kinn.cni.plugins.skel import CmdArgs, plugin_main, prev_result
from kinn.cni.utils import format_chain_name, format_comment

TOP_DNAT = "CNI-HOSTPORT-DNAT"
SETMARK = "CNI-HOSTPORT-SETMARK"
MASQ = "CNI-HOSTPORT-MASQ"
DEFAULT_MARK_BIT = 13


def dnat_chain(network: str, container_id: str) -> str:
    return format_chain_name(network, container_id, "DN-")


def _mark(conf: dict[str, Any]) -> str:
    bit = int(conf.get("markMasqBit", DEFAULT_MARK_BIT))
    if not 0 <= bit <= 31:
        raise CNIError(INVALID_NETWORK_CONFIG, f"MasqMarkBit must be between 0 and 31, got {bit}")
    return f"{1 << bit:#x}/{1 << bit:#x}"


def _container_ipv4(prev: dict[str, Any]) -> ipaddress.IPv4Interface:
    for ip in prev.get("ips") or []:
        iface = ipaddress.ip_interface(ip["address"])
        if iface.version == 4:
            return iface
    raise CNIError(INVALID_NETWORK_CONFIG, "portmap: no IPv4 address in prevResult")


def _dnat_rules(mapping: dict[str, Any], container: ipaddress.IPv4Interface, snat: bool) -> list[list[str]]:
    """The rules of one mapping in CNI-DN-…: hairpin and localhost marks (when SNAT), then the DNAT."""
    proto = str(mapping.get("protocol") or "tcp").lower()
    match = ["-p", proto, "--dport", str(mapping["hostPort"])]
    if mapping.get("hostIP"):
        match = ["-d", mapping["hostIP"], *match]
    rules = []
    if snat:
        rules += [["-s", str(container.network), *match, "-j", SETMARK],
                  ["-s", "127.0.0.1", *match, "-j", SETMARK]]
    rules.append([*match, "-j", "DNAT", "--to-destination", f"{container.ip}:{mapping['containerPort']}"])
    return rules


def _setup_shared_chains(mark: str) -> None:
    """The chains all containers share; created once, left in place on DEL like the reference."""
    iptables.ensure_chain("nat", SETMARK)
    iptables.append_unique("nat", SETMARK, ["-m", "comment", "--comment", "CNI portfwd masquerade mark",
                                            "-j", "MARK", "--set-xmark", mark])
    iptables.ensure_chain("nat", MASQ)
    iptables.append_unique("nat", MASQ, ["-m", "mark", "--mark", mark, "-j", "MASQUERADE"])
    iptables.insert_unique("nat", "POSTROUTING", ["-m", "comment", "--comment", "CNI portfwd requiring masquerade",
                                                  "-j", MASQ])
    iptables.ensure_chain("nat", TOP_DNAT)
    for chain in ("PREROUTING", "OUTPUT"):
        iptables.insert_unique("nat", chain, ["-m", "addrtype", "--dst-type", "LOCAL", "-j", TOP_DNAT])


def _enable_localnet_routing(container: ipaddress.IPv4Interface) -> None:
    """route_localnet on the interface towards the pod, so 127.0.0.1:hostPort can be DNATed to it."""
    with netlink.iproute() as ipr:
        oif = ipr.route("get", dst=str(container.ip))[0].get("RTA_OIF")
        name = netlink.get_link(ipr, oif).name
    netlink.set_sysctl(f"net/ipv4/conf/{name}/route_localnet", 1)


def add(cmd: CmdArgs) -> dict[str, Any]:
    prev = prev_result(cmd)
    mappings = (cmd.config.get("runtimeConfig") or {}).get("portMappings") or []
    if not mappings:
        return prev
    conf, container = cmd.config, _container_ipv4(prev)
    snat = conf.get("snat", True) is not False
    name, chain = conf["name"], dnat_chain(conf["name"], cmd.container_id)
    if snat:
        _setup_shared_chains(_mark(conf))
        _enable_localnet_routing(container)
    else:
        iptables.ensure_chain("nat", TOP_DNAT)
    iptables.delete_chain("nat", chain)  # a repeated ADD rewrites the container's chain
    iptables.ensure_chain("nat", chain)
    for mapping in mappings:
        for rule in _dnat_rules(mapping, container, snat):
            iptables.run("nat", "-A", chain, *rule)
    comment = f"dnat {format_comment(name, cmd.container_id)}"
    by_proto = sorted(mappings, key=lambda m: str(m.get("protocol") or "tcp").lower())
    for proto, group in groupby(by_proto, key=lambda m: str(m.get("protocol") or "tcp").lower()):
        ports = ",".join(str(m["hostPort"]) for m in group)
        iptables.append_unique("nat", TOP_DNAT, ["-p", proto, "-m", "comment", "--comment", comment,
                                                 "-m", "multiport", "--dports", ports, "-j", chain])
    return prev


def delete(cmd: CmdArgs) -> None:
    """Remove the container's jumps from CNI-HOSTPORT-DNAT and its chain; fine if already gone."""
    chain = dnat_chain(cmd.config["name"], cmd.container_id)
    for line in iptables.list_rules("nat", TOP_DNAT):
        words = shlex.split(line)  # `-S` prints rules quoted so they parse back as arguments
        if words[:2] == ["-A", TOP_DNAT] and words[-2:] == ["-j", chain]:
            iptables.run("nat", "-D", *words[1:])
    iptables.delete_chain("nat", chain)


def check(cmd: CmdArgs) -> None:
    mappings = (cmd.config.get("runtimeConfig") or {}).get("portMappings") or []
    chain = dnat_chain(cmd.config["name"], cmd.container_id)
    if mappings and not iptables.chain_exists("nat", chain):
        raise CNIError(999, f"portmap: chain {chain} is missing")


def main() -> None:
    plugin_main(add, delete, check, "CNI portmap plugin (kinn)")


if __name__ == "__main__":
    main()
