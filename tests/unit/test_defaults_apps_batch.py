"""Defaults as a 1.32 API server shows them in `kubectl get -o yaml`."""

from kinn.api.defaults.apps import default_daemon_set, default_deployment, default_stateful_set
from kinn.api.defaults.batch import default_cron_job, default_job, generate_job_selector
from kinn.api.defaults.networking import default_network_policy
from kinn.api.defaults.rbac import default_binding
from kinn.api.defaults.scheduling import default_priority_class
from kinn.api.defaults.storage import default_storage_class

TEMPLATE = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def _spec(kind_defaulter, spec=None):
    obj = {"metadata": {"name": "x"}, "spec": {"template": {**TEMPLATE}, **(spec or {})}}
    kind_defaulter(obj)
    return obj["spec"]


def test_deployment_defaults():
    spec = _spec(default_deployment)
    assert spec["replicas"] == 1
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["template"]["spec"]["restartPolicy"] == "Always"


def test_recreate_strategy_gets_no_rolling_update():
    assert _spec(default_deployment, {"strategy": {"type": "Recreate"}})["strategy"] == {"type": "Recreate"}


def test_daemon_set_defaults():
    spec = _spec(default_daemon_set)
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert spec["revisionHistoryLimit"] == 10


def test_stateful_set_defaults():
    spec = _spec(default_stateful_set, {"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}]})
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert (spec["replicas"], spec["revisionHistoryLimit"]) == (1, 10)
    claim = spec["volumeClaimTemplates"][0]
    assert claim["apiVersion"] == "v1" and claim["kind"] == "PersistentVolumeClaim"
    assert claim["spec"]["volumeMode"] == "Filesystem" and claim["status"] == {"phase": "Pending"}


def test_job_defaults_and_generated_selector():
    job = {"metadata": {"name": "pi"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "perl"}]}}}}
    default_job(job)
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert "manualSelector" not in spec
    generate_job_selector(job, "abc")
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}}
    expected = {"batch.kubernetes.io/controller-uid": "abc", "batch.kubernetes.io/job-name": "pi",
                "controller-uid": "abc", "job-name": "pi"}
    assert spec["template"]["metadata"]["labels"] == expected
    assert job["metadata"]["labels"] == expected


def test_parallel_job_keeps_completions_unset():
    job = {"spec": {"parallelism": 3, "template": {"spec": {"containers": []}}}}
    default_job(job)
    assert "completions" not in job["spec"]


def test_manual_selector_is_left_alone():
    job = {"metadata": {"name": "pi"}, "spec": {"manualSelector": True, "selector": {"matchLabels": {"a": "b"}}}}
    generate_job_selector(job, "abc")
    assert job["spec"]["selector"] == {"matchLabels": {"a": "b"}} and "template" not in job["spec"]


def test_cron_job_defaults():
    cron = {"spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}}}
    default_cron_job(cron)
    spec = cron["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"]) == ("Allow", False)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    assert "backoffLimit" not in spec["jobTemplate"]["spec"]


def test_other_group_defaults():
    policy = {"spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}}
    default_network_policy(policy)
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["egress"][0]["ports"][0]["protocol"] == "TCP"
    binding = {"roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "User", "name": "u"},
                                                                     {"kind": "ServiceAccount", "name": "s"}]}
    default_binding(binding)
    assert binding["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert binding["subjects"] == [{"kind": "User", "name": "u", "apiGroup": "rbac.authorization.k8s.io"},
                                   {"kind": "ServiceAccount", "name": "s"}]
    pc, sc = {"value": 1}, {"provisioner": "p"}
    default_priority_class(pc)
    default_storage_class(sc)
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
