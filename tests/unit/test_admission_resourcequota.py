"""ResourceQuota admission: which quotas concern an object (resources, scopes), upstream's refusals
(`must specify`, `status unknown`, `exceeded quota`), and the charge written to status.used before
the object is stored, once even when creates race."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kinn.api.errors import StatusError
from kinn.api.resources import TABLE
from kinn.apiserver.admission import Operation
from kinn.apiserver.admission.quotaevaluator import Evaluator
from kinn.apiserver.admission.resourcequota import QuotaRefusal, ResourceQuota, check_request
from kinn.apiserver.registry import Registries
from kinn.apiserver.registry.generic import RequestContext
from admission_util import registries_with_namespace

PODS = Evaluator("pods", "")


def quota(hard: dict, used: dict | None = None, name: str = "q", scopes: list | None = None,
          selector: list | None = None) -> dict:
    """A quota whose status the controller has written (used defaults to zero of everything)."""
    spec: dict = {"hard": hard}
    if scopes:
        spec["scopes"] = scopes
    if selector:
        spec["scopeSelector"] = {"matchExpressions": selector}
    used = {name: "0" for name in hard} if used is None else used
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": spec, "status": {"hard": hard, "used": used}}


def pod(name: str = "x", containers: dict | None = None, **spec: object) -> dict:
    """A pod whose containers are {name: (requests, limits)}."""
    containers = containers if containers is not None else {"app": ({"cpu": "100m", "memory": "64Mi"},
                                                                    {"cpu": "100m", "memory": "64Mi"})}
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": {**spec, "containers": [
        {"name": c, "image": "nginx", "resources": {"requests": r, "limits": lim}}
        for c, (r, lim) in containers.items()]}}


BEST_EFFORT = {"app": ({}, {})}


def refusal(quotas: list[dict], obj: dict, evaluator: Evaluator = PODS) -> str:
    with pytest.raises(QuotaRefusal) as refused:
        check_request(quotas, evaluator, Operation.CREATE, obj, None)
    return str(refused.value)


def test_admitted_pod_adds_its_usage_to_what_the_quota_has_used():
    hard = {"pods": "5", "requests.cpu": "2", "limits.memory": "1Gi", "configmaps": "3"}
    charged = check_request([quota(hard, {"pods": "1", "requests.cpu": "500m", "limits.memory": "0",
                                          "configmaps": "1"})], PODS, Operation.CREATE, pod(), None)
    # Quantity.Add: 0 + 64Mi keeps the binary notation; only what the pod uses changes
    assert charged == {"q": {"pods": "2", "requests.cpu": "600m", "limits.memory": "64Mi", "configmaps": "1"}}


def test_exceeded_quota_names_every_exceeded_resource_sorted():
    hard = {"pods": "2", "requests.cpu": "1", "requests.memory": "1Gi"}
    message = refusal([quota(hard, {"pods": "2", "requests.cpu": "1", "requests.memory": "0"}, name="compute")],
                      pod(containers={"app": ({"cpu": "2", "memory": "64Mi"}, {})}))
    assert message == ("exceeded quota: compute, requested: pods=1,requests.cpu=2, used: pods=2,requests.cpu=1, "
                       "limited: pods=2,requests.cpu=1")


def test_tracked_cpu_and_memory_must_be_named_by_every_container():
    hard = {"limits.cpu": "4", "limits.memory": "4Gi", "requests.memory": "4Gi", "pods": "10"}
    obj = pod(containers={"app": ({"memory": "64Mi"}, {}), "side": ({}, {"cpu": "1"}), "ok": (
        {"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})})
    assert refusal([quota(hard, name="mem")], obj) == (
        "failed quota: mem: must specify limits.cpu for: app; limits.memory for: app,side; requests.memory for: side")


def test_a_quota_without_published_status_is_not_enforced_and_a_partial_one_is_unknown():
    unpublished = {"metadata": {"name": "new"}, "spec": {"hard": {"pods": "0"}}}
    assert check_request([unpublished], PODS, Operation.CREATE, pod(), None) == {}
    partial = quota({"pods": "1", "requests.cpu": "1"}, {"pods": "0"}, name="half")
    assert refusal([partial], pod()) == "status unknown for quota: half, resources: pods,requests.cpu"


@pytest.mark.parametrize("scopes, obj, concerned", [
    (["BestEffort"], pod(containers=BEST_EFFORT), True),
    (["BestEffort"], pod(), False),
    (["NotBestEffort"], pod(), True),
    (["NotBestEffort"], pod(containers=BEST_EFFORT), False),
    (["Terminating"], pod(activeDeadlineSeconds=60), True),
    (["Terminating"], pod(), False),
    (["NotTerminating"], pod(activeDeadlineSeconds=60), False),
    (["Terminating", "BestEffort"], pod(containers=BEST_EFFORT, activeDeadlineSeconds=60), True),
    (["Terminating", "BestEffort"], pod(containers=BEST_EFFORT), False),
    (["CrossNamespacePodAffinity"], pod(affinity={"podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 1, "podAffinityTerm": {"topologyKey": "k", "namespaceSelector": {}}}]}}), True),
    (["CrossNamespacePodAffinity"], pod(affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "k", "labelSelector": {}}]}}), False),
])
def test_scopes_decide_which_pods_a_quota_counts(scopes, obj, concerned):
    charged = check_request([quota({"pods": "10"}, scopes=scopes)], PODS, Operation.CREATE, obj, None)
    assert bool(charged) is concerned


@pytest.mark.parametrize("operator, values, class_name, concerned", [
    ("In", ["high"], "high", True),
    ("In", ["high"], "low", False),
    ("NotIn", ["high"], None, True),
    ("Exists", [], "low", True),
    ("DoesNotExist", [], "low", False),
])
def test_priority_class_scope_selector(operator, values, class_name, concerned):
    selector = [{"scopeName": "PriorityClass", "operator": operator, "values": values}]
    obj = pod(priorityClassName=class_name) if class_name else pod()
    charged = check_request([quota({"pods": "10"}, selector=selector)], PODS, Operation.CREATE, obj, None)
    assert bool(charged) is concerned


def test_scoped_quotas_count_pods_only_and_only_pods_in_scope_must_name_compute():
    configmaps = Evaluator("configmaps", "")
    cm = {"metadata": {"name": "cm", "namespace": "ns"}, "data": {}}
    assert check_request([quota({"count/configmaps": "5"}, scopes=["BestEffort"])], configmaps,
                         Operation.CREATE, cm, None) == {}
    hard = {"count/configmaps": "1", "configmaps": "2"}
    assert refusal([quota(hard, {"count/configmaps": "1", "configmaps": "1"})], cm, configmaps) == (
        "exceeded quota: q, requested: count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1")
    # a NotBestEffort quota on cpu leaves BestEffort pods alone, and makes the others name cpu
    compute = quota({"pods": "1", "requests.cpu": "1"}, scopes=["NotBestEffort"])
    assert check_request([compute], PODS, Operation.CREATE, pod(containers=BEST_EFFORT), None) == {}
    assert refusal([compute], pod(containers={"app": ({"memory": "1Gi"}, {})})) == (
        "failed quota: q: must specify requests.cpu for: app")


def test_services_are_charged_on_update_for_what_they_add():
    services = Evaluator("services", "")

    def service(type_: str, node_ports: int) -> dict:
        return {"metadata": {"name": "s"}, "spec": {"type": type_, "ports": [
            {"port": 80 + i, "nodePort": 30000 + i} for i in range(node_ports)]}}

    hard = {"services": "5", "services.nodeports": "2", "services.loadbalancers": "1"}
    used = {"services": "1", "services.nodeports": "1", "services.loadbalancers": "0"}
    charged = check_request([quota(hard, used)], services, Operation.UPDATE, service("LoadBalancer", 1),
                            service("NodePort", 1))
    assert charged == {"q": {**used, "services.loadbalancers": "1"}}
    with pytest.raises(QuotaRefusal, match="requested: services.nodeports=2, used: services.nodeports=1, limited"):
        check_request([quota(hard, used)], services, Operation.UPDATE, service("NodePort", 3), service("NodePort", 1))
    assert not services.handles(Operation.DELETE) and not PODS.handles(Operation.UPDATE)


def test_claims_charge_their_storage():
    claims = Evaluator("persistentvolumeclaims", "")
    claim = {"metadata": {"name": "c"}, "spec": {"storageClassName": "fast",
                                                   "resources": {"requests": {"storage": "5Gi"}}}}
    hard = {"requests.storage": "10Gi", "fast.storageclass.storage.k8s.io/requests.storage": "4Gi"}
    assert refusal([quota(hard)], claim, claims) == (
        "exceeded quota: q, requested: fast.storageclass.storage.k8s.io/requests.storage=5Gi, "
        "used: fast.storageclass.storage.k8s.io/requests.storage=0, "
        "limited: fast.storageclass.storage.k8s.io/requests.storage=4Gi")


# -- the plugin against a store -------------------------------------------------------------------


@pytest.fixture
async def server(tmp_path: Path):
    async for prepared in registries_with_namespace(tmp_path):
        yield prepared


async def publish(registries: Registries, ctx: RequestContext, q: dict) -> None:
    """Create the quota, then write its status as the resourcequota controller would."""
    quotas = registries.core("resourcequotas")
    created = await quotas.create(ctx, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {
        "name": q["metadata"]["name"]}, "spec": q["spec"]})
    await quotas.update(ctx, created["metadata"]["name"], {**created, "status": q["status"]}, "status")


async def used(registries: Registries, ctx: RequestContext, name: str = "q") -> dict:
    return (await registries.core("resourcequotas").get(ctx, name)).obj["status"]["used"]


async def test_created_pod_is_charged_before_it_is_stored_and_the_next_one_refused(server):
    registries, ctx = server
    await publish(registries, ctx, quota({"pods": "1", "requests.cpu": "1"}))
    await registries.core("pods").create(ctx, pod("a"))
    assert await used(registries, ctx) == {"pods": "1", "requests.cpu": "100m"}
    with pytest.raises(StatusError) as refused:
        await registries.core("pods").create(ctx, pod("b"))
    assert refused.value.code == 403
    assert refused.value.message == ('pods "b" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, '
                                     'limited: pods=1')


async def test_racing_creates_cannot_both_take_the_last_unit(server):
    registries, ctx = server
    await publish(registries, ctx, quota({"pods": "3"}, {"pods": "1"}))
    results = await asyncio.gather(*(registries.core("pods").create(ctx, pod(f"p{i}")) for i in range(5)),
                                   return_exceptions=True)
    refused = [r for r in results if isinstance(r, StatusError)]
    assert len(refused) == 3 and all(r.code == 403 for r in refused)
    assert await used(registries, ctx) == {"pods": "3"}


async def test_dry_runs_and_events_are_not_charged(server):
    registries, ctx = server
    await publish(registries, ctx, quota({"pods": "2", "count/events": "0"}))
    plugin = ResourceQuota(registries.store)
    pods = TABLE.lookup("", "v1", "pods")
    events = TABLE.lookup("", "v1", "events")
    await plugin.validate(Operation.CREATE, pods, pod(), None, RequestContext(namespace="ns", dry_run=True))
    await plugin.validate(Operation.CREATE, events, {"metadata": {"name": "e"}}, None, ctx)
    assert await used(registries, ctx) == {"pods": "0", "count/events": "0"}
