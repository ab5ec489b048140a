"""Server-side Tables: upstream columns and exact cells for the kinds kubectl users look at most."""

import time
from datetime import datetime, timezone

import pytest

from kinn.api.errors import StatusError
from kinn.api.printers import to_table
from kinn.api.printers.format import human_duration
from kinn.api.resources import TABLE

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
CREATED = "2024-06-01T11:00:00Z"  # one hour before NOW


def resource(group, plural):
    return TABLE.lookup(group, "v1", plural)


def cells(group, plural, obj):
    return to_table(resource(group, plural), [obj], now=NOW)["rows"][0]["cells"]


def meta(name="x", **extra):
    return {"name": name, "namespace": "default", "creationTimestamp": CREATED, **extra}


@pytest.mark.parametrize("seconds,text", [
    (-5, "<invalid>"), (-1.5, "0s"), (0, "0s"), (5, "5s"), (119, "119s"), (120, "2m"), (200, "3m20s"),
    (599, "9m59s"), (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"), (5 * 3600 + 180, "5h3m"),
    (8 * 3600 + 59, "8h"), (47 * 3600, "47h"), (53 * 3600, "2d5h"), (7 * 86400, "7d"), (8 * 86400, "8d"),
    (729 * 86400, "729d"), (730 * 86400, "2y"), (800 * 86400, "2y70d"), (3000 * 86400, "8y"),
])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


# --- pods ---


def pod(status, spec=None, **metadata):
    return {"metadata": meta("web", **metadata),
            "spec": spec or {"containers": [{"name": "app", "image": "nginx"}]},
            "status": status}


def running(ready=True, restarts=0, **extra):
    return {"name": "app", "ready": ready, "restartCount": restarts, "state": {"running": {}}, **extra}


def waiting(reason, **extra):
    return {"name": "app", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": reason}}, **extra}


def terminated(exit_code, reason=None, name="app"):
    state = {"exitCode": exit_code, **({"reason": reason} if reason else {})}
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": state}}


def pod_status_cell(p):
    return cells("", "pods", p)[2]


def test_pod_columns_and_running_row():
    table = to_table(resource("", "pods"), [pod({
        "phase": "Running", "podIP": "10.244.1.5", "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [running(restarts=3, lastState={"terminated": {"finishedAt": "2024-06-01T11:55:00Z"}})],
    }, spec={"nodeName": "worker-1", "containers": [{"name": "app"}]})], now=NOW, list_meta={"resourceVersion": "42"})
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"]
    assert [c["priority"] for c in table["columnDefinitions"]] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert table["columnDefinitions"][0] == {
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": table["columnDefinitions"][0]["description"]}
    assert table["columnDefinitions"][0]["description"].startswith("Name must be unique within a namespace.")
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42"}
    row = table["rows"][0]
    assert row["cells"] == ["web", "1/1", "Running", "3 (5m ago)", "60m", "10.244.1.5", "worker-1", "<none>", "<none>"]
    assert row["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": meta("web")}
    assert "conditions" not in row


@pytest.mark.parametrize("status,expected", [
    ({"phase": "Pending"}, "Pending"),
    ({"phase": "Pending", "containerStatuses": [waiting("ContainerCreating")]}, "ContainerCreating"),
    ({"phase": "Running", "containerStatuses": [waiting("CrashLoopBackOff")]}, "CrashLoopBackOff"),
    ({"phase": "Failed", "containerStatuses": [terminated(1, "Error")]}, "Error"),
    ({"phase": "Succeeded", "containerStatuses": [terminated(0, "Completed")]}, "Completed"),
    ({"phase": "Failed", "containerStatuses": [terminated(137)]}, "ExitCode:137"),
    ({"phase": "Failed", "reason": "Evicted"}, "Evicted"),
    ({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]},
     "SchedulingGated"),
    ({"phase": "Running", "reason": "NodeLost"}, "NodeLost"),
])
def test_pod_status_column(status, expected):
    assert pod_status_cell(pod(status)) == expected


def test_pod_deletion_statuses():
    deleting = {"deletionTimestamp": "2024-06-01T11:59:00Z"}
    assert pod_status_cell(pod({"phase": "Running", "containerStatuses": [running()]}, **deleting)) == "Terminating"
    assert pod_status_cell(pod({"phase": "Running", "reason": "NodeLost"}, **deleting)) == "Unknown"
    assert pod_status_cell(pod({"phase": "Succeeded"}, **deleting)) == "Succeeded"


def test_pod_init_containers():
    spec = {"initContainers": [{"name": "init-a"}, {"name": "init-b"}], "containers": [{"name": "app"}]}
    done = terminated(0, "Completed", "init-a")
    pending = {"name": "init-b", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}
    assert pod_status_cell(pod({"phase": "Pending", "initContainerStatuses": [done, pending]}, spec)) == "Init:1/2"
    crash = {"name": "init-b", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
    row = cells("", "pods", pod({"phase": "Pending", "initContainerStatuses": [done, crash]}, spec))
    assert row[1:4] == ["0/1", "Init:CrashLoopBackOff", "4"]
    failed = terminated(2, name="init-a")
    assert pod_status_cell(pod({"phase": "Pending", "initContainerStatuses": [failed]}, spec)) == "Init:ExitCode:2"


def test_pod_sidecar_counts_towards_ready():
    spec = {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}]}
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
              "initContainerStatuses": [{"name": "proxy", "started": True, "ready": True, "restartCount": 1,
                                         "state": {"running": {}}}],
              "containerStatuses": [running()]}
    assert cells("", "pods", pod(status, spec))[1:4] == ["2/2", "Running", "1"]


def test_completed_container_beside_running_one():
    spec = {"containers": [{"name": "app"}, {"name": "job"}]}
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
              "containerStatuses": [running(), terminated(0, "Completed", "job")]}
    assert pod_status_cell(pod(status, spec)) == "NotReady"


def test_finished_pods_carry_row_conditions_and_wide_cells():
    p = pod({"phase": "Succeeded", "nominatedNodeName": "n2", "conditions": [{"type": "gate", "status": "True"}]},
            {"containers": [{"name": "app"}], "readinessGates": [{"conditionType": "gate"}, {"conditionType": "x"}]})
    row = to_table(resource("", "pods"), [p], now=NOW)["rows"][0]
    assert row["conditions"] == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                  "message": "The pod has completed successfully."}]
    assert row["cells"][5:] == ["<none>", "<none>", "n2", "1/2"]


# --- services, deployments, nodes, events ---


@pytest.mark.parametrize("spec,status,expected", [
    ({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
      "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}], "selector": {"k8s-app": "dns"}},
     {}, ["ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP", "60m", "k8s-app=dns"]),
    ({"type": "NodePort", "clusterIPs": ["10.96.4.4"], "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]},
     {}, ["NodePort", "10.96.4.4", "<none>", "80:30080/TCP", "60m", "<none>"]),
    ({"type": "LoadBalancer", "clusterIPs": ["10.96.4.5"], "ports": [{"port": 80, "nodePort": 31000}]},
     {}, ["LoadBalancer", "10.96.4.5", "<pending>", "80:31000/TCP", "60m", "<none>"]),
    ({"type": "LoadBalancer", "clusterIPs": ["10.96.4.5"], "externalIPs": ["1.2.3.4"]},
     {"loadBalancer": {"ingress": [{"ip": "10.240.0.200"}]}},
     ["LoadBalancer", "10.96.4.5", "10.240.0.200,1.2.3.4", "<none>", "60m", "<none>"]),
    ({"type": "ExternalName", "externalName": "example.com"}, {},
     ["ExternalName", "<none>", "example.com", "<none>", "60m", "<none>"]),
])
def test_service_rows(spec, status, expected):
    assert cells("", "services", {"metadata": meta("svc"), "spec": spec, "status": status}) == ["svc", *expected]


def test_deployment_row():
    deploy = {"metadata": meta("web"),
              "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"},
                                                            {"name": "log", "image": "busybox"}]}}},
              "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    table = to_table(resource("apps", "deployments"), [deploy], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"]
    assert table["rows"][0]["cells"] == ["web", "2/3", 3, 2, "60m", "nginx,log", "nginx:1.27,busybox", "app=web"]


def test_node_row():
    node = {"metadata": {"name": "worker-1", "creationTimestamp": "2024-05-30T07:00:00Z",
                         "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "infra"}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "10.240.0.21"},
                                     {"type": "Hostname", "address": "worker-1"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0-kinn", "osImage": "Debian GNU/Linux 12",
                                    "kernelVersion": "6.1.0", "containerRuntimeVersion": "kinn://0.1.0"}}}
    assert cells("", "nodes", node) == [
        "worker-1", "Ready,SchedulingDisabled", "control-plane,infra", "2d5h", "v1.32.0-kinn", "10.240.0.21",
        "<none>", "Debian GNU/Linux 12", "6.1.0", "kinn://0.1.0"]
    assert cells("", "nodes", {"metadata": {"name": "n"}})[1:4] == ["Unknown", "<none>", "<unknown>"]


def test_event_rows_core_and_events_v1():
    event = {"metadata": meta("web.17a"), "type": "Warning", "reason": "BackOff",
             "message": "Back-off restarting failed container\n", "count": 7,
             "firstTimestamp": "2024-06-01T11:00:00Z", "lastTimestamp": "2024-06-01T11:59:55Z",
             "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
             "source": {"component": "kubelet", "host": "worker-1"}}
    expected = ["5s", "Warning", "BackOff", "pod/web", "spec.containers{app}", "kubelet, worker-1",
                "Back-off restarting failed container", "60m", 7, "web.17a"]
    assert cells("", "events", event) == expected
    v1 = {"metadata": meta("web.17a"), "type": "Warning", "reason": "BackOff",
          "note": "Back-off restarting failed container", "eventTime": "2024-06-01T11:00:00.000000Z",
          "series": {"count": 7, "lastObservedTime": "2024-06-01T11:59:55.000000Z"},
          "regarding": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
          "reportingController": "kubelet", "reportingInstance": "worker-1"}
    table = to_table(TABLE.lookup("events.k8s.io", "v1", "events"), [v1], now=NOW)
    assert table["rows"][0]["cells"] == expected
    assert [c["name"] for c in table["columnDefinitions"]][:4] == ["Last Seen", "Type", "Reason", "Object"]


# --- other kinds ---


def test_job_and_cronjob_rows():
    job = {"metadata": meta("pi"), "spec": {"completions": 1, "parallelism": 1, "template": {"spec": {
        "containers": [{"name": "pi", "image": "perl"}]}}, "selector": {"matchLabels": {"job-name": "pi"}}},
           "status": {"succeeded": 1, "startTime": "2024-06-01T11:00:00Z", "completionTime": "2024-06-01T11:00:42Z",
                      "conditions": [{"type": "Complete", "status": "True"}]}}
    assert cells("batch", "jobs", job) == ["pi", "Complete", "1/1", "42s", "60m", "pi", "perl", "job-name=pi"]
    cron = {"metadata": meta("tick"), "spec": {"schedule": "*/5 * * * *", "suspend": False},
            "status": {"active": [{"name": "tick-1"}], "lastScheduleTime": "2024-06-01T11:55:00Z"}}
    assert cells("batch", "cronjobs", cron)[:7] == ["tick", "*/5 * * * *", "<none>", "False", 1, "5m", "60m"]


def test_endpoints_and_slices():
    ep = {"metadata": meta("web"), "subsets": [{"addresses": [{"ip": f"10.244.1.{i}"} for i in range(1, 5)],
                                                "ports": [{"port": 80}]}]}
    assert cells("", "endpoints", ep)[1] == "10.244.1.1:80,10.244.1.2:80,10.244.1.3:80 + 1 more..."
    eps = {"metadata": meta("web-abc"), "addressType": "IPv4", "ports": [{"port": 80}, {"name": "dns"}],
           "endpoints": [{"addresses": ["10.244.1.1"]}, {"addresses": ["10.244.2.1"]}]}
    assert cells("discovery.k8s.io", "endpointslices", eps) == ["web-abc", "IPv4", "80,dns", "10.244.1.1,10.244.2.1",
                                                                "60m"]


def test_small_kinds():
    assert cells("", "configmaps", {"metadata": meta("c"), "data": {"a": "1"}, "binaryData": {"b": ""}})[1] == 2
    assert cells("", "secrets", {"metadata": meta("s"), "type": "Opaque", "data": {"a": "MQ=="}}) == [
        "s", "Opaque", 1, "60m"]
    assert cells("", "namespaces", {"metadata": meta("kube-system"), "status": {"phase": "Active"}}) == [
        "kube-system", "Active", "60m"]
    sc = {"metadata": meta("local", annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
          "provisioner": "kinn.io/local"}
    assert cells("storage.k8s.io", "storageclasses", sc) == [
        "local (default)", "kinn.io/local", "Delete", "Immediate", False, "60m"]
    rb = {"metadata": meta("rb"), "roleRef": {"kind": "ClusterRole", "name": "view"},
          "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]}
    assert cells("rbac.authorization.k8s.io", "rolebindings", rb) == ["rb", "ClusterRole/view", "60m", "alice", "",
                                                                      "ns/sa"]


def test_default_table_for_kinds_without_printer():
    table = to_table(resource("rbac.authorization.k8s.io", "clusterroles"),
                     [{"metadata": {"name": "admin", "creationTimestamp": "2024-06-01T11:00:00Z",
                                    "resourceVersion": "7"}}], now=NOW)
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [("Name", "string"), ("Created At", "date")]
    assert table["rows"][0]["cells"] == ["admin", "2024-06-01T11:00:00Z"]
    assert table["metadata"] == {"resourceVersion": "7"}


def test_include_object():
    obj = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta("c")}
    cm = resource("", "configmaps")
    assert to_table(cm, [obj], include_object="Object")["rows"][0]["object"] is obj
    assert to_table(cm, [obj], include_object="None")["rows"][0]["object"] is None
    listed = to_table(cm, [], list_meta={"resourceVersion": "9", "continue": "", "remainingItemCount": 3})
    assert listed["metadata"] == {"resourceVersion": "9", "remainingItemCount": 3} and listed["rows"] == []
    with pytest.raises(StatusError, match='unrecognized includeObject value: "Bogus"'):
        to_table(cm, [obj], include_object="Bogus")


def test_every_served_kind_prints_matching_cells_and_columns():
    for r in TABLE.resources:
        table = to_table(r, [{"metadata": meta()}], now=NOW)
        assert len(table["rows"][0]["cells"]) == len(table["columnDefinitions"]), r.kind
        assert all(c["description"] for c in table["columnDefinitions"]), r.kind


def test_ten_thousand_pods_print_fast():
    template = pod({"phase": "Running", "podIP": "10.244.1.5", "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [running(restarts=1, lastState={"terminated": {
                        "finishedAt": "2024-06-01T11:30:00Z"}})]})
    pods = [{**template, "metadata": meta(f"web-{i}")} for i in range(10_000)]
    to_table(resource("", "pods"), pods[:1], now=NOW)  # column descriptions load once
    start = time.perf_counter()
    table = to_table(resource("", "pods"), pods, now=NOW)
    assert time.perf_counter() - start < 0.8
    assert table["rows"][-1]["cells"][:4] == ["web-9999", "1/1", "Running", "1 (30m ago)"]
