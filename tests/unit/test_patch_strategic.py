"""Strategic merge patch, with patches shaped as kubectl 1.32 sends them."""

import copy

import pytest

from kinn.api.errors import StatusError
from kinn.api.openapi import schemas
from kinn.api.patch.strategic import apply_strategic_merge_patch

DEPLOYMENT = schemas.for_kind("apps", "v1", "Deployment")
SERVICE = schemas.for_kind("", "v1", "Service")

LIVE = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a.example/x", "b.example/y"]},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx:1",
                        "args": ["-a", "-b"],
                        "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP"}],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    },
                    {"name": "side", "image": "busybox"},
                ],
                "volumes": [{"name": "data", "emptyDir": {}}],
            },
        },
    },
}


def patch(p, live=LIVE, schema=DEPLOYMENT):
    before = copy.deepcopy(live)
    out = apply_strategic_merge_patch(live, p, schema)
    assert live == before, "the live object is never modified"
    return out


def containers(obj):
    return obj["spec"]["template"]["spec"]["containers"]


def test_three_way_apply_patch_changes_image_removes_container_and_reorders():
    out = patch(
        {
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}},
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "log"}, {"name": "web"}],
                        "containers": [
                            {"image": "fluent", "name": "log"},
                            {"image": "nginx:2", "name": "web"},
                            {"$patch": "delete", "name": "side"},
                        ],
                    }
                }
            },
        }
    )
    assert [c["name"] for c in containers(out)] == ["log", "web"]
    web = containers(out)[1]
    assert web["image"] == "nginx:2"
    assert web["ports"] == LIVE["spec"]["template"]["spec"]["containers"][0]["ports"], "unpatched fields stay"
    assert out["metadata"]["annotations"] == {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}


def test_edit_patch_merges_env_by_name_and_ports_by_container_port():
    out = patch(
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "web"}, {"name": "side"}],
                        "containers": [
                            {
                                "$setElementOrder/env": [{"name": "A"}, {"name": "C"}, {"name": "B"}],
                                "env": [{"name": "A", "value": "10"}, {"name": "C", "value": "3"}],
                                "name": "web",
                                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                            }
                        ],
                    }
                }
            }
        }
    )
    web = containers(out)[0]
    assert web["env"] == [{"name": "A", "value": "10"}, {"name": "C", "value": "3"}, {"name": "B", "value": "2"}]
    # Without $setElementOrder, new items go before the live ones (upstream's mergeSortedSlice).
    assert [p["containerPort"] for p in web["ports"]] == [8080, 80, 443]


def test_without_set_element_order_new_items_are_prepended_as_upstream():
    """As in the kubectl patch docs: the patched-in container comes first."""
    out = patch({"spec": {"template": {"spec": {"containers": [{"name": "new", "image": "x"}]}}}})
    assert [c["name"] for c in containers(out)] == ["new", "web", "side"]


def test_set_element_order_wins_and_server_only_items_follow_live_order():
    out = patch(
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "web"}, {"name": "new"}],
                        "containers": [{"name": "new", "image": "x"}],
                    }
                }
            }
        }
    )
    # "side" sorts after "web" (live order) and cannot be compared with the new "new".
    assert [c["name"] for c in containers(out)] == ["web", "new", "side"]


def test_primitive_merge_list_is_a_set_and_delete_from_primitive_list():
    out = patch({"metadata": {"finalizers": ["c.example/z", "a.example/x"]}})
    assert out["metadata"]["finalizers"] == ["c.example/z", "a.example/x", "b.example/y"]
    out = patch(
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example/x"], "$setElementOrder/finalizers": ["b.example/y"]}}
    )
    assert out["metadata"]["finalizers"] == ["b.example/y"]


def test_lists_without_merge_strategy_are_replaced():
    out = patch({"spec": {"template": {"spec": {"containers": [{"name": "web", "args": ["-c"]}]}}}})
    assert containers(out)[0]["args"] == ["-c"]


def test_null_deletes_a_key():
    out = patch({"metadata": {"labels": {"app": None}}, "spec": {"replicas": None}})
    assert out["metadata"]["labels"] == {}
    assert "replicas" not in out["spec"]


def test_retain_keys_switching_strategy_type():
    out = patch({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_on_a_volume_item():
    out = patch(
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/volumes": [{"name": "data"}],
                        "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}, "name": "data"}],
                    }
                }
            }
        }
    )
    assert out["spec"]["template"]["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "cm"}}]


def test_retain_keys_must_list_every_patched_field():
    with pytest.raises(StatusError) as caught:
        patch({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}})
    assert (caught.value.code, caught.value.message) == (400, "invalid patch format of retainKeys")


def test_patch_replace_and_delete_in_maps():
    out = patch({"spec": {"selector": {"$patch": "replace", "matchLabels": {"tier": "fe"}}}})
    assert out["spec"]["selector"] == {"matchLabels": {"tier": "fe"}}
    out = patch({"metadata": {"labels": {"$patch": "delete"}}})
    assert out["metadata"]["labels"] == {}


def test_patch_replace_in_a_list():
    out = patch({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}}})
    assert containers(out) == [{"name": "only", "image": "x"}]


def test_unknown_fields_merge_like_a_merge_patch():
    live = {"metadata": {"name": "x"}, "extra": {"a": [1], "b": {"c": 1}}}
    out = patch({"extra": {"a": [2], "b": {"d": None, "e": 2}}}, live=live)
    assert out["extra"] == {"a": [2], "b": {"c": 1, "e": 2}}


def test_service_ports_merge_by_port():
    live = {"spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}], "selector": {"app": "web"}}}
    out = patch({"spec": {"ports": [{"name": "https", "port": 443}]}}, live=live, schema=SERVICE)
    assert [p["port"] for p in out["spec"]["ports"]] == [443, 80]


def test_missing_merge_key_is_a_500_with_the_bare_text():
    """As kube-apiserver: `Error from server: map: map[image:x] does not contain declared merge key: name`."""
    with pytest.raises(StatusError) as caught:
        patch({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})
    assert caught.value.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                     "message": "map: map[image:x] does not contain declared merge key: name",
                                     "code": 500}


def test_root_directive_replace():
    out = patch({"$patch": "replace", "metadata": {"name": "web"}})
    assert out == {"metadata": {"name": "web"}}


def test_non_object_patch_is_400():
    with pytest.raises(StatusError) as caught:
        patch([{"op": "add"}])
    assert caught.value.code == 400
    assert caught.value.message == "json: cannot unmarshal array into Go value of type map[string]interface {}"
