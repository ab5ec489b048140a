"""LimitRanger admission: container defaults and their annotation, and upstream's min, max and ratio
refusals for containers, pods and claims, alone and through the API server's create path."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinn.api.defaults.core import default_limit_range
from kinn.api.errors import StatusError, aggregate
from kinn.api.quantity import Quantity
from kinn.apiserver.admission import Operation
from kinn.apiserver.admission.limitranger import (
    LIMIT_RANGER_ANNOTATION, LimitRanger, claim_violations, default_pod_resources, pod_violations,
    ratio_violation,
)
from admission_util import registries_with_namespace


def limit_range(*items: dict) -> dict:
    """A LimitRange as the API stores it: defaulted (default from max, defaultRequest from default or min)."""
    lr = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits", "namespace": "ns"},
          "spec": {"limits": list(items)}}
    default_limit_range(lr)
    return lr


def container(name: str = "app", requests: dict | None = None, limits: dict | None = None) -> dict:
    resources = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "image": "nginx", "resources": resources}


def pod(*containers: dict, init: tuple[dict, ...] = ()) -> dict:
    spec: dict = {"containers": list(containers)}
    if init:
        spec["initContainers"] = list(init)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "namespace": "ns"}, "spec": spec}


DEFAULTS = {"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}


def test_defaults_fill_what_a_container_leaves_out_and_the_annotation_says_so():
    p = pod(container())
    assert default_pod_resources(limit_range(DEFAULTS), p)
    assert p["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}}
    assert p["metadata"]["annotations"] == {LIMIT_RANGER_ANNOTATION: (
        "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app")}


def test_only_missing_names_are_defaulted_and_named_init_containers_included():
    p = pod(container("app", requests={"cpu": "200m"}, limits={"cpu": "1", "memory": "1Gi"}), container("side"),
            init=(container("setup", requests={"cpu": "1", "memory": "1Gi"}),))
    default_pod_resources(limit_range(DEFAULTS), p)
    app, side = p["spec"]["containers"]
    assert app["resources"] == {"requests": {"cpu": "200m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    assert side["resources"]["limits"] == {"cpu": "500m", "memory": "256Mi"}
    assert p["metadata"]["annotations"][LIMIT_RANGER_ANNOTATION] == (
        "LimitRanger plugin set: memory request for container app; cpu, memory request for container side; "
        "cpu, memory limit for container side; cpu, memory limit for init container setup")


def test_max_alone_defaults_limit_and_request_to_it_and_nothing_set_leaves_no_annotation():
    p = pod(container())
    default_pod_resources(limit_range({"type": "Container", "max": {"cpu": "1"}}), p)
    assert p["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}
    complete = pod(container(requests={"cpu": "1"}, limits={"cpu": "1"}))
    assert not default_pod_resources(limit_range({"type": "Container", "max": {"cpu": "1"}}), complete)
    assert "annotations" not in complete["metadata"]


@pytest.mark.parametrize("item, c, message", [
    ({"max": {"cpu": "1"}}, container(requests={"cpu": "2"}, limits={"cpu": "2"}),
     "maximum cpu usage per Container is 1, but limit is 2"),
    ({"max": {"cpu": "1"}}, container(requests={"cpu": "500m"}),
     "maximum cpu usage per Container is 1.  No limit is specified"),
    ({"min": {"memory": "100Mi"}}, container(requests={"memory": "50Mi"}),
     "minimum memory usage per Container is 100Mi, but request is 50Mi"),
    ({"min": {"memory": "100Mi"}}, container(),
     "minimum memory usage per Container is 100Mi.  No request is specified"),
    ({"min": {"cpu": "100m"}}, container(requests={"cpu": "200m"}, limits={"cpu": "50m"}),
     "minimum cpu usage per Container is 100m, but limit is 50m"),
    ({"maxLimitRequestRatio": {"cpu": "2"}}, container(requests={"cpu": "250m"}, limits={"cpu": "1"}),
     "cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000"),
    ({"maxLimitRequestRatio": {"memory": "1500m"}}, container(requests={"memory": "1Gi"}),
     "memory max limit to request ratio per Container is 1500m, but no limit is specified or limit is 0"),
    ({"maxLimitRequestRatio": {"cpu": "2"}}, container(limits={"cpu": "1"}),
     "cpu max limit to request ratio per Container is 2, but no request is specified or request is 0"),
])
def test_container_bounds_refuse_in_upstream_words(item, c, message):
    lr = {"spec": {"limits": [{"type": "Container", **item}]}}
    assert pod_violations(lr, pod(c)) == [message]


def test_bounds_compare_exact_values_in_thousandths():
    lr = {"spec": {"limits": [{"type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "0.1"},
                               "maxLimitRequestRatio": {"cpu": "1"}}]}}
    assert pod_violations(lr, pod(container(requests={"cpu": "0.1"}, limits={"cpu": "100m"}))) == []
    # a ratio just over 1 is still over: 1001m / 1 is compared in thousandths
    assert ratio_violation("Container", "cpu", Quantity.parse("1"), {"cpu": Quantity.parse("1")},
                           {"cpu": Quantity.parse("1001m")}) == (
        "cpu max limit to request ratio per Container is 1, but provided ratio is 1.001000")


def test_pod_bounds_judge_the_containers_together_and_init_containers_apart():
    lr = {"spec": {"limits": [{"type": "Pod", "max": {"memory": "1Gi"}, "min": {"cpu": "1"}}]}}
    p = pod(container("a", requests={"cpu": "300m", "memory": "512Mi"}, limits={"memory": "768Mi"}),
            container("b", requests={"cpu": "300m", "memory": "512Mi"}, limits={"memory": "768Mi"}),
            init=(container("init", requests={"cpu": "2"}, limits={"memory": "256Mi"}),))
    assert pod_violations(lr, p) == ["maximum memory usage per Pod is 1Gi, but limit is 1536Mi"]
    del p["spec"]["initContainers"]
    assert pod_violations(lr, p) == ["minimum cpu usage per Pod is 1, but request is 600m",
                                     "maximum memory usage per Pod is 1Gi, but limit is 1536Mi"]


def test_claims_are_held_to_their_storage_request():
    lr = {"spec": {"limits": [{"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"},
                               "max": {"storage": "10Gi"}}]}}

    def claim(size: str | None) -> dict:
        return {"spec": {"resources": {"requests": {"storage": size} if size else {}}}}

    assert claim_violations(lr, claim("500Mi")) == [
        "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"]
    assert claim_violations(lr, claim("20Gi")) == [
        "maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"]
    assert claim_violations(lr, claim(None)) == [
        "minimum storage usage per PersistentVolumeClaim is 1Gi.  No request is specified",
        "maximum storage usage per PersistentVolumeClaim is 10Gi.  No request is specified"]
    assert claim_violations(lr, claim("5Gi")) == []


def test_several_violations_aggregate_as_upstream():
    assert aggregate(["a"]) == "a"
    assert aggregate(["a", "b", "a"]) == "[a, b]"


# -- through the API server's create path ---------------------------------------------------------


@pytest.fixture
async def server(tmp_path: Path):
    async for prepared in registries_with_namespace(tmp_path):
        yield prepared


async def test_created_pod_is_defaulted_with_the_qos_class_of_its_defaults(server):
    registries, ctx = server
    await registries.core("limitranges").create(ctx, limit_range(DEFAULTS))
    created = await registries.core("pods").create(ctx, pod(container()))
    assert created["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "500m", "memory": "256Mi"}
    assert created["metadata"]["annotations"][LIMIT_RANGER_ANNOTATION].startswith("LimitRanger plugin set: ")
    assert created["status"]["qosClass"] == "Burstable"


async def test_created_pod_over_the_max_is_forbidden(server):
    registries, ctx = server
    await registries.core("limitranges").create(ctx, limit_range({"type": "Container", "max": {"cpu": "1"}}))
    with pytest.raises(StatusError) as refused:
        await registries.core("pods").create(ctx, pod(container(limits={"cpu": "2"})))
    assert refused.value.code == 403
    assert refused.value.status()["reason"] == "Forbidden"
    assert refused.value.message == 'pods "x" is forbidden: maximum cpu usage per Container is 1, but limit is 2'


async def test_pod_updates_and_claim_status_writes_are_not_judged(server):
    registries, ctx = server
    plugin = LimitRanger(registries.store)
    await registries.core("limitranges").create(ctx, limit_range(
        {"type": "Container", "max": {"cpu": "1"}},
        {"type": "PersistentVolumeClaim", "max": {"storage": "1Gi"}}))
    pods, claims = registries.core("pods").resource, registries.core("persistentvolumeclaims").resource
    big = pod(container(limits={"cpu": "2"}))
    await plugin.validate(Operation.UPDATE, pods, big, big, ctx)
    claim = {"metadata": {"name": "c"}, "spec": {"resources": {"requests": {"storage": "5Gi"}}}}
    await plugin.validate(Operation.UPDATE, claims, {**claim, "status": {"phase": "Bound"}}, claim, ctx)
    with pytest.raises(StatusError, match="maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 5Gi"):
        await plugin.validate(Operation.UPDATE, claims, claim, {**claim, "spec": {}}, ctx)
