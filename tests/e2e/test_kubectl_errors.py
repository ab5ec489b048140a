"""Bad input through the real kubectl: each rejected with the message and exit code a real 1.32 cluster
gives, and nothing stored."""

from __future__ import annotations

import json

from kubectl_output import manifest

RFC1123_SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                     "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                     "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def rejected(apiserver, *args: str, input: str | None = None) -> str:
    """kubectl's stderr for a command that must fail with exit code 1 and print nothing on stdout."""
    result = apiserver.kubectl(*args, input=input, check=False)
    assert (result.returncode, result.stdout) == (1, ""), result
    return result.stderr


def absent(apiserver, kind: str, name: str) -> bool:
    return apiserver.kubectl("get", kind, name, check=False).returncode == 1


def service(name: str, **spec: object) -> str:
    ports = spec.pop("ports", [{"port": 80}])
    return json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                       "spec": {"ports": ports, **spec}})


def test_invalid_name(apiserver):
    assert rejected(apiserver, "create", "-f", manifest("bad-name.yaml")) == (
        f'The Deployment "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {RFC1123_SUBDOMAIN}\n')


def test_missing_required_fields(apiserver):
    assert rejected(apiserver, "create", "-f", manifest("no-image.yaml")) == (
        'The Pod "no-image" is invalid: spec.containers[0].image: Required value\n')
    assert absent(apiserver, "pod", "no-image")
    without_selector = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "no-selector"},
                        "spec": {"template": {"metadata": {"labels": {"app": "web"}},
                                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}
    assert rejected(apiserver, "create", "-f", "-", input=json.dumps(without_selector)) == (
        'The Deployment "no-selector" is invalid: \n'
        "* spec.selector: Required value\n"
        '* spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`\n")


def test_unknown_field_is_rejected_by_strict_validation(apiserver):
    path = manifest("unknown-field.yaml")
    message = (f'Error from server (BadRequest): error when creating "{path}": ConfigMap in version "v1" cannot be '
               'handled as a ConfigMap: strict decoding error: unknown field "metadata.colour"\n')
    assert rejected(apiserver, "create", "-f", path, "--validate=strict") == message
    assert rejected(apiserver, "create", "-f", path) == message  # kubectl's default is --validate=strict
    assert absent(apiserver, "cm", "unknown-field")


def test_unknown_field_warns_and_is_dropped_with_warn_validation(apiserver):
    result = apiserver.kubectl("create", "-f", manifest("unknown-field.yaml"), "--validate=warn")
    assert (result.stdout, result.stderr) == ("configmap/unknown-field created\n",
                                              'Warning: unknown field "metadata.colour"\n')
    stored = json.loads(apiserver.kubectl("get", "cm", "unknown-field", "-o", "json").stdout)
    assert "colour" not in stored["metadata"] and stored["data"] == {"a": "b"}


def test_port_out_of_range(apiserver):
    assert rejected(apiserver, "create", "-f", "-", input=service("bad-port", ports=[{"port": 70000}])) == (
        'The Service "bad-port" is invalid: \n'
        "* spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive\n"
        "* spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive\n")
    assert absent(apiserver, "svc", "bad-port")


def test_selector_is_immutable(apiserver):
    apiserver.kubectl("create", "deployment", "fixed", "--image=nginx:1.27")
    change = {"spec": {"selector": {"matchLabels": {"app": "other"}},
                       "template": {"metadata": {"labels": {"app": "other"}}}}}
    assert rejected(apiserver, "patch", "deploy", "fixed", "-p", json.dumps(change)) == (
        'The Deployment "fixed" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
        'map[string]string{"app":"other"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable\n')


def test_duplicate_create(apiserver):
    path = manifest("web.yaml")
    apiserver.kubectl("create", "-f", path)
    assert rejected(apiserver, "create", "-f", path) == (
        f'Error from server (AlreadyExists): error when creating "{path}": deployments.apps "web" already exists\n')


def test_get_missing(apiserver):
    assert rejected(apiserver, "get", "deployment", "x") == (
        'Error from server (NotFound): deployments.apps "x" not found\n')
    assert rejected(apiserver, "get", "pod", "x", "-n", "kube-system") == (
        'Error from server (NotFound): pods "x" not found\n')


def test_cluster_ip_conflict_and_range(apiserver):
    assert rejected(apiserver, "create", "-f", "-", input=service("taken-ip", clusterIP="10.96.0.1")) == (
        'The Service "taken-ip" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.1"}: '
        "failed to allocate IP 10.96.0.1: provided IP is already allocated\n")
    assert rejected(apiserver, "create", "-f", "-", input=service("far-ip", clusterIP="10.200.0.1")) == (
        'The Service "far-ip" is invalid: spec.clusterIPs: Invalid value: []string{"10.200.0.1"}: '
        "failed to allocate IP 10.200.0.1: the provided IP (10.200.0.1) is not in the valid range. "
        "The range of valid IPs is 10.96.0.0/12\n")
    assert absent(apiserver, "svc", "taken-ip") and absent(apiserver, "svc", "far-ip")


def test_node_port_conflict_and_range(apiserver):
    apiserver.kubectl("create", "-f", "-", input=service("np-a", type="NodePort",
                                                          ports=[{"port": 80, "nodePort": 30080}]))
    assert rejected(apiserver, "create", "-f", "-", input=service("np-b", type="NodePort",
                                                                   ports=[{"port": 80, "nodePort": 30080}])) == (
        'The Service "np-b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: '
        "provided port is already allocated\n")
    assert rejected(apiserver, "create", "-f", "-", input=service("np-c", type="NodePort",
                                                                   ports=[{"port": 80, "nodePort": 40000}])) == (
        'The Service "np-c" is invalid: spec.ports[0].nodePort: Invalid value: 40000: '
        "provided port is not in the valid range. The range of valid ports is 30000-32767\n")
    assert absent(apiserver, "svc", "np-b") and absent(apiserver, "svc", "np-c")
