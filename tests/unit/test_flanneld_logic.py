"""flanneld's pure parts: net-conf.json, subnet.env, node annotations ↔ leases, masquerade rule text."""

from __future__ import annotations

import ipaddress
import json

import pytest

from kinn.flannel import masq
from kinn.flannel.subnet import (BACKEND_DATA, BACKEND_PUBLIC_IP, BACKEND_PUBLIC_IP_OVERWRITE, BACKEND_TYPE,
                                 SUBNET_KUBE_MANAGED, ConfigError, Lease, LeaseAttrs, annotations_patch,
                                 lease_changed, node_to_lease, parse_net_config, render_subnet_env,
                                 stored_vtep_mac, write_subnet_env)

NET = ipaddress.IPv4Network("10.244.0.0/16")
SUBNET = ipaddress.IPv4Network("10.244.1.0/24")
MAC = "8a:1c:2e:33:44:55"
VXLAN = LeaseAttrs("10.240.0.21", "vxlan", {"VNI": 1, "VtepMAC": MAC})


def node(annotations: dict[str, str] | None = None, pod_cidr: str = "10.244.1.0/24") -> dict:
    return {"metadata": {"name": "worker-1", "annotations": annotations or {}}, "spec": {"podCIDR": pod_cidr}}


def flannel_annotations(**overrides: str) -> dict[str, str]:
    return {SUBNET_KUBE_MANAGED: "true", BACKEND_TYPE: "vxlan", BACKEND_PUBLIC_IP: "10.240.0.21",
            BACKEND_DATA: f'{{"VNI":1,"VtepMAC":"{MAC}"}}', **overrides}


def test_net_config_as_kube_flannel_ships_it() -> None:
    config = parse_net_config('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}')
    assert (config.network, config.subnet_len, config.backend_type) == (NET, 24, "vxlan")
    assert (config.vni, config.port) == (1, 8472)
    custom = parse_net_config('{"Network": "10.0.0.0/8", "SubnetLen": 20, '
                              '"Backend": {"Type": "vxlan", "VNI": 4, "Port": 4789}}')
    assert (custom.subnet_len, custom.vni, custom.port) == (20, 4, 4789)
    assert parse_net_config('{"Network": "10.244.0.0/16", "Backend": {"Type": "host-gw"}}').backend_type == "host-gw"


@pytest.mark.parametrize("text, error", [
    ("{", "not JSON"), ("{}", "no Network"), ('{"Network": "10.1.0.0/24"}', "SubnetLen"),
    ('{"Network": "10.244.0.0/16"}', "'udp'"),
    ('{"Network": "10.244.0.0/16", "Backend": {"Type": "wireguard"}}', "wireguard"),
])
def test_net_config_errors_name_the_problem(text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_net_config(text)


def test_subnet_env_as_seed_002_shows_it(tmp_path) -> None:
    text = render_subnet_env(ipaddress.IPv4Network("192.168.128.0/18"), ipaddress.IPv4Network("192.168.132.0/24"),
                             1450, True)
    assert text == ("FLANNEL_NETWORK=192.168.128.0/18\nFLANNEL_SUBNET=192.168.132.1/24\n"
                    "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")
    assert render_subnet_env(NET, SUBNET, 1500, False).endswith("FLANNEL_MTU=1500\nFLANNEL_IPMASQ=false\n")
    target = tmp_path / "run" / "flannel" / "subnet.env"
    write_subnet_env(target, text)
    write_subnet_env(target, text)
    assert target.read_text() == text and [p.name for p in target.parent.iterdir()] == ["subnet.env"]


def test_node_to_lease_reads_pod_cidr_and_annotations() -> None:
    assert node_to_lease(node(flannel_annotations())) == Lease(SUBNET, VXLAN)
    dual = node(flannel_annotations())
    dual["spec"]["podCIDRs"] = ["fd00:10:244:1::/64", "10.244.7.0/24"]
    assert node_to_lease(dual).subnet == ipaddress.IPv4Network("10.244.7.0/24")
    hostgw = node_to_lease(node(flannel_annotations(**{BACKEND_TYPE: "host-gw", BACKEND_DATA: "null"})))
    assert hostgw.attrs == LeaseAttrs("10.240.0.21", "host-gw", None)


@pytest.mark.parametrize("broken", [
    node(),  # flannel never ran there
    node(flannel_annotations(**{SUBNET_KUBE_MANAGED: "false"})),
    node(flannel_annotations(), pod_cidr=""),
    node(flannel_annotations(**{BACKEND_PUBLIC_IP: "not-an-ip"})),
    node(flannel_annotations(**{BACKEND_DATA: "{"})),
])
def test_nodes_without_a_usable_lease_are_skipped(broken: dict) -> None:
    assert node_to_lease(broken) is None


def test_annotations_patch_writes_only_what_differs() -> None:
    assert annotations_patch(node(), VXLAN) == flannel_annotations()
    assert json.loads(annotations_patch(node(), VXLAN)[BACKEND_DATA]) == {"VNI": 1, "VtepMAC": MAC}
    assert annotations_patch(node(flannel_annotations()), VXLAN) is None
    moved = LeaseAttrs("10.240.0.99", "vxlan", VXLAN.backend_data)
    assert annotations_patch(node(flannel_annotations()), moved) == {BACKEND_PUBLIC_IP: "10.240.0.99"}
    pinned = node(flannel_annotations(**{BACKEND_PUBLIC_IP_OVERWRITE: "192.0.2.7"}))
    assert annotations_patch(pinned, VXLAN) == {BACKEND_PUBLIC_IP: "192.0.2.7"}
    assert annotations_patch(node(), LeaseAttrs("10.240.0.21", "host-gw"))[BACKEND_DATA] == "null"


def test_vtep_mac_survives_and_lease_changes() -> None:
    assert stored_vtep_mac(node(flannel_annotations())) == MAC
    assert stored_vtep_mac(node()) is None and stored_vtep_mac(node({BACKEND_DATA: "null"})) is None
    old = node(flannel_annotations())
    assert not lease_changed(old, node(flannel_annotations(unrelated="x")))
    assert lease_changed(old, node(flannel_annotations(**{BACKEND_DATA: '{"VNI":1,"VtepMAC":"aa:aa:aa:aa:aa:aa"}'})))


def test_masq_and_forward_rules_as_iptables_restore_text() -> None:
    rules = masq.masq_rules(NET, SUBNET) + masq.forward_rules(NET)
    assert masq.render_restore(rules) == """\
*nat
:FLANNEL-POSTRTG - [0:0]
-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
COMMIT
*filter
:FLANNEL-FWD - [0:0]
-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
COMMIT
"""


def test_reapplying_moves_jump_rules_instead_of_duplicating_them() -> None:
    rules = masq.forward_rules(NET)
    text = masq.render_restore(rules, existing={rules[0]})
    jump = '-m comment --comment "flanneld forward" -j FLANNEL-FWD'
    assert f"-D FORWARD {jump}\n-A FORWARD {jump}\n" in text
    assert "MASQUERADE\n" in masq.render_restore(masq.masq_rules(NET, SUBNET, random_fully=False))
