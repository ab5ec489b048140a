"""kinn's libnftables binding against the kernel, in scratch namespaces: it runs nft scripts with
nft's own errors, `check` commits nothing, `json` is `nft -j`, and each run acts in the namespace
of the thread that calls it."""

from __future__ import annotations

import json
import subprocess

import pytest

from kinn import netlink
from kinn.proxy.nftables import libnft
from kinn.proxy.nftables.libnft import NftError

pytestmark = pytest.mark.e2e


def tables_in(netns: str) -> str:
    return subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "tables"], capture_output=True, text=True,
                          check=True).stdout


def test_scripts_checks_json_and_errors(two_netns: tuple[str, str]) -> None:
    a, _ = two_netns
    netlink.netns.run_in(a, lambda: libnft.run("add table ip kinn-check", check=True))
    assert "kinn-check" not in tables_in(a)  # evaluated, never committed
    netlink.netns.run_in(a, libnft.run, "add table ip kinn-t\nadd chain ip kinn-t c\nadd rule ip kinn-t c accept\n")
    assert "table ip kinn-t" in tables_in(a)
    listing = json.loads(netlink.netns.run_in(a, lambda: libnft.run("list chains ip", json=True)))["nftables"]
    assert {"family": "ip", "table": "kinn-t", "name": "c"}.items() <= listing[1]["chain"].items()
    with pytest.raises(NftError, match="No such file or directory"):
        netlink.netns.run_in(a, libnft.run, "add rule ip kinn-t nochain accept")


def test_each_run_acts_in_the_callers_namespace(two_netns: tuple[str, str]) -> None:
    a, b = two_netns
    netlink.netns.run_in(a, libnft.run, "add table ip kinn-in-a")
    netlink.netns.run_in(b, libnft.run, "add table ip kinn-in-b")
    assert "kinn-in-a" in tables_in(a) and "kinn-in-b" not in tables_in(a)
    assert "kinn-in-b" in tables_in(b) and "kinn-in-a" not in tables_in(b)
