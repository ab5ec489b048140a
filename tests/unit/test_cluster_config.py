"""The cluster config file and the kubeconfig merge of `kinn up`: pure logic, no namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kinn.client.kubeconfig import merge_kubeconfig, remove_from_kubeconfig
from kinn.cluster import config
from kinn.cluster.files import flannel_conflist, net_conf
from kinn.cluster.paths import ClusterPaths



def config_errors(doc: dict) -> str:
    """The field errors `config.parse` reports for `doc`, one per line."""
    with pytest.raises(config.ConfigError) as caught:
        config.parse(doc)
    return str(caught.value)

def test_defaults_are_flannel_and_kubeadm_s() -> None:
    spec = config.parse(config.default_document("kinn", 2))
    assert [(n.name, n.role, n.ip) for n in spec.nodes] == [
        ("control-plane", "control-plane", "10.240.0.10"), ("worker-1", "worker", "10.240.0.21"),
        ("worker-2", "worker", "10.240.0.22")]
    net = spec.networking
    assert (str(net.pod_subnet), str(net.service_subnet), net.backend, net.bridge, net.cni_network) == \
        ("10.244.0.0/16", "10.96.0.0/12", "vxlan", "cni0", "cbr0")
    assert (net.gateway, net.cluster_dns) == ("10.240.0.1", "10.96.0.10")


def test_a_seed_s_addressing_round_trips() -> None:
    doc = {"apiVersion": "kinn.dev/v1alpha1", "kind": "Cluster", "name": "seed003",
           "networking": {"podSubnet": "10.200.0.0/16", "serviceSubnet": "10.32.0.0/24", "bridge": "cnio0",
                          "backend": "host-gw", "cniPlugins": "kinn"},
           "nodes": [{"role": "control-plane", "name": "controller-0"}, {"role": "worker", "name": "worker-0"},
                     {"role": "worker", "ip": "10.240.0.99"}]}
    spec = config.parse(doc)
    assert [(n.name, n.ip) for n in spec.nodes] == [("controller-0", "10.240.0.10"), ("worker-0", "10.240.0.21"),
                                                     ("worker-2", "10.240.0.99")]
    assert spec.networking.cluster_dns == "10.32.0.10"
    assert config.parse(spec.to_document()) == spec  # what kinn up saves reads back the same
    assert flannel_conflist(spec.networking) == {"name": "cbr0", "cniVersion": "0.3.1", "plugins": [
        {"type": "flannel", "delegate": {"hairpinMode": True, "isDefaultGateway": True, "bridge": "cnio0"}},
        {"type": "portmap", "capabilities": {"portMappings": True}}]}
    assert net_conf(spec.networking) == {"Network": "10.200.0.0/16", "Backend": {"Type": "host-gw"}}


def test_every_mistake_is_reported_with_its_field_path() -> None:
    doc = {"kind": "Clusterr", "name": "Bad_Name",
           "networking": {"podSubnet": "10.244.0.0/24", "serviceSubnet": "10.240.0.0/16", "backend": "flannel",
                          "bridge": "a-bridge-name-too-long", "ipMasq": "yes", "cniPlugins": "calico",
                          "networkPolicy": "off"},
           "nodes": [{"role": "worker", "name": "w"}, {"role": "worker", "name": "w", "ip": "192.168.1.1"},
                     {"role": "master"}]}
    text = config_errors(doc)
    for expected in ('kind: Unsupported value: "Clusterr": supported values: "Cluster"',
                     'name: Invalid value: "Bad_Name"',
                     'networking.podSubnet: Invalid value: "10.244.0.0/24": must be /23 or larger',
                     'networking.serviceSubnet: Invalid value: "10.240.0.0/16": overlaps nodeSubnet 10.240.0.0/24',
                     'networking.backend: Unsupported value: "flannel": supported values: "vxlan", "host-gw"',
                     'networking.bridge: Invalid value: "a-bridge-name-too-long"',
                     'networking.ipMasq: Invalid value: "yes": must be true or false',
                     'networking.networkPolicy: Invalid value: "off": must be true or false',
                     'networking.cniPlugins: Unsupported value: "calico"',
                     'nodes[1].name: Duplicate value: "w"',
                     'nodes[1].ip: Invalid value: "192.168.1.1": must be an address in nodeSubnet 10.240.0.0/24',
                     'nodes[2].role: Unsupported value: "master"',
                     "nodes: Invalid value: 2: must have exactly one node with role control-plane"):
        assert expected in text, f"{expected!r} missing from:\n{text}"


def test_load_balancer_pool_client_and_published_ports() -> None:
    spec = config.parse(config.default_document("kinn", 1))
    assert (str(spec.networking.load_balancer_pool), spec.networking.client_ip, spec.publish) == \
        ("10.240.0.200-10.240.0.250", "10.240.0.254", ())
    doc = {"networking": {"nodeSubnet": "192.168.8.0/25"}, "publish": ["8080:svc/frontend:80", "8443:svc/web/ingress:https"]}
    spec = config.parse(doc)
    assert (str(spec.networking.load_balancer_pool), spec.networking.client_ip) == \
        ("192.168.8.100-192.168.8.122", "192.168.8.126")
    assert [(m.host_port, m.namespace, m.service, m.port) for m in spec.publish] == \
        [(8080, "default", "frontend", 80), (8443, "web", "ingress", "https")]
    assert config.parse(spec.to_document()) == spec
    explicit = config.parse({"networking": {"loadBalancerPool": "10.240.0.64/27"}})
    assert str(explicit.networking.load_balancer_pool) == "10.240.0.64-10.240.0.95"


def test_load_balancer_pool_and_publish_mistakes_name_their_fields() -> None:
    doc = {"networking": {"loadBalancerPool": "10.240.1.10-10.240.1.20"},
           "nodes": [{"role": "control-plane"}, {"name": "client"}, {"name": "w", "ip": "10.240.0.254"}],
           "publish": ["8080:frontend:80", "80:svc/a:80", "80:svc/b:http", "70000:svc/c:80"]}
    text = config_errors(doc)
    for expected in ('networking.loadBalancerPool: Invalid value: "10.240.1.10-10.240.1.20": must be inside nodeSubnet',
                     "nodes[1].name: Invalid value: \"client\": is reserved: kinn-<cluster>-client is the outside client",
                     'nodes[2].ip: Invalid value: "10.240.0.254": is the outside client\'s or in loadBalancerPool',
                     'publish[0]: Invalid value: "8080:frontend:80": must be HOSTPORT:svc/[NAMESPACE/]NAME:PORT',
                     'publish[2]: Duplicate value: "80:svc/b:http"',
                     'publish[3]: Invalid value: "70000:svc/c:80": host port 70000 is not between 1 and 65535'):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    for pool in ("10.240.0.250-10.240.0.255", "10.240.0.0/28", "banana"):
        with pytest.raises(config.ConfigError, match="networking.loadBalancerPool"):
            config.parse({"networking": {"loadBalancerPool": pool}})


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "cluster.yaml"
    bad.write_text("nodes: [\n")
    with pytest.raises(config.ConfigError, match="cluster.yaml"):
        config.load(bad)


def test_names_derive_from_the_cluster() -> None:
    paths = ClusterPaths("lab")
    node = paths.node("worker-1")
    assert (paths.underlay_netns, node.netns, node.underlay_port, paths.context) == \
        ("kinn-lab-net", "kinn-lab-worker-1", "v-worker-1", "kinn-lab")
    assert node.path("/run/flannel/subnet.env") == node.dir / "run/flannel/subnet.env"


def _kubeconfig(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Config", "current-context": name,
            "clusters": [{"name": name, "cluster": {"server": f"https://{name}"}}],
            "users": [{"name": f"{name}-admin", "user": {"token": name}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}]}


def test_kubeconfig_merge_keeps_other_entries_and_remove_takes_only_its_own(tmp_path: Path) -> None:
    path = tmp_path / "config"
    merge_kubeconfig(path, _kubeconfig("mine"))  # a missing file is created
    merge_kubeconfig(path, _kubeconfig("kinn-a"))
    merge_kubeconfig(path, _kubeconfig("kinn-a"))  # again: replaced, not duplicated
    merged = yaml.safe_load(path.read_text())
    assert [c["name"] for c in merged["contexts"]] == ["mine", "kinn-a"]
    assert merged["current-context"] == "kinn-a"
    remove_from_kubeconfig(path, _kubeconfig("kinn-a"))
    left = yaml.safe_load(path.read_text())
    assert [c["name"] for c in left["contexts"]] == ["mine"] and left["current-context"] == ""
    assert [u["name"] for u in left["users"]] == ["mine-admin"]


def test_a_node_s_own_pod_cidr_round_trips_and_its_mistakes_name_their_fields() -> None:
    doc = {"networking": {"podSubnet": "10.200.0.0/16"},
           "nodes": [{"role": "control-plane"}, {"name": "worker-0", "podCIDR": "10.200.0.0/24"}, {"name": "worker-1"}]}
    spec = config.parse(doc)
    assert [(n.name, n.pod_cidr and str(n.pod_cidr)) for n in spec.nodes] == \
        [("control-plane", None), ("worker-0", "10.200.0.0/24"), ("worker-1", None)]
    assert spec.to_document()["nodes"][1]["podCIDR"] == "10.200.0.0/24"
    assert "podCIDR" not in spec.to_document()["nodes"][2]
    assert config.parse(spec.to_document()) == spec
    bad = {"networking": {"podSubnet": "10.200.0.0/16"},
           "nodes": [{"role": "control-plane", "podCIDR": "10.200.0.0/24"}, {"name": "a", "podCIDR": "10.200.0.0/24"},
                     {"name": "b", "podCIDR": "10.200.1.0/25"}, {"name": "c", "podCIDR": "10.201.0.0/24"},
                     {"name": "d", "podCIDR": "10.200.2.1/24"}, {"name": "e", "podCIDR": 7}]}
    text = config_errors(bad)
    for expected in ('nodes[1].podCIDR: Invalid value: "10.200.0.0/24": overlaps nodes[0].podCIDR 10.200.0.0/24',
                     'nodes[2].podCIDR: Invalid value: "10.200.1.0/25": must be a /24: the node CIDR mask size',
                     'nodes[3].podCIDR: Invalid value: "10.201.0.0/24": must be inside networking.podSubnet 10.200.0.0/16',
                     'nodes[4].podCIDR: Invalid value: "10.200.2.1/24": must be an IPv4 CIDR such as 10.244.1.0/24',
                     'nodes[5].podCIDR: Invalid value: 7: must be an IPv4 CIDR'):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    assert "nodes[0].podCIDR:" not in text


def test_a_misspelt_field_or_a_field_of_the_wrong_shape_is_an_error_not_a_default() -> None:
    """`networkin:` or `{rol: worker}` once gave a cluster of defaults (vxlan, not the host-gw asked for)."""
    doc = {"networkin": {"backend": "host-gw"}, "nodes": [{"role": "control-plane"}, {"rol": "worker"}, "worker"]}
    text = config_errors(doc)
    for expected in ("networkin: Forbidden: unknown field (known: apiVersion, kind, name, networking, nodes, publish)",
                     "nodes[1].rol: Forbidden: unknown field (known: name, role, ip, podCIDR)",
                     'nodes[2]: Invalid value: "worker": must be a mapping of fields such as {role: worker}'):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    assert "networking.bakend: Forbidden: unknown field" in config_errors({"networking": {"bakend": "host-gw"}})
    assert "networking: Invalid value: 5: must be a mapping of fields" in config_errors({"networking": 5})


def test_two_nodes_cannot_share_an_address_nor_take_the_gateway_s() -> None:
    doc = {"nodes": [{"role": "control-plane", "ip": "10.240.0.1"}, {"ip": "10.240.0.22"}, {},
                     {"ip": "10.240.0.0"}]}  # the third is worker-2, whose address defaults to 10.240.0.22
    text = config_errors(doc)
    for expected in ('nodes[0].ip: Invalid value: "10.240.0.1": is nodeSubnet\'s network, gateway (.1) or broadcast',
                     'nodes[2].ip: Duplicate value: "10.240.0.22"',
                     'nodes[3].ip: Invalid value: "10.240.0.0": is nodeSubnet\'s network'):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    assert "nodes[1].ip" not in text
