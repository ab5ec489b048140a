"""flannel's delegate: the bridge config built from /run/flannel/subnet.env."""

from pathlib import Path

import pytest

from kinn.cni import CNIError
from kinn.cni.plugins.flannel import delegate_config, network_of, read_subnet_env

LEASE = {"FLANNEL_NETWORK": "10.244.0.0/16", "FLANNEL_SUBNET": "10.244.1.1/24", "FLANNEL_MTU": "1450",
         "FLANNEL_IPMASQ": "false"}


def test_default_delegate_from_the_lease() -> None:
    delegate = delegate_config({"name": "cbr0", "cniVersion": "0.3.1", "type": "flannel"}, LEASE)
    assert delegate == {"name": "cbr0", "type": "bridge", "cniVersion": "0.3.1", "isGateway": True, "ipMasq": True,
                        "mtu": 1450, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.1.0/24"}]],
                                              "routes": [{"dst": "10.244.0.0/16"}]}}


def test_user_delegate_keys_and_flannel_ipmasq() -> None:
    config = {"name": "cbr0", "type": "flannel", "delegate": {"hairpinMode": True, "isDefaultGateway": True},
              "runtimeConfig": {"portMappings": []}}
    delegate = delegate_config(config, {**LEASE, "FLANNEL_IPMASQ": "true"})
    assert delegate["hairpinMode"] and delegate["isDefaultGateway"] and delegate["ipMasq"] is False
    assert delegate["runtimeConfig"] == {"portMappings": []}


def test_subnet_env_parsing_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "subnet.env"
    path.write_text("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")
    assert read_subnet_env(path)["FLANNEL_SUBNET"] == "10.244.1.1/24"
    with pytest.raises(CNIError, match="failed to load flannel 'subnet.env' file"):
        read_subnet_env(tmp_path / "absent.env")
    path.write_text("FLANNEL_NETWORK=10.244.0.0/16\n")
    with pytest.raises(CNIError, match="missing FLANNEL_SUBNET"):
        read_subnet_env(path)


@pytest.mark.parametrize(("cidr", "network"), [
    ("10.244.1.1/24", "10.244.1.0/24"), ("192.168.132.1/18", "192.168.128.0/18"), ("10.0.0.7/32", "10.0.0.7/32"),
    ("10.1.2.3/0", "0.0.0.0/0"), ("fd00:10:244:1::1/64", "fd00:10:244:1::/64"),
])
def test_network_of_a_subnet_env_address(cidr: str, network: str) -> None:
    assert network_of(cidr) == network


def test_network_of_garbage_fails() -> None:
    with pytest.raises(ValueError):
        network_of("10.244.1/24")
