"""`loopback`: set `lo` up in the container namespace (and down on DEL), as the reference plugin."""

from __future__ import annotations

from typing import Any

from kinn import netlink
from kinn.cni.plugins.skel import CmdArgs, plugin_main, prev_result


def add(cmd: CmdArgs) -> dict[str, Any]:
    with netlink.iproute(cmd.netns) as ipr:
        netlink.set_up(ipr, "lo")
    if cmd.config.get("prevResult"):
        return prev_result(cmd)
    return {"cniVersion": cmd.cni_version, "interfaces": [{"name": "lo", "mac": "00:00:00:00:00:00",
                                                           "sandbox": cmd.netns}],
            "ips": [{"interface": 0, "address": "127.0.0.1/8"}, {"interface": 0, "address": "::1/128"}],
            "dns": {}}


def delete(cmd: CmdArgs) -> None:
    if cmd.netns and netlink.exists(cmd.netns):
        with netlink.iproute(cmd.netns) as ipr:
            netlink.set_down(ipr, "lo")


def check(cmd: CmdArgs) -> None:
    with netlink.iproute(cmd.netns) as ipr:
        if not netlink.get_link(ipr, "lo").up:
            raise RuntimeError("loopback interface is down")


def main() -> None:
    plugin_main(add, delete, check, "CNI loopback plugin (kinn)")


if __name__ == "__main__":
    main()
