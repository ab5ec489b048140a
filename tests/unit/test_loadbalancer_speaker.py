"""The speakers' election (MetalLB layer 2's, computed alike on every node) and the gratuitous ARP frames."""

from __future__ import annotations

import hashlib

from kinn.loadbalancer.arp import gratuitous_frames
from kinn.loadbalancer.election import EXCLUDE_LABEL, announcer, speaker_nodes

IP = "10.240.0.200"


def node(name: str, ready: str = "True", labels: dict | None = None, network_unavailable: str = "False") -> dict:
    return {"metadata": {"name": name, "labels": labels or {}},
            "status": {"conditions": [{"type": "Ready", "status": ready},
                                      {"type": "NetworkUnavailable", "status": network_unavailable}]}}


def endpoint_slice(*endpoints: tuple[str, bool | None]) -> dict:
    def endpoint(node_name: str, ready: bool | None) -> dict:
        conditions = {} if ready is None else {"ready": ready}
        return {"addresses": ["10.244.1.2"], "nodeName": node_name, "conditions": conditions}
    return {"metadata": {"name": "s", "namespace": "default"}, "endpoints": [endpoint(n, r) for n, r in endpoints]}


def service(policy: str = "Cluster") -> dict:
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": {"externalTrafficPolicy": policy}}


def by_hash(nodes: list[str], ip: str) -> list[str]:
    return sorted(nodes, key=lambda n: hashlib.sha256(f"{n}#{ip}".encode()).digest())


def test_speakers_are_ready_nodes_not_excluded_with_network() -> None:
    nodes = [node("a"), node("b", ready="Unknown"), node("cp", labels={EXCLUDE_LABEL: ""}),
             node("d", network_unavailable="True"), node("e")]
    assert speaker_nodes(nodes) == {"a", "e"}


def test_the_first_node_by_sha256_of_node_and_ip_announces() -> None:
    speakers = {"worker-1", "worker-2", "worker-3"}
    slices = [endpoint_slice(("worker-3", True))]
    for ip in ("10.240.0.200", "10.240.0.201", "10.240.0.202"):
        assert announcer(service(), ip, speakers, slices) == by_hash(list(speakers), ip)[0]
    # the ranking differs between addresses, so addresses spread over the nodes
    assert len({announcer(service(), f"10.240.0.{i}", speakers, slices) for i in range(200, 220)}) == 3


def test_local_policy_announces_only_from_a_node_with_a_serving_endpoint() -> None:
    speakers = {"worker-1", "worker-2", "worker-3"}
    slices = [endpoint_slice(("worker-1", False), ("worker-2", None)), endpoint_slice(("gone", True))]
    assert announcer(service("Local"), IP, speakers, slices) == "worker-2"  # nil ready counts as ready
    assert announcer(service("Local"), IP, speakers, [endpoint_slice(("worker-1", False))]) is None


def test_no_serving_endpoint_or_no_speaker_means_no_announcement() -> None:
    assert announcer(service(), IP, {"worker-1"}, []) is None
    assert announcer(service(), IP, {"worker-1"}, [endpoint_slice(("worker-1", False))]) is None
    assert announcer(service(), IP, set(), [endpoint_slice(("worker-1", True))]) is None


def test_gratuitous_frames_are_a_broadcast_request_and_reply_for_the_address() -> None:
    request, reply = gratuitous_frames("1a:72:3c:5b:7a:f3", "10.240.0.200")
    mac, ip = bytes.fromhex("1a723c5b7af3"), bytes([10, 240, 0, 200])
    ethernet = b"\xff" * 6 + mac + b"\x08\x06"
    assert request == ethernet + b"\x00\x01\x08\x00\x06\x04\x00\x01" + mac + ip + b"\xff" * 6 + ip
    assert reply == ethernet + b"\x00\x01\x08\x00\x06\x04\x00\x02" + mac + ip + b"\xff" * 6 + ip
