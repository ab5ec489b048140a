"""apps/v1 validation: upstream wording for the errors kubectl users meet most."""

from kinn.api.defaults.apps import default_daemon_set, default_deployment, default_stateful_set
from kinn.api.validation.apps import CREATE, STATUS_UPDATE, UPDATE


def _deployment(**spec):
    obj = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
            **spec,
        },
    }
    default_deployment(obj)
    return obj


def _messages(errs):
    return [str(e) for e in errs]


def test_valid_deployment_passes():
    assert CREATE["Deployment"](_deployment()) == []


def test_selector_must_match_template_labels_rendered_as_go_map():
    obj = _deployment(selector={"matchLabels": {"app": "other"}})
    assert _messages(CREATE["Deployment"](obj)) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`'
    ]


def test_missing_selector_reports_required_and_mismatch():
    obj = _deployment()
    del obj["spec"]["selector"]
    assert _messages(CREATE["Deployment"](obj)) == [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
    ]


def test_negative_replicas_and_restart_policy():
    obj = _deployment(replicas=-1)
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert _messages(CREATE["Deployment"](obj)) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
    ]


def test_rolling_update_both_zero_and_bad_percent():
    obj = _deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}})
    assert _messages(CREATE["Deployment"](obj)) == [
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"0%"}: '
        "may not be 0 when `maxSurge` is 0"
    ]
    obj = _deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "x", "maxUnavailable": "200%"}})
    assert _messages(CREATE["Deployment"](obj)) == [
        'spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"x"}: '
        "a valid percent string must be a numeric string followed by an ending '%' "
        "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"200%"}: '
        "must not be greater than 100%",
    ]


def test_recreate_with_rolling_update_forbidden():
    obj = _deployment(strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": 1}})
    assert _messages(CREATE["Deployment"](obj)) == [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
    ]


def test_selector_is_immutable_in_apps_v1():
    old = _deployment()
    old["metadata"]["resourceVersion"] = "1"
    new = _deployment(selector={"matchLabels": {"app": "web", "tier": "x"}})
    new["metadata"]["resourceVersion"] = "1"
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    assert _messages(UPDATE["Deployment"](new, old)) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"x"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
    ]


def test_deployment_status_counts():
    old = _deployment()
    new = _deployment()
    for o in (old, new):
        o["metadata"]["resourceVersion"] = "2"
    new["status"] = {"replicas": 1, "readyReplicas": 2, "availableReplicas": 1}
    assert _messages(STATUS_UPDATE["Deployment"](new, old)) == [
        "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"
    ]


def _stateful_set():
    obj = {
        "metadata": {"name": "db", "namespace": "default", "resourceVersion": "1"},
        "spec": {
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "pg"}]}},
        },
    }
    default_stateful_set(obj)
    return obj


def test_stateful_set_update_of_other_fields_forbidden():
    old, new = _stateful_set(), _stateful_set()
    new["spec"]["serviceName"] = "other"
    new["spec"]["replicas"] = 3
    assert _messages(UPDATE["StatefulSet"](new, old)) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
    ]


def test_stateful_set_valid_and_bad_policy():
    obj = _stateful_set()
    assert CREATE["StatefulSet"](obj) == []
    obj["spec"]["podManagementPolicy"] = "Random"
    assert _messages(CREATE["StatefulSet"](obj)) == [
        "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'"
    ]


def test_daemon_set_rolling_update_needs_one_nonzero():
    obj = {
        "metadata": {"name": "agent", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}},
        },
    }
    default_daemon_set(obj)
    assert _messages(CREATE["DaemonSet"](obj)) == [
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"
    ]


def test_controller_revision_requires_data():
    assert _messages(CREATE["ControllerRevision"]({"metadata": {"name": "r", "namespace": "d"}, "revision": 1})) == [
        "data: Required value: data is mandatory"
    ]
