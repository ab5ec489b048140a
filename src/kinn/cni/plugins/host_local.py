"""`host-local` IPAM: addresses from configured ranges, remembered as files on the node's disk.

Config (under `ipam`): `ranges` ([[{subnet, rangeStart, rangeEnd, gateway}]]) or the legacy
`subnet`/`rangeStart`/`rangeEnd`/`gateway`, `routes` ([{dst, gw}]), `dataDir`
(default /var/lib/cni/networks), `resolvConf` is not supported.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from kinn.cni.allocator import RangeExhausted, RangeSet, next_free
from kinn.cni.diskstore import DEFAULT_DATA_DIR, Store
from kinn.cni.errors import INVALID_NETWORK_CONFIG, CNIError
from kinn.cni.plugins.skel import CmdArgs, plugin_main
from kinn.cni.result import is_legacy


def range_sets(ipam: dict[str, Any]) -> list[RangeSet]:
    """The configured range sets; the pre-0.3 single `subnet` form becomes one set of one range."""
    entries = ipam.get("ranges")
    if not entries and ipam.get("subnet"):
        entries = [[{k: ipam[k] for k in ("subnet", "rangeStart", "rangeEnd", "gateway") if ipam.get(k)}]]
    if not entries:
        raise CNIError(INVALID_NETWORK_CONFIG, "no IP ranges specified")
    sets = []
    for index, entry in enumerate(entries):
        try:
            sets.append(RangeSet.from_config(entry))
        except (KeyError, ValueError) as exc:
            raise CNIError(INVALID_NETWORK_CONFIG, f"invalid range set {index}: {exc}") from exc
    return sets


def _ipam_config(cmd: CmdArgs) -> tuple[dict[str, Any], Store]:
    ipam = cmd.config.get("ipam") or {}
    name = cmd.config.get("name")
    if not name:
        raise CNIError(INVALID_NETWORK_CONFIG, 'IPAM config missing "name"')
    return ipam, Store(name, Path(ipam.get("dataDir") or DEFAULT_DATA_DIR))


def _allocate(store: Store, cmd: CmdArgs, index: int, ranges: RangeSet) -> tuple[Any, ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """This interface's existing address in the set (ADD is idempotent), else the next free one."""
    for held in store.owned_by(cmd.container_id, cmd.ifname):
        ip = ipaddress.ip_address(held)
        if (r := ranges.range_for(ip)) is not None:
            return r, ip
    last = store.last_reserved(index)
    r, ip = next_free(ranges, ipaddress.ip_address(last) if last else None, lambda c: store.taken(str(c)))
    store.reserve(cmd.container_id, cmd.ifname, str(ip), index)
    return r, ip


def add(cmd: CmdArgs) -> dict[str, Any]:
    ipam, store = _ipam_config(cmd)
    sets = range_sets(ipam)
    ips = []
    with store:
        try:
            for index, ranges in enumerate(sets):
                r, ip = _allocate(store, cmd, index, ranges)
                entry = {"address": f"{ip}/{r.subnet.prefixlen}"}
                if r.gateway:
                    entry["gateway"] = str(r.gateway)
                ips.append({"version": str(ip.version), **entry} if is_legacy(cmd.cni_version) else entry)
        except RangeExhausted as exc:
            store.release_by_id(cmd.container_id, cmd.ifname)
            raise CNIError(999, f"failed to allocate for range {len(ips)}: {exc}") from exc
    result: dict[str, Any] = {"cniVersion": cmd.cni_version, "ips": ips}
    if ipam.get("routes"):
        result["routes"] = ipam["routes"]
    result["dns"] = ipam.get("dns") or {}
    return result


def delete(cmd: CmdArgs) -> None:
    _, store = _ipam_config(cmd)
    with store:
        store.release_by_id(cmd.container_id, cmd.ifname)


def check(cmd: CmdArgs) -> None:
    _, store = _ipam_config(cmd)
    with store:
        if not store.owned_by(cmd.container_id, cmd.ifname):
            raise CNIError(999, f"host-local: Failed to find address added by container {cmd.container_id}")


def main() -> None:
    plugin_main(add, delete, check, "CNI host-local plugin (kinn)")


if __name__ == "__main__":
    main()
