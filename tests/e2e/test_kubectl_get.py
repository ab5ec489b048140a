"""Reading with the real kubectl: `get` in every output format, selectors, pagination, watch, `describe`,
`api-resources` and `explain`, each compared with what kubectl 1.32 prints against a real cluster."""

from __future__ import annotations

import ipaddress
import json

import pytest
import yaml

from kubectl_output import manifest, table, wait_until


@pytest.fixture(scope="module", autouse=True)
def objects(apiserver):
    for name in ("web.yaml", "web-svc.yaml", "web-pod.yaml"):
        apiserver.kubectl("create", "-f", manifest(name))


def service_ip(apiserver, name: str) -> str:
    return apiserver.kubectl("get", "svc", name, "-o", "jsonpath={.spec.clusterIP}").stdout


def test_get_prints_the_upstream_columns(apiserver):
    assert table(apiserver.kubectl("get", "deployments").stdout) == [
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        ["web", "0/2", "0", "0", "<age>"],
    ]
    assert table(apiserver.kubectl("get", "pods").stdout) == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ["web-0", "0/1", "Pending", "0", "<age>"],
    ]


def test_get_wide_adds_the_priority_columns(apiserver):
    assert table(apiserver.kubectl("get", "deploy", "-o", "wide").stdout) == [
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
        ["web", "0/2", "0", "0", "<age>", "nginx,sidecar", "nginx:1.25,busybox:1.36", "app=web"],
    ]
    assert table(apiserver.kubectl("get", "pods", "-o", "wide").stdout) == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
        ["web-0", "0/1", "Pending", "0", "<age>", "<none>", "worker-1", "<none>", "<none>"],
    ]
    ip = service_ip(apiserver, "web")
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12")
    assert table(apiserver.kubectl("get", "svc", "web", "-o", "wide").stdout) == [
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"],
        ["web", "ClusterIP", ip, "<none>", "80/TCP", "<age>", "app=web"],
    ]


def test_get_yaml_and_json_show_the_defaulted_object(apiserver):
    as_yaml = yaml.safe_load(apiserver.kubectl("get", "deploy", "web", "-o", "yaml").stdout)
    as_json = json.loads(apiserver.kubectl("get", "deploy", "web", "-o", "json").stdout)
    assert as_yaml == as_json
    assert (as_json["apiVersion"], as_json["kind"]) == ("apps/v1", "Deployment")
    assert "managedFields" not in as_json["metadata"]  # kubectl hides them unless --show-managed-fields
    assert as_json["metadata"]["generation"] == 1
    assert as_json["spec"]["strategy"] == {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    container = as_json["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert container["terminationMessagePath"] == "/dev/termination-log"


def test_get_name_and_jsonpath(apiserver):
    assert apiserver.kubectl("get", "deploy,svc", "-l", "app=web", "-o", "name").stdout == (
        "deployment.apps/web\nservice/web\n")
    images = apiserver.kubectl("get", "deploy", "web", "-o",
                               "jsonpath={range .spec.template.spec.containers[*]}{.name}={.image}{'\\n'}{end}")
    assert images.stdout == "nginx=nginx:1.25\nsidecar=busybox:1.36\n"


def test_show_labels_and_label_selectors(apiserver):
    assert table(apiserver.kubectl("get", "deploy", "--show-labels").stdout) == [
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "LABELS"],
        ["web", "0/2", "0", "0", "<age>", "app=web,tier=frontend"],
    ]
    assert apiserver.kubectl("get", "deploy", "-l", "tier in (frontend),app", "-o", "name").stdout == (
        "deployment.apps/web\n")
    missing = apiserver.kubectl("get", "deploy", "-l", "tier!=frontend")
    assert (missing.returncode, missing.stdout, missing.stderr) == (0, "", "No resources found in default namespace.\n")


def test_field_selectors(apiserver):
    assert apiserver.kubectl("get", "pods", "--field-selector", "spec.nodeName=worker-1,status.phase=Pending",
                             "-o", "name").stdout == "pod/web-0\n"
    assert apiserver.kubectl("get", "pods", "--field-selector", "status.phase=Running", "-o", "name").stdout == ""
    assert apiserver.kubectl("get", "svc", "--field-selector", "metadata.name!=web", "-o", "name").stdout == (
        "service/kubernetes\n")


def test_all_namespaces_adds_the_namespace_column(apiserver):
    apiserver.kubectl("create", "namespace", "team-a")
    apiserver.kubectl("create", "configmap", "settings", "-n", "team-a", "--from-literal=mode=a")
    apiserver.kubectl("create", "configmap", "settings", "--from-literal=mode=default", "--from-literal=x=y")
    assert table(apiserver.kubectl("get", "configmaps", "-A", "--field-selector", "metadata.name=settings").stdout) == [
        ["NAMESPACE", "NAME", "DATA", "AGE"],
        ["default", "settings", "2", "<age>"],
        ["team-a", "settings", "1", "<age>"],
    ]


def test_chunked_list_follows_continue_tokens(apiserver):
    apiserver.kubectl("create", "namespace", "chunks")
    for index in range(5):
        apiserver.kubectl("create", "configmap", f"cm-{index}", "-n", "chunks", f"--from-literal=index={index}")
    chunked = apiserver.kubectl("get", "cm", "-n", "chunks", "--chunk-size=2", "-v=6")
    requests = [line for line in chunked.stderr.splitlines() if "GET https://" in line and "/configmaps?" in line]
    assert len(requests) == 3 and all("limit=2" in line for line in requests)
    assert ["continue=" in line for line in requests] == [False, True, True]
    assert table(chunked.stdout) == [["NAME", "DATA", "AGE"]] + [[f"cm-{i}", "1", "<age>"] for i in range(5)]


def test_watch_prints_a_row_per_change(apiserver):
    apiserver.kubectl("create", "namespace", "watched")
    apiserver.kubectl("create", "deployment", "w", "-n", "watched", "--image=nginx:1.27", "--replicas=1")
    with apiserver.kubectl_stream("get", "deploy", "-n", "watched", "-w") as watch:
        watch.wait_for_line(lambda line: line.startswith("w "))
        apiserver.kubectl("scale", "deploy", "w", "-n", "watched", "--replicas=3")
        watch.wait_for_line(lambda line: line.split()[:2] == ["w", "0/3"])
        apiserver.kubectl("create", "deployment", "second", "-n", "watched", "--image=nginx:1.27")
        watch.wait_for_line(lambda line: line.startswith("second "))
    assert table("\n".join(watch.lines)) == [
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        ["w", "0/1", "0", "0", "<age>"],
        ["w", "0/3", "0", "0", "<age>"],
        ["second", "0/1", "0", "0", "<age>"],
    ]


def describe_lines(apiserver, *args: str) -> list[str]:
    """Lines of `kubectl describe` with runs of blanks collapsed: kubectl aligns each nested section on its own
    (client-side), so only the words and their order are the server's doing."""
    return [" ".join(line.split()) for line in apiserver.kubectl("describe", *args).stdout.splitlines()]


def test_describe_deployment(apiserver):
    lines = describe_lines(apiserver, "deployment", "web")
    for expected in ("Name: web",
                     "Namespace: default",
                     "Labels: app=web",
                     "tier=frontend",
                     "Selector: app=web",
                     "Replicas: 2 desired | 0 updated | 0 total | 0 available | 0 unavailable",
                     "StrategyType: RollingUpdate",
                     "RollingUpdateStrategy: 25% max unavailable, 25% max surge",
                     "nginx:",
                     "Image: nginx:1.25",
                     "Port: 80/TCP",
                     "sidecar:",
                     "sleep",
                     "Events: <none>"):
        assert expected in lines, expected


def test_describe_pod(apiserver):
    lines = describe_lines(apiserver, "pod", "web-0")
    for expected in ("Name: web-0",
                     "Service Account: default",
                     "Node: worker-1/",
                     "Labels: app=web",
                     "Status: Pending",
                     "Image: nginx:1.27",
                     "MODE: demo",
                     "QoS Class: BestEffort",
                     "Events: <none>"):
        assert expected in lines, expected


def test_describe_service(apiserver):
    lines = describe_lines(apiserver, "service", "web")
    ip = service_ip(apiserver, "web")
    for expected in ("Name: web",
                     "Selector: app=web",
                     "Type: ClusterIP",
                     "IP Family Policy: SingleStack",
                     "IP Families: IPv4",
                     f"IP: {ip}",
                     "Port: http 80/TCP",
                     "TargetPort: 8080/TCP",
                     "Session Affinity: None",
                     "Internal Traffic Policy: Cluster",
                     "Events: <none>"):
        assert expected in lines, expected


# `kubectl api-resources` against a real 1.32 cluster (kind), for every resource kinn serves; kinn must serve
# these rows exactly and in this order (kubectl sorts by the group order of discovery, then by name).
UPSTREAM_API_RESOURCES = """\
NAME                                SHORTNAMES   APIVERSION                        NAMESPACED   KIND
bindings                                         v1                                true         Binding
configmaps                          cm           v1                                true         ConfigMap
endpoints                           ep           v1                                true         Endpoints
events                              ev           v1                                true         Event
limitranges                         limits       v1                                true         LimitRange
namespaces                          ns           v1                                false        Namespace
nodes                               no           v1                                false        Node
persistentvolumeclaims              pvc          v1                                true         PersistentVolumeClaim
persistentvolumes                   pv           v1                                false        PersistentVolume
pods                                po           v1                                true         Pod
podtemplates                                     v1                                true         PodTemplate
replicationcontrollers              rc           v1                                true         ReplicationController
resourcequotas                      quota        v1                                true         ResourceQuota
secrets                                          v1                                true         Secret
serviceaccounts                     sa           v1                                true         ServiceAccount
services                            svc          v1                                true         Service
apiservices                                      apiregistration.k8s.io/v1         false        APIService
controllerrevisions                              apps/v1                           true         ControllerRevision
daemonsets                          ds           apps/v1                           true         DaemonSet
deployments                         deploy       apps/v1                           true         Deployment
replicasets                         rs           apps/v1                           true         ReplicaSet
statefulsets                        sts          apps/v1                           true         StatefulSet
selfsubjectreviews                               authentication.k8s.io/v1          false        SelfSubjectReview
selfsubjectaccessreviews                         authorization.k8s.io/v1           false        SelfSubjectAccessReview
selfsubjectrulesreviews                          authorization.k8s.io/v1           false        SelfSubjectRulesReview
cronjobs                            cj           batch/v1                          true         CronJob
jobs                                             batch/v1                          true         Job
leases                                           coordination.k8s.io/v1            true         Lease
endpointslices                                   discovery.k8s.io/v1               true         EndpointSlice
events                              ev           events.k8s.io/v1                  true         Event
ingressclasses                                   networking.k8s.io/v1              false        IngressClass
ingresses                           ing          networking.k8s.io/v1              true         Ingress
networkpolicies                     netpol       networking.k8s.io/v1              true         NetworkPolicy
poddisruptionbudgets                pdb          policy/v1                         true         PodDisruptionBudget
clusterrolebindings                              rbac.authorization.k8s.io/v1      false        ClusterRoleBinding
clusterroles                                     rbac.authorization.k8s.io/v1      false        ClusterRole
rolebindings                                     rbac.authorization.k8s.io/v1      true         RoleBinding
roles                                            rbac.authorization.k8s.io/v1      true         Role
priorityclasses                     pc           scheduling.k8s.io/v1              false        PriorityClass
storageclasses                      sc           storage.k8s.io/v1                 false        StorageClass
"""

# The resources the API server issue requires (resource, API version).
REQUIRED_RESOURCES = {
    ("namespaces", "v1"), ("pods", "v1"), ("services", "v1"), ("endpoints", "v1"), ("nodes", "v1"),
    ("configmaps", "v1"), ("secrets", "v1"), ("serviceaccounts", "v1"), ("events", "v1"),
    ("replicationcontrollers", "v1"), ("persistentvolumes", "v1"), ("persistentvolumeclaims", "v1"),
    ("resourcequotas", "v1"), ("limitranges", "v1"), ("events", "events.k8s.io/v1"),
    ("deployments", "apps/v1"), ("replicasets", "apps/v1"), ("daemonsets", "apps/v1"),
    ("statefulsets", "apps/v1"), ("jobs", "batch/v1"), ("cronjobs", "batch/v1"),
    ("endpointslices", "discovery.k8s.io/v1"), ("leases", "coordination.k8s.io/v1"),
    ("ingresses", "networking.k8s.io/v1"), ("ingressclasses", "networking.k8s.io/v1"),
    ("networkpolicies", "networking.k8s.io/v1"), ("roles", "rbac.authorization.k8s.io/v1"),
    ("rolebindings", "rbac.authorization.k8s.io/v1"), ("clusterroles", "rbac.authorization.k8s.io/v1"),
    ("clusterrolebindings", "rbac.authorization.k8s.io/v1"), ("poddisruptionbudgets", "policy/v1"),
    ("apiservices", "apiregistration.k8s.io/v1"),
}


def test_auth_can_i_and_whoami(apiserver):
    """kinn authorizes every authenticated request (--authorization-mode=AlwaysAllow): `can-i` says
    yes and `--list` shows that mode's one rule; `whoami` shows the client certificate's user."""
    assert apiserver.kubectl("auth", "can-i", "delete", "nodes").stdout == "yes\n"
    assert apiserver.kubectl("auth", "can-i", "get", "/healthz").stdout == "yes\n"
    rules = apiserver.kubectl("auth", "can-i", "--list", "-n", "kube-system").stdout.splitlines()
    assert [row.split() for row in rules] == [["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"],
                                              ["*.*", "[]", "[]", "[*]"], ["[*]", "[]", "[*]"]], rules
    assert apiserver.kubectl("auth", "whoami").stdout.splitlines() == [
        "ATTRIBUTE   VALUE", "Username    kubernetes-admin", "Groups      [system:masters system:authenticated]"]
    # Impersonation (kubectl --as, --as-group): was ignored, so `--as` tests passed as the admin.
    assert apiserver.kubectl("auth", "whoami", "--as", "jane", "--as-group", "devs").stdout.splitlines() == [
        "ATTRIBUTE   VALUE", "Username    jane", "Groups      [devs system:authenticated]"]
    assert apiserver.kubectl("auth", "whoami", "--as", "system:serviceaccount:ci:runner").stdout.splitlines()[2] == \
        "Groups      [system:serviceaccounts system:serviceaccounts:ci system:authenticated]"
    alone = apiserver.kubectl("get", "pods", "--as-group", "devs", check=False)
    assert alone.returncode == 1 and "without impersonating a user" in alone.stderr, alone.stderr
    # kubectl looks for a create-only kind's PATCH path, then for a CRD; kinn serves no CRDs.
    empty = apiserver.kubectl("create", "--validate=false", "-f", "-", check=False, input=(
        "apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectAccessReview\nspec: {}\n"))
    assert empty.stderr == ('The SelfSubjectAccessReview "" is invalid: spec.resourceAttributes: Invalid value: null: '
                            'exactly one of nonResourceAttributes or resourceAttributes must be specified\n')


def api_resource_rows(text: str) -> list[tuple[str, ...]]:
    """Rows as (name, shortnames, apiversion, namespaced, kind); SHORTNAMES may be blank."""
    return [tuple(row[:5]) for row in table(text)[1:]]


def test_api_resources_match_upstream(apiserver):
    output = apiserver.kubectl("api-resources").stdout
    assert output.splitlines()[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    served = api_resource_rows(output)
    upstream = api_resource_rows(UPSTREAM_API_RESOURCES)
    assert served == [row for row in upstream if row in served], "rows differ from upstream or are out of order"
    assert REQUIRED_RESOURCES <= {(row[0], row[2]) for row in served}


def test_api_resources_wide_shows_verbs_and_categories(apiserver):
    rows = {row[0]: row for row in table(apiserver.kubectl("api-resources", "--api-group=apps", "-o", "wide").stdout)}
    assert rows["deployments"] == ["deployments", "deploy", "apps/v1", "true", "Deployment",
                                   "create,delete,deletecollection,get,list,patch,update,watch", "all"]
    assert rows["controllerrevisions"][-1] == ""
    namespaces = table(apiserver.kubectl("api-resources", "--api-group=", "-o", "wide").stdout)
    assert ["namespaces", "ns", "v1", "false", "Namespace", "create,delete,get,list,patch,update,watch", ""] in namespaces


def test_explain_deployment_spec(apiserver):
    lines = apiserver.kubectl("explain", "deployment.spec").stdout.splitlines()
    assert lines[:6] == ["GROUP:      apps", "KIND:       Deployment", "VERSION:    v1", "",
                         "FIELD: spec <DeploymentSpec>", ""]
    fields = [line.split()[0] for line in lines if line.startswith("  ") and not line.startswith("   ")]
    assert fields == ["minReadySeconds", "paused", "progressDeadlineSeconds", "replicas", "revisionHistoryLimit",
                      "selector", "strategy", "template"]
    assert "  selector\t<LabelSelector> -required-" in lines
    assert "  template\t<PodTemplateSpec> -required-" in lines


def test_health_endpoints_verbose_and_by_check(apiserver):
    assert apiserver.kubectl("get", "--raw", "/readyz?verbose").stdout.splitlines()[-2:] == [
        "[+]shutdown ok", "readyz check passed"]
    assert apiserver.kubectl("get", "--raw", "/livez?verbose&exclude=etcd").stdout.splitlines() == [
        "[+]ping ok", "[+]log ok", "[+]etcd excluded: ok", "livez check passed"]
    assert apiserver.kubectl("get", "--raw", "/livez/etcd").stdout == "ok"
    missing = apiserver.kubectl("get", "--raw", "/livez/nonexistent", check=False)
    assert (missing.returncode, missing.stderr) == (
        1, "Error from server (NotFound): the server could not find the requested resource\n")
