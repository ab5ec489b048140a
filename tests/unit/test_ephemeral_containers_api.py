"""pods/ephemeralcontainers in the API server: what the subresource keeps of a write
(dropNonEphemeralContainerUpdates), how it defaults and validates the ephemeral containers
(ValidatePodEphemeralContainersUpdate, validateEphemeralContainers), whom managedFields credit,
and that creates and plain pod updates cannot set them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kinn.api.defaults.core import default_pod
from kinn.api.field import Path
from kinn.api.patch.fieldpath import path
from kinn.api.patch.managed_fields import decode_managed_fields, update_managed_fields
from kinn.api.resources import TABLE
from kinn.api.validation.core import (CREATE, UPDATE, validate_pod_ephemeral_containers_update,
                                      validate_pod_template_spec)
from kinn.apiserver import discovery
from kinn.apiserver.registry.pods import PodStrategy, drop_non_ephemeral_container_updates

Obj = dict[str, Any]
PODS = TABLE.lookup("", "v1", "pods")
FORBIDDEN = "Forbidden: cannot be set for an Ephemeral Container"


def stored_pod(**spec: Any) -> Obj:
    """A pod as the registry stores it: defaulted, with a resourceVersion."""
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "7",
                        "labels": {"app": "web"}},
           "spec": {"containers": [{"name": "app", "image": "nginx"}], **spec}}
    default_pod(pod)
    return pod


def with_ephemeral(old: Obj, *containers: Obj) -> Obj:
    """What `kubectl debug` asks for: the pod with `containers` added to its ephemeral containers."""
    new = copy.deepcopy(old)
    new["spec"].setdefault("ephemeralContainers", []).extend(copy.deepcopy(list(containers)))
    return new


def prepared(new: Obj, old: Obj) -> Obj:
    assert PODS is not None
    return PodStrategy(PODS).prepare_for_subresource_update("ephemeralcontainers", new, old)


def update_errors(new: Obj, old: Obj) -> list[str]:
    return [str(e) for e in validate_pod_ephemeral_containers_update(prepared(new, old), old)]


def debugger(**fields: Any) -> Obj:
    return {"name": "dbg", "image": "busybox", **fields}


# -- prepare for update --------------------------------------------------------------------------


def test_only_ephemeral_containers_change_through_the_subresource() -> None:
    old = stored_pod()
    old["status"]["phase"] = "Running"
    new = with_ephemeral(old, debugger())
    new["metadata"]["labels"] = {"app": "hijacked"}
    new["metadata"]["resourceVersion"] = "6"
    new["spec"]["containers"][0]["image"] = "evil"
    new["spec"]["activeDeadlineSeconds"] = 5
    new["status"] = {"phase": "Failed"}
    before = copy.deepcopy(old)
    result = drop_non_ephemeral_container_updates(new, old)
    assert result["metadata"]["labels"] == {"app": "web"}
    assert result["metadata"]["resourceVersion"] == "6"  # the client's precondition is kept for the registry
    assert result["spec"]["containers"][0]["image"] == "nginx"
    assert "activeDeadlineSeconds" not in result["spec"]
    assert result["status"]["phase"] == "Running"
    assert [c["name"] for c in result["spec"]["ephemeralContainers"]] == ["dbg"]
    assert old == before


def test_a_write_without_ephemeral_containers_drops_the_existing_ones() -> None:
    """So validation sees the removal and refuses it, instead of the write silently keeping them."""
    old = prepared(with_ephemeral(stored_pod(), debugger()), stored_pod())
    new = copy.deepcopy(old)
    del new["spec"]["ephemeralContainers"]
    assert "ephemeralContainers" not in drop_non_ephemeral_container_updates(new, old)["spec"]


def test_new_ephemeral_containers_get_the_container_defaults() -> None:
    old = stored_pod()
    [container] = prepared(with_ephemeral(old, debugger(image="busybox:1.36")), old)["spec"]["ephemeralContainers"]
    assert container == {"name": "dbg", "image": "busybox:1.36", "imagePullPolicy": "IfNotPresent", "resources": {},
                         "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}


# -- validation ----------------------------------------------------------------------------------


def test_adding_a_debugger_targeting_a_container_or_init_container_is_valid() -> None:
    old = stored_pod(initContainers=[{"name": "init", "image": "busybox"}])
    assert update_errors(with_ephemeral(old, debugger(targetContainerName="app"), debugger(
        name="dbg2", targetContainerName="init", stdin=True, tty=True, env=[{"name": "A", "value": "1"}],
        securityContext={"capabilities": {"add": ["SYS_PTRACE"]}}, resources={})), old) == []


@pytest.mark.parametrize("key, value", [
    ("ports", [{"containerPort": 80}]),
    ("resources", {"limits": {"cpu": "1"}}),
    ("resizePolicy", [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]),
    ("restartPolicy", "Always"),
    ("livenessProbe", {"exec": {"command": ["true"]}}),
    ("readinessProbe", {"exec": {"command": ["true"]}}),
    ("startupProbe", {"exec": {"command": ["true"]}}),
    ("lifecycle", {"preStop": {"exec": {"command": ["true"]}}}),
])
def test_fields_a_debugging_container_may_not_set(key: str, value: Any) -> None:
    old = stored_pod()
    assert update_errors(with_ephemeral(old, debugger(**{key: value})), old) == [
        f"spec.ephemeralContainers[0].{key}: {FORBIDDEN}"]


def test_forbidden_fields_are_reported_in_upstreams_field_order() -> None:
    old = stored_pod()
    container = debugger(lifecycle={"preStop": {"exec": {"command": ["true"]}}}, ports=[{"containerPort": 80}],
                         readinessProbe={"exec": {"command": ["true"]}}, resources={"requests": {"cpu": "1"}})
    assert update_errors(with_ephemeral(old, container), old) == [
        f"spec.ephemeralContainers[0].{key}: {FORBIDDEN}"
        for key in ("ports", "resources", "readinessProbe", "lifecycle")
    ]


def test_subpath_mounts_are_forbidden() -> None:
    old = stored_pod(volumes=[{"name": "data", "emptyDir": {}}])
    mounts = [{"name": "data", "mountPath": "/a", "subPath": "x"},
              {"name": "data", "mountPath": "/b", "subPathExpr": "y"}]
    assert update_errors(with_ephemeral(old, debugger(volumeMounts=mounts)), old) == [
        f"spec.ephemeralContainers[0].volumeMounts[0].subPath: {FORBIDDEN}",
        f"spec.ephemeralContainers[0].volumeMounts[1].subPathExpr: {FORBIDDEN}",
    ]


def test_names_are_unique_across_every_container_kind() -> None:
    old = stored_pod(initContainers=[{"name": "init", "image": "busybox"}])
    new = with_ephemeral(old, debugger(name="app"), debugger(name="init"), debugger(), debugger())
    assert update_errors(new, old) == [
        'spec.ephemeralContainers[0].name: Duplicate value: "app"',
        'spec.ephemeralContainers[1].name: Duplicate value: "init"',
        'spec.ephemeralContainers[3].name: Duplicate value: "dbg"',
    ]


def test_the_target_must_be_a_container_or_init_container() -> None:
    old = stored_pod()
    new = with_ephemeral(old, debugger(targetContainerName="nope"), debugger(name="dbg2", targetContainerName="dbg"))
    assert update_errors(new, old) == [
        'spec.ephemeralContainers[0].targetContainerName: Not found: "nope"',
        'spec.ephemeralContainers[1].targetContainerName: Not found: "dbg"',
    ]


def test_the_usual_container_validation_applies() -> None:
    old = stored_pod()
    new = with_ephemeral(old, {"name": "Bad_Name", "image": " busybox"}, {"image": "busybox"}, {"name": "noimage"})
    errs = update_errors(new, old)
    assert errs[0].startswith('spec.ephemeralContainers[0].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label')
    assert errs[1:] == [
        'spec.ephemeralContainers[0].image: Invalid value: " busybox": must not have leading or trailing whitespace',
        "spec.ephemeralContainers[1].name: Required value",
        "spec.ephemeralContainers[2].image: Required value",
    ]


def test_existing_ephemeral_containers_may_not_be_changed() -> None:
    old = prepared(with_ephemeral(stored_pod(), debugger()), stored_pod())
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"][0]["image"] = "alpine"
    assert update_errors(new, old) == [
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "dbg" may not be changed\n'
        '- \timage: "busybox"\n+ \timage: "alpine"'
    ]


def test_existing_ephemeral_containers_may_not_be_removed_but_may_be_reordered() -> None:
    old = prepared(with_ephemeral(stored_pod(), debugger(), debugger(name="dbg2")), stored_pod())
    reordered = copy.deepcopy(old)
    reordered["spec"]["ephemeralContainers"].reverse()
    assert update_errors(reordered, old) == []
    removed = copy.deepcopy(old)
    del removed["spec"]["ephemeralContainers"][0]
    assert update_errors(removed, old) == [
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "dbg" may not be removed\n']


def test_static_pods_take_no_ephemeral_containers() -> None:
    old = stored_pod()
    old["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    assert update_errors(with_ephemeral(old, debugger()), old) == [
        "Forbidden: static pods do not support ephemeral containers"]


def test_ephemeral_containers_cannot_be_set_on_create() -> None:
    pod = stored_pod(ephemeralContainers=[debugger()])
    assert [str(e) for e in CREATE["Pod"](pod)] == ["spec.ephemeralContainers: Forbidden: cannot be set on create"]


def test_a_plain_pod_update_cannot_add_or_remove_ephemeral_containers() -> None:
    old = stored_pod()
    with_debugger = prepared(with_ephemeral(old, debugger()), old)
    for new, current in ((with_debugger, old), (old, with_debugger)):
        (err,) = UPDATE["Pod"](copy.deepcopy(new), current)
        assert str(err).startswith("spec: Forbidden: pod updates may not change fields other than")
        assert "ephemeralContainers" in str(err)
    assert UPDATE["Pod"](copy.deepcopy(with_debugger), with_debugger) == []


def test_pod_templates_take_no_ephemeral_containers() -> None:
    template = {"metadata": {}, "spec": stored_pod(ephemeralContainers=[debugger()])["spec"]}
    assert [str(e) for e in validate_pod_template_spec(template, Path("spec", "template"))] == [
        "spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template"]


# -- managedFields and discovery ----------------------------------------------------------------


def test_the_subresource_manager_owns_only_ephemeral_containers() -> None:
    old = stored_pod()
    new = with_ephemeral(old, debugger())
    new["metadata"]["labels"]["extra"] = "x"  # a change the strategy would drop; even so, it is not credited
    update_managed_fields(old, new, "kubectl", "Update", "v1", subresource="ephemeralcontainers", now="t")
    [entry] = decode_managed_fields(new["metadata"]["managedFields"])
    assert (entry.manager, entry.subresource) == ("kubectl", "ephemeralcontainers")
    assert entry.fields and all(p[:2] == path("spec", "ephemeralContainers") for p in entry.fields)


def test_discovery_lists_the_subresource_as_a_pod_with_get_patch_update() -> None:
    core = discovery.api_resource_list("", "v1")
    assert core is not None
    [entry] = [r for r in core["resources"] if r["name"] == "pods/ephemeralcontainers"]
    assert (entry["kind"], entry["verbs"]) == ("Pod", ["get", "patch", "update"])
    [pods] = [r for r in discovery.aggregated("api")["items"][0]["versions"][0]["resources"] if r["resource"] == "pods"]
    assert {"subresource": "ephemeralcontainers", "responseKind": {"group": "", "version": "v1", "kind": "Pod"},
            "verbs": ["get", "patch", "update"]} in pods["subresources"]
