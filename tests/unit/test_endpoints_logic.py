"""Pure logic of the Endpoints/EndpointSlice controllers and the GC graph, table-driven."""

from __future__ import annotations

import pytest

from kinn.api.resources import TABLE
from kinn.controllers.endpoints import desired_subsets, repack_subsets, truncate
from kinn.controllers.endpointslice_reconciler import (
    PortGroup, desired_endpoints, endpoint_key, new_slice, port_key, reconcile,
)
from kinn.controllers.endpointsutil import find_port
from kinn.controllers.gc_graph import Graph, GraphBuilder, delete_key, orphan_key
from kinn.controllers.namespace_deleter import Remaining, desired_conditions


def addr(ip: str, uid: str = "") -> dict:
    return {"ip": ip, "targetRef": {"kind": "Pod", "uid": uid or ip}} if uid != "-" else {"ip": ip}


def port(number: int, name: str = "") -> dict:
    return {"name": name, "port": number, "protocol": "TCP"} if name else {"port": number, "protocol": "TCP"}


@pytest.mark.parametrize("subsets,expected", [
    ([], []),
    # one address per port becomes one subset with both ports
    ([{"addresses": [addr("1.1.1.1")], "ports": [port(80, "a")]},
      {"addresses": [addr("1.1.1.1")], "ports": [port(443, "b")]}],
     [{"addresses": [addr("1.1.1.1")], "ports": [port(80, "a"), port(443, "b")]}]),
    # same port, two addresses: merged and sorted by IP
    ([{"addresses": [addr("2.2.2.2")], "ports": [port(80)]}, {"addresses": [addr("1.1.1.1")], "ports": [port(80)]}],
     [{"addresses": [addr("1.1.1.1"), addr("2.2.2.2")], "ports": [port(80)]}]),
    # not ready trumps ready for the same address and port
    ([{"addresses": [addr("1.1.1.1")], "ports": [port(80)]},
      {"notReadyAddresses": [addr("1.1.1.1")], "ports": [port(80)]}],
     [{"notReadyAddresses": [addr("1.1.1.1")], "ports": [port(80)]}]),
    # different port numbers (named targetPort) stay in separate subsets
    ([{"addresses": [addr("1.1.1.1")], "ports": [port(8080, "http")]},
      {"notReadyAddresses": [addr("2.2.2.2")], "ports": [port(9090, "http")]}],
     [{"addresses": [addr("1.1.1.1")], "ports": [port(8080, "http")]},
      {"notReadyAddresses": [addr("2.2.2.2")], "ports": [port(9090, "http")]}]),
    # headless without ports keeps its addresses
    ([{"addresses": [addr("1.1.1.1")]}, {"notReadyAddresses": [addr("2.2.2.2")]}],
     [{"addresses": [addr("1.1.1.1")], "notReadyAddresses": [addr("2.2.2.2")]}]),
    # the same IP from two pods is two addresses
    ([{"addresses": [addr("1.1.1.1", "a"), addr("1.1.1.1", "b")], "ports": [port(80)]}],
     [{"addresses": [addr("1.1.1.1", "a"), addr("1.1.1.1", "b")], "ports": [port(80)]}]),
])
def test_repack_subsets(subsets, expected):
    assert repack_subsets(subsets) == expected


def test_truncate_keeps_1000_ready_addresses_and_drops_not_ready():
    subsets = [{"addresses": [addr(f"10.0.{i // 250}.{i % 250}") for i in range(1200)],
                "notReadyAddresses": [addr("10.9.9.9")]}]
    assert truncate(subsets)
    assert len(subsets[0]["addresses"]) == 1000 and "notReadyAddresses" not in subsets[0]
    assert not truncate([{"addresses": [addr("1.1.1.1")]}])


def pod(name: str, ip: str, ready: bool = True, ports: list | None = None, **meta: object) -> dict:
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", **meta},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": ports or []}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


SERVICE = {"metadata": {"name": "svc", "namespace": "ns", "uid": "svc-uid"},
           "spec": {"selector": {"app": "x"}, "ports": [{"name": "http", "port": 80, "targetPort": "http",
                                                          "protocol": "TCP"}]}}


@pytest.mark.parametrize("target,pod_ports,expected", [
    (8080, [], 8080),
    ("http", [{"name": "http", "containerPort": 9000}], 9000),
    ("http", [{"name": "http", "containerPort": 9000, "protocol": "UDP"}], None),
    ("http", [{"name": "other", "containerPort": 9000}], None),
])
def test_find_port(target, pod_ports, expected):
    assert find_port(pod("p", "1.1.1.1", ports=pod_ports), {"targetPort": target, "protocol": "TCP"}) == expected


def test_desired_subsets_skip_pods_without_the_named_port_and_terminating_pods():
    named = [{"name": "http", "containerPort": 8080}]
    pods = [pod("a", "10.0.0.1", ports=named), pod("b", "10.0.0.2", ready=False, ports=named),
            pod("c", "10.0.0.3"), pod("d", "10.0.0.4", ports=named, deletionTimestamp="2025-01-01T00:00:00Z")]
    [subset] = desired_subsets(SERVICE, pods)
    assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.1"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.0.0.2"]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]


def slices_for(pods: list[dict], existing: list[dict], max_per_slice: int = 3):
    return reconcile(SERVICE, existing, desired_endpoints(SERVICE, pods, {}), max_per_slice=max_per_slice)


def named(slice_: dict, name: str) -> dict:
    slice_["metadata"]["name"] = name
    slice_["metadata"].pop("generateName", None)
    return slice_


HTTP = [{"name": "http", "containerPort": 8080}]


def test_reconcile_creates_a_placeholder_then_fills_it():
    plan = slices_for([], [])
    assert [len(s["endpoints"]) for s in plan.create] == [0] and not plan.update and not plan.delete
    placeholder = named(plan.create[0], "svc-aaaaa")
    plan = slices_for([pod("a", "10.0.0.1", ports=HTTP)], [placeholder])
    assert not plan.create and not plan.delete
    assert [s["metadata"]["name"] for s in plan.update] == ["svc-aaaaa"]
    assert plan.update[0]["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]


def test_reconcile_splits_at_max_and_leaves_unchanged_slices_alone():
    pods = [pod(f"p{i}", f"10.0.0.{i}", ports=HTTP) for i in range(5)]
    plan = slices_for(pods, [])
    assert sorted(len(s["endpoints"]) for s in plan.create) == [2, 3]
    existing = [named(s, f"svc-{i}") for i, s in enumerate(plan.create)]
    assert slices_for(pods, existing).empty()
    # one pod more: it joins the slice with room; the full one is untouched
    plan = slices_for(pods + [pod("p9", "10.0.0.9", ports=HTTP)], existing)
    assert not plan.create and not plan.delete
    assert [len(s["endpoints"]) for s in plan.update] == [3]


def test_reconcile_updates_changed_endpoints_and_deletes_emptied_slices():
    pods = [pod(f"p{i}", f"10.0.0.{i}", ports=HTTP) for i in range(4)]
    existing = [named(s, f"svc-{i}") for i, s in enumerate(slices_for(pods, []).create)]
    full = next(s for s in existing if len(s["endpoints"]) == 3)
    kept_ip = full["endpoints"][0]["addresses"][0]
    survivors = [p for p in pods if p["status"]["podIP"] == kept_ip]
    survivors[0]["status"]["conditions"][0]["status"] = "False"
    plan = slices_for(survivors, existing)
    assert [s["metadata"]["name"] for s in plan.update] == [full["metadata"]["name"]]
    assert plan.update[0]["endpoints"][0]["conditions"]["ready"] is False
    assert [s["metadata"]["name"] for s in plan.delete] == [s["metadata"]["name"] for s in existing if s is not full]


def test_reconcile_groups_by_port_set_and_rewrites_instead_of_delete_plus_create():
    old = named(new_slice(SERVICE, [{"name": "http", "port": 7000, "protocol": "TCP"}], []), "svc-old")
    old["endpoints"] = [{"addresses": ["10.0.0.1"], "targetRef": {"uid": "gone"}}]
    plan = slices_for([pod("a", "10.0.0.1", ports=HTTP)], [old])
    assert not plan.create and not plan.delete
    assert plan.update[0]["metadata"]["name"] == "svc-old" and plan.update[0]["ports"][0]["port"] == 8080


def test_port_key_and_endpoint_key_ignore_order():
    assert port_key([{"a": 1}, {"b": 2}]) == port_key([{"b": 2}, {"a": 1}])
    assert endpoint_key({"addresses": ["1.1.1.1"], "targetRef": {"uid": "u"}}) == ("1.1.1.1", "u")
    assert PortGroup([]).endpoints == {}


RS = TABLE.lookup("apps", "v1", "replicasets")
PODS = TABLE.lookup("", "v1", "pods")


def obj(name: str, uid: str, owners: list[str] = (), **meta: object) -> dict:
    refs = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": o, "uid": f"uid-{o}", "blockOwnerDeletion": True}
            for o in owners]
    return {"metadata": {"name": name, "namespace": "ns", "uid": uid, "ownerReferences": refs, **meta}}


def test_graph_builder_events_call_for_the_right_work():
    builder = GraphBuilder(Graph())
    assert builder.upserted(RS, obj("rs", "uid-rs")) == []
    assert builder.upserted(PODS, obj("p", "uid-p", ["rs"])) == []           # owner known: nothing to do
    assert builder.upserted(PODS, obj("q", "uid-q", ["ghost"])) == [delete_key("uid-q")]  # verify the owner
    foreground = obj("rs", "uid-rs", deletionTimestamp="now", finalizers=["foregroundDeletion"])
    assert builder.upserted(RS, foreground) == [delete_key("uid-rs"), delete_key("uid-p")]
    assert [d.uid for d in builder.graph.blocking_dependents(builder.graph.nodes["uid-rs"])] == ["uid-p"]
    assert builder.deleted(obj("p", "uid-p", ["rs"])) == [delete_key("uid-rs")]  # the waiting owner may go
    orphaning = obj("rs", "uid-rs", deletionTimestamp="now", finalizers=["orphan"])
    assert builder.upserted(RS, orphaning) == [orphan_key("uid-rs")]
    builder.upserted(PODS, obj("r", "uid-r", ["rs"]))
    assert builder.deleted(orphaning) == [delete_key("uid-r")]  # owner gone: dependents are checked


def test_namespace_conditions_name_what_remains():
    rs = TABLE.lookup("", "v1", "configmaps")
    remaining = Remaining(15, {rs: 2}, {"a/b": 2}, [])
    wanted = desired_conditions(remaining)
    assert wanted["NamespaceContentRemaining"] == (
        "True", "SomeResourcesRemain", "Some resources are remaining: configmaps. has 2 resource instances")
    assert wanted["NamespaceFinalizersRemaining"][2] == \
        "Some content in the namespace has finalizers remaining: a/b in 2 resource instances"
    assert wanted["NamespaceDeletionContentFailure"] == (
        "False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization")
