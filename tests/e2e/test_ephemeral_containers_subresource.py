"""`pods/ephemeralcontainers` on a lone API server, driven by the real kubectl: `kubectl debug` adds
its container there (no kubelet needed: without -i it returns once the patch is accepted), the
containers already added can neither change nor go, and neither a create nor a pod update can
set them."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
import requests

from conftest import RunningAPIServer

POD = "/api/v1/namespaces/default/pods/web"
SUBRESOURCE = POD + "/ephemeralcontainers"
INVALID = 'The Pod "web" is invalid: '


@pytest.fixture(scope="module")
def web(apiserver: RunningAPIServer) -> Iterator[RunningAPIServer]:
    """The module's server with a pod `web` that `kubectl debug` gave the ephemeral container `dbg`."""
    apiserver.kubectl("run", "web", "--image=nginx")
    debug = apiserver.kubectl("debug", "web", "--image=busybox", "--container=dbg")
    assert debug.stdout == ""
    yield apiserver


@pytest.fixture(scope="module")
def http(apiserver: RunningAPIServer) -> Iterator[requests.Session]:
    with apiserver.session() as session:
        yield session


def get_pod(server: RunningAPIServer, *args: str) -> dict[str, Any]:
    return json.loads(server.kubectl("get", "pod", "web", "-o", "json", *args).stdout)


def patch_ephemeral(server: RunningAPIServer, patch_type: str, patch: Any) -> str:
    """kubectl's stderr for a patch of the subresource that must fail."""
    result = server.kubectl("patch", "pod", "web", "--subresource=ephemeralcontainers", f"--type={patch_type}",
                            "-p", json.dumps(patch), check=False)
    assert result.returncode == 1, result.stdout
    return result.stderr


def test_kubectl_debug_adds_a_defaulted_ephemeral_container(web: RunningAPIServer) -> None:
    pod = get_pod(web, "--show-managed-fields")
    assert pod["spec"]["ephemeralContainers"] == [{
        "name": "dbg", "image": "busybox", "imagePullPolicy": "Always", "resources": {},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
    }]
    [entry] = [m for m in pod["metadata"]["managedFields"] if m.get("subresource") == "ephemeralcontainers"]
    assert (entry["manager"], entry["operation"], list(entry["fieldsV1"]["f:spec"])) == (
        "kubectl", "Update", ["f:ephemeralContainers"])


def test_the_subresource_reads_and_replaces_the_pod(web: RunningAPIServer, http: requests.Session) -> None:
    pod = http.get(web.url + SUBRESOURCE).json()
    assert (pod["kind"], pod["metadata"]["name"]) == ("Pod", "web")
    stale = json.loads(json.dumps(pod))
    pod["spec"]["ephemeralContainers"].append({"name": "shell", "image": "busybox", "targetContainerName": "web"})
    pod["spec"]["containers"][0]["image"] = "ignored"  # only ephemeral containers change here
    replaced = http.put(web.url + SUBRESOURCE, json=pod)
    assert replaced.status_code == 200, replaced.text
    assert [c["name"] for c in replaced.json()["spec"]["ephemeralContainers"]] == ["dbg", "shell"]
    assert replaced.json()["spec"]["containers"][0]["image"] == "nginx"
    assert http.put(web.url + SUBRESOURCE, json=stale).status_code == 409  # resourceVersion precondition


def test_existing_ephemeral_containers_can_neither_change_nor_go(web: RunningAPIServer,
                                                                  http: requests.Session) -> None:
    changed = patch_ephemeral(web, "strategic", {"spec": {"ephemeralContainers": [{"name": "dbg", "image": "alpine"}]}})
    assert changed == (f'{INVALID}spec.ephemeralContainers: Forbidden: existing ephemeral containers "dbg" may not '
                       'be changed\n- \timage: "busybox"\n+ \timage: "alpine"\n')
    removed = patch_ephemeral(web, "json", [{"op": "remove", "path": "/spec/ephemeralContainers/0"}])
    assert removed == (f'{INVALID}spec.ephemeralContainers: Forbidden: existing ephemeral containers "dbg" may not '
                       'be removed\n\n')
    pod = http.get(web.url + SUBRESOURCE).json()
    pod["spec"]["ephemeralContainers"] = []
    refused = http.put(web.url + SUBRESOURCE, json=pod)
    assert refused.status_code == 422
    assert [c["reason"] for c in refused.json()["details"]["causes"]] == ["FieldValueForbidden"] * 2
    assert [c["name"] for c in get_pod(web)["spec"]["ephemeralContainers"]] == ["dbg", "shell"]


def test_a_debugging_container_gets_no_ports_or_probes(web: RunningAPIServer) -> None:
    added = {"name": "bad", "image": "busybox", "ports": [{"containerPort": 80}], "targetContainerName": "nope",
             "readinessProbe": {"exec": {"command": ["true"]}}}
    stderr = patch_ephemeral(web, "strategic", {"spec": {"ephemeralContainers": [added]}})
    assert stderr == (f"{INVALID}\n"
                      '* spec.ephemeralContainers[0].targetContainerName: Not found: "nope"\n'
                      "* spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container\n"
                      "* spec.ephemeralContainers[0].readinessProbe: Forbidden: cannot be set for an Ephemeral "
                      "Container\n")


def test_neither_a_create_nor_a_pod_update_sets_them(web: RunningAPIServer) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "early"},
           "spec": {"containers": [{"name": "app", "image": "nginx"}],
                    "ephemeralContainers": [{"name": "dbg", "image": "busybox"}]}}
    created = web.kubectl("create", "-f", "-", input=json.dumps(pod), check=False)
    assert created.stderr == ('The Pod "early" is invalid: spec.ephemeralContainers: Forbidden: cannot be set on '
                              'create\n')
    updated = web.kubectl("patch", "pod", "web", "--type=json", "-p",
                          '[{"op": "remove", "path": "/spec/ephemeralContainers/1"}]', check=False)
    assert updated.stderr.startswith(f"{INVALID}spec: Forbidden: pod updates may not change fields other than ")
    assert "ephemeralContainers" in updated.stderr


def test_a_second_kubectl_debug_keeps_the_first(web: RunningAPIServer) -> None:
    """With ephemeral containers present kubectl's patch carries `$setElementOrder/ephemeralContainers`."""
    debug = web.kubectl("debug", "web", "--image=busybox:1.36")
    name = debug.stdout.partition("Defaulting debug container name to ")[2].rstrip(".\n")
    assert name.startswith("debugger-")
    added = get_pod(web)["spec"]["ephemeralContainers"]
    assert [(c["name"], c["imagePullPolicy"]) for c in added] == [
        ("dbg", "Always"), ("shell", "Always"), (name, "IfNotPresent")]


def test_discovery_lists_pods_ephemeralcontainers(web: RunningAPIServer) -> None:
    resources = json.loads(web.kubectl("get", "--raw", "/api/v1").stdout)["resources"]
    [entry] = [r for r in resources if r["name"] == "pods/ephemeralcontainers"]
    assert (entry["kind"], entry["verbs"]) == ("Pod", ["get", "patch", "update"])
