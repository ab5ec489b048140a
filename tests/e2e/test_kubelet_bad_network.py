"""Bad network input at the kubelet: an exhausted IP range, a missing plugin, an unreadable config.

Each is reported where Kubernetes reports it (a FailedCreatePodSandBox event on the pod, or the
node's Ready condition) and leaves nothing behind: no veth, netns, IP file or pause process of the
pod that could not start. The kubelet re-reads /etc/cni/net.d at every sandbox, so the tests swap
the node's conflist and put the good one back afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from test_kubelet import (SUBNET, Node, apiserver, conflist, create_pod, delete_and_check_nothing_leaked,  # noqa: F401
                          get, no_pods_left, node, running, wait_until)  # noqa: F811

pytestmark = pytest.mark.e2e

SLEEPER = [{"name": "app", "image": "busybox", "command": ["sleep", "3600"]}]


@pytest.fixture
def network(node: Node) -> Iterator[Path]:
    """The node's conflist file; the good one is back after the test."""
    path = node.tmp / "net.d" / "10-kt.conflist"
    good = path.read_text()
    yield path
    path.write_text(good)
    wait_until("the node Ready again", lambda: ready_condition(node)["status"] == "True", node)


def ready_condition(node: Node) -> dict[str, Any]:
    return next(c for c in get(node, "node", node.name, "")["status"]["conditions"] if c["type"] == "Ready")


def sandbox_events(node: Node, pod: str) -> list[str]:
    events = json.loads(node.server.kubectl("get", "events", "--field-selector", f"involvedObject.name={pod}",
                                            "-o", "json").stdout)["items"]
    return [e["message"] for e in events if e["reason"] == "FailedCreatePodSandBox"]


def ip_files(node: Node) -> list[str]:
    return sorted(p.name for p in (node.tmp / "networks" / "kt-kubelet").iterdir() if p.name[0].isdigit())


def with_ipam(doc: dict[str, Any], **range_fields: str) -> str:
    doc["plugins"][0]["ipam"]["ranges"] = [[{"subnet": SUBNET, **range_fields}]]
    return json.dumps(doc)


def test_exhausted_range_is_an_event_and_leaks_nothing(node: Node, network: Path) -> None:
    bridge = json.loads(network.read_text())["plugins"][0]["bridge"]
    network.write_text(with_ipam(conflist(node.tmp, bridge), rangeStart="10.250.7.50", rangeEnd="10.250.7.50"))
    create_pod(node, "first", SLEEPER)
    wait_until("first Running", lambda: running(node, "first"), node)
    create_pod(node, "second", SLEEPER)
    message = wait_until("FailedCreatePodSandBox", lambda: sandbox_events(node, "second"), node)[0]
    assert "no IP addresses available in range set: 10.250.7.50-10.250.7.50" in message, message
    assert get(node, "pod", "second")["status"]["phase"] == "Pending"
    # The failed ADD undid its own work (the kubelet keeps retrying, so a transient sandbox may exist).
    assert ip_files(node) == ["10.250.7.50"]
    node.server.kubectl("delete", "pod", "first", "--wait=false")
    wait_until("second Running once the address is free", lambda: running(node, "second"), node, timeout=30)
    delete_and_check_nothing_leaked(node, "second")


def test_missing_plugin_is_an_event_and_leaks_nothing(node: Node, network: Path) -> None:
    doc = json.loads(network.read_text())
    doc["plugins"].append({"type": "nonexistent"})
    network.write_text(json.dumps(doc))
    create_pod(node, "orphan", SLEEPER)
    message = wait_until("FailedCreatePodSandBox", lambda: sandbox_events(node, "orphan"), node)[0]
    assert 'failed to find plugin "nonexistent" in path' in message, message
    # bridge's ADD had taken an address before the missing plugin failed the list: DEL gave it back.
    assert ip_files(node) == []
    delete_and_check_nothing_leaked(node, "orphan")


def test_unreadable_config_makes_the_node_not_ready(node: Node, network: Path) -> None:
    network.write_text("{ not json")
    condition = wait_until("NotReady", lambda: (c := ready_condition(node))["status"] == "False" and c, node)
    assert condition["reason"] == "KubeletNotReady"
    assert "NetworkReady=false reason:NetworkPluginNotReady" in condition["message"]
