"""`flannel`: turn the node's lease (/run/flannel/subnet.env) into a `bridge` delegate config.

As flannel's CNI plugin: the delegate gets `isGateway: true`, `ipMasq: !FLANNEL_IPMASQ`, `mtu:
FLANNEL_MTU`, host-local IPAM over the lease (`ranges: [[{subnet}]]`, `routes: [{dst: FLANNEL_NETWORK}]`),
plus any `delegate` keys from the config (hairpinMode, isDefaultGateway…). The delegate config is
saved under `dataDir/<containerID>` so DEL undoes exactly what ADD did, even if the lease changed.

Paths are plain strings and file access plain `open`/`os`: pathlib would add ~5 ms to a process
that runs at every pod start and buys nothing here.
"""

from __future__ import annotations

import os

from kinn.cni import codec
from kinn.cni.errors import INVALID_NETWORK_CONFIG, CNIError
from kinn.cni.invoke import exec_plugin
from kinn.cni.plugins.skel import CmdArgs, plugin_main

TYPE_CHECKING = False  # no typing at run time (see kinn.cni)
if TYPE_CHECKING:
    from typing import Any

DEFAULT_SUBNET_FILE = "/run/flannel/subnet.env"
DEFAULT_DATA_DIR = "/var/lib/cni/flannel"


def read_subnet_env(path: str) -> dict[str, str]:
    """KEY=VALUE lines of subnet.env; FLANNEL_NETWORK and FLANNEL_SUBNET are required."""
    try:
        with open(path) as file:
            text = file.read()
    except FileNotFoundError as exc:
        raise CNIError(999, f"failed to load flannel 'subnet.env' file: open {path}: no such file or directory. "
                            "Check the flannel pod log for this node.") from exc
    env = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    for key in ("FLANNEL_NETWORK", "FLANNEL_SUBNET"):
        if key not in env:
            raise CNIError(INVALID_NETWORK_CONFIG, f"{path} is missing {key}")
    return env


def delegate_config(config: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """The bridge config flannel hands down (its defaults first, then the user's `delegate`)."""
    delegate: dict[str, Any] = dict(config.get("delegate") or {})
    delegate.setdefault("name", config["name"])
    delegate.setdefault("type", "bridge")
    delegate.setdefault("cniVersion", config.get("cniVersion", "1.0.0"))
    delegate.setdefault("isGateway", True)
    delegate.setdefault("ipMasq", env.get("FLANNEL_IPMASQ", "false") != "true")
    if env.get("FLANNEL_MTU"):
        delegate.setdefault("mtu", int(env["FLANNEL_MTU"]))
    if "ipam" not in delegate:
        # The lease's network (10.244.1.0/24), not subnet.env's gateway form (10.244.1.1/24): flannel
        # parses FLANNEL_SUBNET with net.ParseCIDR, and host-local rejects a range with host bits set.
        subnet = network_of(env["FLANNEL_SUBNET"])
        delegate["ipam"] = {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                            "routes": [{"dst": env["FLANNEL_NETWORK"]}]}
    if config.get("runtimeConfig"):
        delegate["runtimeConfig"] = config["runtimeConfig"]
    return delegate


def network_of(cidr: str) -> str:
    """The network of an address/prefix (`10.244.1.1/24` → `10.244.1.0/24`), as net.ParseCIDR
    returns it. IPv4 by hand: the ipaddress module is ~10 ms of every ADD's start-up."""
    address, _, prefix = cidr.partition("/")
    octets = address.split(".")
    if len(octets) != 4 or not prefix.isdigit() or not all(o.isdigit() and int(o) <= 255 for o in octets) \
            or int(prefix) > 32:
        import ipaddress  # IPv6, or not an address at all: ipaddress says which
        return str(ipaddress.ip_network(cidr, strict=False))
    bits = int(prefix)
    value = int.from_bytes(bytes(int(o) for o in octets), "big") & (0xFFFFFFFF << (32 - bits) & 0xFFFFFFFF)
    return ".".join(str(b) for b in value.to_bytes(4, "big")) + f"/{bits}"


def _data_dir(cmd: CmdArgs) -> str:
    return str(cmd.config.get("dataDir") or DEFAULT_DATA_DIR)


def _saved_path(cmd: CmdArgs) -> str:
    return os.path.join(_data_dir(cmd), cmd.container_id)


def _load_saved(path: str) -> dict[str, Any]:
    with open(path) as file:
        return codec.loads(file.read())


def add(cmd: CmdArgs) -> dict[str, Any]:
    env = read_subnet_env(str(cmd.config.get("subnetFile") or DEFAULT_SUBNET_FILE))
    delegate = delegate_config(cmd.config, env)
    os.makedirs(_data_dir(cmd), mode=0o700, exist_ok=True)
    with open(_saved_path(cmd), "w") as file:
        file.write(codec.dumps(delegate))
    return exec_plugin(delegate["type"], "ADD", delegate) or {}


def delete(cmd: CmdArgs) -> None:
    saved = _saved_path(cmd)
    try:
        delegate = _load_saved(saved)
    except FileNotFoundError:
        return  # nothing was set up, or DEL already ran: DEL is repeatable
    exec_plugin(delegate["type"], "DEL", delegate)
    try:
        os.unlink(saved)
    except FileNotFoundError:
        pass


def check(cmd: CmdArgs) -> None:
    saved = _saved_path(cmd)
    if not os.path.exists(saved):
        raise CNIError(999, f"flannel: no delegate config saved for {cmd.container_id}")
    delegate = _load_saved(saved)
    delegate["prevResult"] = cmd.config.get("prevResult")
    exec_plugin(delegate["type"], "CHECK", delegate)


def main() -> None:
    plugin_main(add, delete, check, "CNI flannel plugin (kinn)")


if __name__ == "__main__":
    main()
