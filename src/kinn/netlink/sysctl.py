"""Per-namespace sysctls. /proc/sys/net resolves to the namespace of the thread that opens it, so
writes go through netns.run_in and never touch the host's settings."""

from __future__ import annotations

import os
from pathlib import Path

from kinn.netlink.netns import run_in


def _path(key: str) -> Path:
    """A dotted key (net.ipv4.ip_forward) or, when it contains slashes, a path under /proc/sys."""
    return Path("/proc/sys") / (key if "/" in key else key.replace(".", "/"))


def _write(key: str, value: str) -> None:
    _path(key).write_text(value)


def _read(key: str) -> str:
    return _path(key).read_text().strip()


def set_sysctl(key: str, value: str | int, netns: str | os.PathLike[str] | None = None) -> None:
    """Set `key` in `netns`, or in the caller's namespace if None. Keys naming an interface with a
    dot must use slashes (net/ipv4/conf/flannel.1/forwarding)."""
    if netns is None:
        _write(key, str(value))
    else:
        run_in(netns, _write, key, str(value))


def get_sysctl(key: str, netns: str | os.PathLike[str] | None = None) -> str:
    return _read(key) if netns is None else run_in(netns, _read, key)


def enable_ip_forward(netns: str | os.PathLike[str] | None = None) -> None:
    set_sysctl("net.ipv4.ip_forward", 1, netns)


def set_bridge_nf_call_iptables(on: bool, netns: str | os.PathLike[str] | None = None) -> bool:
    """Let (or stop) bridged traffic traverse iptables, as kube-proxy needs for same-bridge Service
    traffic. Returns False when br_netfilter is not loaded (the key does not exist)."""
    key = "net.bridge.bridge-nf-call-iptables"
    if not (_path(key).exists() if netns is None else run_in(netns, _path(key).exists)):
        return False
    set_sysctl(key, int(on), netns)
    return True
