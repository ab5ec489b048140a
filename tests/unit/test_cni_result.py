"""CNI results and errors: 1.x and 0.x forms, error objects."""

import pytest

from kinn.cni import CNIError, Result
from kinn.cni.invoke import format_args, parse_args, parse_output
from kinn.cni.runtime import kubernetes_args

RESULT_1_0 = {
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "cni0", "mac": "aa:bb:cc:dd:ee:01"}, {"name": "veth1234abcd", "mac": "aa:bb:cc:dd:ee:02"},
                   {"name": "eth0", "mac": "aa:bb:cc:dd:ee:03", "sandbox": "/var/run/netns/cni-1"}],
    "ips": [{"interface": 2, "address": "10.244.1.5/24", "gateway": "10.244.1.1"}],
    "routes": [{"dst": "10.244.0.0/16"}, {"dst": "0.0.0.0/0", "gw": "10.244.1.1"}],
    "dns": {},
}


def test_result_round_trip() -> None:
    result = Result.from_dict(RESULT_1_0)
    assert result.ips[0].address == "10.244.1.5/24" and result.ips[0].interface == 2
    assert result.interfaces[2].sandbox == "/var/run/netns/cni-1"
    assert result.routes[1].gw == "10.244.1.1"
    assert result.to_dict() == RESULT_1_0


def test_legacy_versions_carry_ip_version() -> None:
    legacy = Result.from_dict({**RESULT_1_0, "cniVersion": "0.3.1",
                               "ips": [{"version": "4", "interface": 2, "address": "10.244.1.5/24"}]})
    assert legacy.to_dict()["ips"] == [{"version": "4", "interface": 2, "address": "10.244.1.5/24"}]
    assert "version" not in legacy.to_dict("1.0.0")["ips"][0]


def test_bad_result_is_a_decoding_error() -> None:
    with pytest.raises(CNIError) as err:
        Result.from_dict({"cniVersion": "1.0.0", "ips": [{"address": "not-an-ip"}]})
    assert err.value.code == 6


def test_plugin_error_object_becomes_typed_exception() -> None:
    stdout = b'{"cniVersion":"1.0.0","code":7,"msg":"invalid config","details":"no ipam"}'
    with pytest.raises(CNIError) as err:
        parse_output(1, stdout, b"", "bridge")
    assert (err.value.code, err.value.msg, err.value.details) == (7, "invalid config", "no ipam")
    with pytest.raises(CNIError, match="plugin bridge failed \\(exit 2\\): panic"):
        parse_output(2, b"", b"panic", "bridge")
    assert parse_output(0, b"", b"", "bridge") is None


def test_kubernetes_cni_args() -> None:
    args = kubernetes_args("default", "web-0", "abc123", "uid-1")
    text = format_args(args)
    assert text == ("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;"
                    "K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=uid-1")
    assert parse_args(text) == args
