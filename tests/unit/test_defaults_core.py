"""core/v1 defaults match what `kubectl get -o yaml` shows after a create on a 1.32 server."""

from kinn.api.defaults.core import DEFAULTERS, default_pod_template_spec


def test_pod_defaults() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}],
         "readinessProbe": {"httpGet": {"port": 80}}, "resources": {"limits": {"cpu": "0.5"}}},
        {"name": "b", "image": "nginx:1.27"},
        {"name": "c", "image": "registry.local:5000/app@sha256:abc"},
    ], "volumes": [{"name": "v"}, {"name": "s", "secret": {"secretName": "x"}}]}}  # fmt: skip
    DEFAULTERS["Pod"](pod)
    spec = pod["spec"]
    a, b, c = spec["containers"]
    assert {k: spec[k] for k in ("restartPolicy", "terminationGracePeriodSeconds", "dnsPolicy", "schedulerName",
                                 "securityContext", "enableServiceLinks", "priority", "preemptionPolicy")} == {
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler", "securityContext": {}, "enableServiceLinks": True,
        "priority": 0, "preemptionPolicy": "PreemptLowerPriority",
    }  # fmt: skip
    assert [x["imagePullPolicy"] for x in (a, b, c)] == ["Always", "IfNotPresent", "IfNotPresent"]
    assert a["terminationMessagePath"] == "/dev/termination-log" and a["terminationMessagePolicy"] == "File"
    assert a["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert a["readinessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3,
    }  # fmt: skip
    assert a["resources"] == {"limits": {"cpu": "500m"}, "requests": {"cpu": "500m"}}
    assert b["resources"] == {}
    assert spec["volumes"] == [{"name": "v", "emptyDir": {}}, {"name": "s", "secret": {"secretName": "x", "defaultMode": 420}}]
    assert "tolerations" not in spec  # added by admission, not defaulting
    assert pod["status"] == {"phase": "Pending", "qosClass": "Burstable"}


def test_template_defaults_skip_pod_only_fields() -> None:
    template = {"spec": {"containers": [{"name": "a", "image": "x", "resources": {"limits": {"cpu": "1"}}}]}}
    default_pod_template_spec(template)
    assert "enableServiceLinks" not in template["spec"] and "priority" not in template["spec"]
    assert "requests" not in template["spec"]["containers"][0]["resources"]


def test_service_defaults() -> None:
    svc = {"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 81, "targetPort": "http"}]}}
    DEFAULTERS["Service"](svc)
    assert svc["spec"] == {
        "type": "NodePort",
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}, {"port": 81, "targetPort": "http", "protocol": "TCP"}],
        "sessionAffinity": "None",
        "externalTrafficPolicy": "Cluster",
        "internalTrafficPolicy": "Cluster",
    }
    cluster_ip = {"spec": {"ports": [{"port": 80}]}}
    DEFAULTERS["Service"](cluster_ip)
    assert cluster_ip["spec"]["type"] == "ClusterIP" and "externalTrafficPolicy" not in cluster_ip["spec"]


def test_rc_defaults_from_template() -> None:
    rc = {"metadata": {"name": "r"}, "spec": {"template": {"metadata": {"labels": {"app": "w"}},
                                                          "spec": {"containers": [{"name": "a", "image": "x"}]}}}}  # fmt: skip
    DEFAULTERS["ReplicationController"](rc)
    assert rc["spec"]["replicas"] == 1 and rc["spec"]["selector"] == {"app": "w"}
    assert rc["metadata"]["labels"] == {"app": "w"}
    assert rc["spec"]["template"]["spec"]["restartPolicy"] == "Always"


def test_namespace_secret_and_volumes() -> None:
    ns = {"metadata": {"name": "dev"}}
    DEFAULTERS["Namespace"](ns)
    assert ns == {"metadata": {"name": "dev", "labels": {"kubernetes.io/metadata.name": "dev"}},
                  "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}  # fmt: skip
    secret = {"stringData": {"user": "admin"}}
    DEFAULTERS["Secret"](secret)
    assert secret == {"type": "Opaque", "data": {"user": "YWRtaW4="}}
    pv = {"spec": {"capacity": {"storage": "1.5Gi"}, "hostPath": {"path": "/x"}}}
    DEFAULTERS["PersistentVolume"](pv)
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain" and pv["spec"]["volumeMode"] == "Filesystem"
    assert pv["spec"]["capacity"] == {"storage": "1536Mi"} and pv["status"] == {"phase": "Pending"}
    pvc = {"spec": {}}
    DEFAULTERS["PersistentVolumeClaim"](pvc)
    assert pvc["spec"]["volumeMode"] == "Filesystem" and pvc["status"] == {"phase": "Pending"}


def test_limit_range_defaults() -> None:
    lr = {"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]}}
    DEFAULTERS["LimitRange"](lr)
    item = lr["spec"]["limits"][0]
    assert item["default"] == {"cpu": "2"}
    assert item["defaultRequest"] == {"memory": "64Mi", "cpu": "2"}
