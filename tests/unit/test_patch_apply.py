"""managedFields tracking and server-side apply, as kube-apiserver's fieldmanager does them."""

import copy
import json

import pytest

from kinn.api.errors import StatusError
from kinn.api.openapi import schemas
from kinn.api.patch.apply import LAST_APPLIED, server_side_apply
from kinn.api.patch.fieldpath import from_fields_v1, to_fields_v1
from kinn.api.patch.json_patch import json_equal
from kinn.api.patch.managed_fields import default_field_manager, update_managed_fields
from kinn.api.patch.structured import compare, merge

DEPLOYMENT = schemas.for_kind("apps", "v1", "Deployment")
T1, T2, T3 = "2025-01-01T00:00:01Z", "2025-01-01T00:00:02Z", "2025-01-01T00:00:03Z"


def deployment(replicas=2, image="nginx:1"):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": image, "ports": [{"containerPort": 80, "protocol": "TCP"}], "resources": {}}
                    ]
                },
            },
        },
        "status": {},
    }


def created(manager="kubectl-client-side-apply"):
    obj = deployment()
    update_managed_fields(None, obj, manager, "Update", "apps/v1", now=T1)
    return obj


def entries(obj):
    return [(e["manager"], e["operation"], e.get("time")) for e in obj["metadata"]["managedFields"]]


def fields(obj, manager, operation):
    for entry in obj["metadata"]["managedFields"]:
        if (entry["manager"], entry["operation"]) == (manager, operation):
            return entry["fieldsV1"]
    return None


# --- FieldsV1 ----------------------------------------------------------------------------------


def test_create_records_an_update_entry_like_upstream():
    obj = created()
    assert obj["metadata"]["managedFields"] == [
        {
            "manager": "kubectl-client-side-apply",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
                    "f:template": {
                        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {
                            "f:containers": {
                                'k:{"name":"web"}': {
                                    ".": {},
                                    "f:image": {},
                                    "f:name": {},
                                    "f:ports": {
                                        ".": {},
                                        'k:{"containerPort":80,"protocol":"TCP"}': {
                                            ".": {},
                                            "f:containerPort": {},
                                            "f:protocol": {},
                                        },
                                    },
                                    "f:resources": {},
                                }
                            }
                        },
                    },
                },
            },
        }
    ]


def test_fields_v1_round_trips_and_orders_as_upstream():
    encoded = {"f:b": {}, "f:a": {".": {}, 'v:"x"': {}, "f:z": {}, 'k:{"name":"n"}': {}, "i:0": {}}}
    decoded = from_fields_v1(encoded)
    again = to_fields_v1(decoded)
    assert list(again) == ["f:a", "f:b"]
    assert list(again["f:a"]) == [".", "f:z", 'k:{"name":"n"}', 'v:"x"', "i:0"]


# --- Update ------------------------------------------------------------------------------------


def test_another_manager_takes_the_fields_it_changes():
    old = created()
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    update_managed_fields(old, new, "kubectl-edit", "Update", "apps/v1", now=T2)
    assert entries(new) == [("kubectl-client-side-apply", "Update", T1), ("kubectl-edit", "Update", T2)]
    edit = fields(new, "kubectl-edit", "Update")
    assert edit == {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {"f:image": {}}}}}}}
    csa = fields(new, "kubectl-client-side-apply", "Update")
    assert "f:image" not in csa["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']


def test_no_op_update_changes_nothing():
    old = created()
    new = copy.deepcopy(old)
    update_managed_fields(old, new, "kubectl-edit", "Update", "apps/v1", now=T2)
    assert new["metadata"]["managedFields"] == old["metadata"]["managedFields"]


def test_removed_fields_leave_their_owner_and_empty_entries_disappear():
    old = deployment()
    update_managed_fields(None, old, "a", "Update", "apps/v1", now=T1)
    labelled = copy.deepcopy(old)
    labelled["metadata"]["labels"]["tier"] = "fe"
    update_managed_fields(old, labelled, "kubectl-label", "Update", "v1", now=T2)
    assert fields(labelled, "kubectl-label", "Update") == {"f:metadata": {"f:labels": {"f:tier": {}}}}
    unlabelled = copy.deepcopy(labelled)
    del unlabelled["metadata"]["labels"]["tier"]
    update_managed_fields(labelled, unlabelled, "other", "Update", "apps/v1", now=T3)
    assert [e[0] for e in entries(unlabelled)] == ["a"]


def test_status_is_not_owned_through_the_main_resource():
    old = created()
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 2}
    update_managed_fields(old, new, "x", "Update", "apps/v1", now=T2)
    assert [e[0] for e in entries(new)] == ["kubectl-client-side-apply"]
    update_managed_fields(old, new, "kube-controller-manager", "Update", "apps/v1", "status", now=T2)
    assert new["metadata"]["managedFields"][-1]["subresource"] == "status"
    assert new["metadata"]["managedFields"][-1]["fieldsV1"] == {"f:status": {"f:replicas": {}}}


def test_client_can_reset_managed_fields_with_an_empty_entry():
    old = created()
    new = copy.deepcopy(old)
    new["metadata"]["managedFields"] = [{}]
    update_managed_fields(old, new, "x", "Update", "apps/v1", now=T2)
    assert "managedFields" not in new["metadata"]


@pytest.mark.parametrize("change", [
    lambda d: d["spec"].update(replicas=3),
    lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="nginx:2"),
    lambda d: d["spec"]["template"]["spec"]["containers"].append({"name": "log", "image": "busybox"}),
    lambda d: d["spec"]["strategy"].pop("rollingUpdate"),
    lambda d: d["metadata"]["labels"].update(tier="web"),
    lambda d: d["spec"].update(paused=True),
    lambda d: d["spec"].update(replicas=True),  # == 1 to Python
    lambda d: d["status"].update(replicas=2, conditions=[{"type": "Available", "status": "True"}]),
    lambda d: None,
])
def test_compare_skips_equal_subtrees_and_finds_the_same_changes(change):
    """compare() leaves out subtrees equal on both sides; what it reports is exactly what the
    full merge walk reports, down to a number that became a boolean."""
    old, new = deployment(replicas=1), deployment(replicas=1)
    change(new)
    full = merge(old, new, DEPLOYMENT)[1]
    fast = compare(old, new, DEPLOYMENT)
    assert (fast.added, fast.modified, fast.removed) == (full.added, full.modified, full.removed)
    assert fast.is_same() == json_equal(old, new)


@pytest.mark.parametrize(
    "agent, manager",
    [
        ("kubectl/v1.32.0 (linux/amd64) kubernetes/70d3cc9", "kubectl"),
        ("OpenAPI-Generator/31.0.0/python", "OpenAPI-Generator"),
        ("a\tb/1", "ab"),
        ("x" * 200, "x" * 128),
    ],
)
def test_default_field_manager_from_user_agent(agent, manager):
    assert default_field_manager(agent) == manager


# --- server-side apply -------------------------------------------------------------------------

CONFIG = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}]}]},
        },
    },
}


def apply(live, config=CONFIG, manager="kubectl", force=False, now=T2):
    return server_side_apply(live, copy.deepcopy(config), manager, force, DEPLOYMENT, "apps/v1", now)


def test_apply_creates_and_owns_what_it_sets():
    obj = apply(None)
    assert obj["spec"]["replicas"] == 3
    assert entries(obj) == [("kubectl", "Apply", T2)]
    assert fields(obj, "kubectl", "Apply") == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"web"}': {
                            ".": {},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
                        }
                    }
                }
            },
        },
    }


def test_conflict_with_an_updater_is_a_409_worded_as_upstream():
    with pytest.raises(StatusError) as caught:
        apply(created())
    assert caught.value.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas',
        "reason": "Conflict",
        "details": {
            "causes": [
                {
                    "reason": "FieldManagerConflict",
                    "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
                    "field": ".spec.replicas",
                }
            ]
        },
        "code": 409,
    }


def test_several_conflicts_are_listed_per_manager():
    config = copy.deepcopy(CONFIG)
    config["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    with pytest.raises(StatusError) as caught:
        apply(created(), config)
    assert caught.value.message == (
        'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="web"].image'
    )


def test_force_moves_the_fields_to_the_applier_and_apply_sorts_first():
    obj = apply(created(), force=True)
    assert obj["spec"]["replicas"] == 3
    assert entries(obj) == [("kubectl", "Apply", T2), ("kubectl-client-side-apply", "Update", T1)]
    assert "f:replicas" not in fields(obj, "kubectl-client-side-apply", "Update")["f:spec"]


def client_side_applied(replicas=2):
    """A Deployment `kubectl apply` created: its configuration is in the last-applied annotation."""
    obj = created()
    config = {**copy.deepcopy(CONFIG), "spec": {**CONFIG["spec"], "replicas": 2}}
    obj["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(config)}
    obj["spec"]["replicas"] = replicas
    return obj


def test_kubectl_server_side_takes_over_what_client_side_apply_last_set():
    """lastAppliedManager: .spec.replicas is still what the last client-side apply set, so no conflict;
    lastAppliedUpdater: the annotation now holds what kubectl applied."""
    obj = apply(client_side_applied())
    assert obj["spec"]["replicas"] == 3
    assert "f:replicas" not in fields(obj, "kubectl-client-side-apply", "Update")["f:spec"]
    assert "f:replicas" in fields(obj, "kubectl", "Apply")["f:spec"]
    assert obj["metadata"]["annotations"][LAST_APPLIED] == (
        '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"labels":{"app":"web"},"name":"web"},"spec":'
        '{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},'
        '"spec":{"containers":[{"image":"nginx:1","name":"web","ports":[{"containerPort":80}]}]}}}}\n')


def test_a_field_changed_since_the_last_client_side_apply_still_conflicts():
    with pytest.raises(StatusError) as caught:
        apply(client_side_applied(replicas=5))
    assert caught.value.message.endswith(": .spec.replicas")


def test_only_kubectls_manager_takes_over_from_client_side_apply():
    with pytest.raises(StatusError):
        apply(client_side_applied(), manager="ci-tool")
    assert LAST_APPLIED not in apply(created(), manager="ci-tool", force=True)["metadata"].get("annotations", {})


def test_same_value_is_shared_without_conflict():
    config = copy.deepcopy(CONFIG)
    config["spec"]["replicas"] = 2
    obj = apply(created(), config)
    assert "f:replicas" in fields(obj, "kubectl", "Apply")["f:spec"]
    assert "f:replicas" in fields(obj, "kubectl-client-side-apply", "Update")["f:spec"]


def test_fields_no_longer_applied_are_removed_unless_someone_else_owns_them():
    first = apply(None)
    config = copy.deepcopy(CONFIG)
    del config["spec"]["replicas"]
    del config["metadata"]["labels"]
    obj = apply(first, config, now=T3)
    assert "replicas" not in obj["spec"]
    assert "labels" not in obj["metadata"]
    shared = apply(apply(None, manager="ci"), now=T2)
    obj = apply(shared, config, now=T3)
    assert obj["spec"]["replicas"] == 3, "still owned by the other applier"


def test_dropped_list_item_is_removed_and_new_one_merged_by_key():
    config = copy.deepcopy(CONFIG)
    config["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    two = apply(None, config)
    obj = apply(two, CONFIG, now=T3)
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["web"]


def test_unchanged_apply_keeps_the_time():
    obj = apply(None)
    again = apply(obj, now=T3)
    assert entries(again) == [("kubectl", "Apply", T2)]


def test_sets_of_primitives_are_owned_by_value():
    config = copy.deepcopy(CONFIG)
    config["metadata"]["finalizers"] = ["example.com/x"]
    obj = apply(None, config)
    assert fields(obj, "kubectl", "Apply")["f:metadata"]["f:finalizers"] == {'v:"example.com/x"': {}}


def test_applied_managed_fields_are_rejected():
    config = copy.deepcopy(CONFIG)
    config["metadata"]["managedFields"] = []
    with pytest.raises(StatusError) as caught:
        apply(None, config)
    assert (caught.value.code, caught.value.message) == (400, "metadata.managedFields must be nil")


def test_an_applied_configuration_the_typed_walk_cannot_follow_is_a_500_without_reason():
    """As upstream's untyped `failed to create typed patch object` error: kubectl prints `Error from
    server: failed to create typed patch object (...)`, not an InternalError."""
    config = copy.deepcopy(CONFIG)
    del config["spec"]["template"]["spec"]["containers"][0]["name"]
    with pytest.raises(StatusError) as caught:
        apply(None, config)
    status = caught.value.status()
    assert status["code"] == 500 and "reason" not in status
    assert status["message"].startswith("failed to create typed patch object (/web; apps/v1, Kind=Deployment): ")
