"""Network config loading as libcni: lexical order, .conflist/.conf/.json, bare plugin configs wrapped."""

import json
from pathlib import Path

import pytest

from kinn.cni import ConfigError, NetworkConfigList, load_conf_dir
from kinn.cni.runtime import CNIRuntime


def write(path: Path, data: object) -> None:
    path.write_text(data if isinstance(data, str) else json.dumps(data))


def test_first_file_in_lexical_order_wins(tmp_path: Path) -> None:
    write(tmp_path / "20-b.conflist", {"cniVersion": "1.0.0", "name": "b", "plugins": [{"type": "bridge"}]})
    write(tmp_path / "10-a.conflist", {"cniVersion": "0.3.1", "name": "a", "plugins": [{"type": "flannel"}, {"type": "portmap"}]})
    write(tmp_path / "00-ignored.txt", "not a config")
    network = load_conf_dir(tmp_path)
    assert (network.name, network.cni_version) == ("a", "0.3.1")
    assert [p["type"] for p in network.plugins] == ["flannel", "portmap"]


def test_single_plugin_conf_becomes_a_list(tmp_path: Path) -> None:
    write(tmp_path / "10-bridge.conf", {"cniVersion": "0.4.0", "name": "mynet", "type": "bridge", "bridge": "cni0"})
    network = load_conf_dir(tmp_path)
    assert network.name == "mynet"
    assert network.plugins == ({"cniVersion": "0.4.0", "name": "mynet", "type": "bridge", "bridge": "cni0"},)


def test_invalid_files_are_skipped_and_named_when_none_is_usable(tmp_path: Path) -> None:
    write(tmp_path / "10-broken.conflist", "{not json")
    write(tmp_path / "20-noname.conflist", {"plugins": [{"type": "bridge"}]})
    with pytest.raises(ConfigError) as err:
        load_conf_dir(tmp_path)
    assert err.value.code == 7
    assert "no valid networks found" in str(err.value)
    assert "10-broken.conflist" in str(err.value) and 'missing "name"' in str(err.value)
    write(tmp_path / "30-ok.json", {"name": "ok", "type": "loopback"})
    assert load_conf_dir(tmp_path).name == "ok"


def test_plugin_without_type_is_rejected() -> None:
    with pytest.raises(ConfigError, match='has no "type"'):
        NetworkConfigList.from_dict({"name": "n", "plugins": [{"bridge": "cni0"}]})


def test_runtime_injects_name_version_and_only_declared_capabilities() -> None:
    network = NetworkConfigList.from_dict({"cniVersion": "1.0.0", "name": "cbr0", "plugins": [
        {"type": "flannel"}, {"type": "portmap", "capabilities": {"portMappings": True}}]})
    runtime = CNIRuntime(network, ["/nonexistent"])
    mappings = {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
                "bandwidth": {"ingressRate": 1}}
    flannel = runtime.plugin_config(network.plugins[0], mappings, None)
    assert flannel == {"type": "flannel", "cniVersion": "1.0.0", "name": "cbr0"}
    prev = {"cniVersion": "1.0.0", "ips": []}
    portmap = runtime.plugin_config(network.plugins[1], mappings, prev)
    assert portmap["runtimeConfig"] == {"portMappings": mappings["portMappings"]}
    assert portmap["prevResult"] is prev
