"""Service-account tokens, downwardAPI and projected volumes, and claims, on real pods of `kinn kubelet`.

The API server is `kinn server` with the controllers these volumes need (serviceaccount makes the
`default` account, root-ca-cert-publisher the `kube-root-ca.crt` ConfigMap, the PV binder binds
claims) and no scheduler: pods are bound by nodeName. It also serves inside the node's netns on
the node IP, where pods reach it with the credentials the kubelet projects into them.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import KUBECTL, RunningAPIServer, start_apiserver
from test_kubelet import (NODE_IP, Node, create_pod, get, no_pods_left, node,  # noqa: F401
                          processes_in, running, wait_until)

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture(scope="module")
def apiserver(node_netns: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPIServer]:
    server = start_apiserver(tmp_path_factory.mktemp("server"),
                             ("--cluster-netns", node_netns, "--advertise-address", NODE_IP, "--disable-scheduler",
                              "--controllers", "serviceaccount,root-ca-cert-publisher,persistentvolume-binder"),
                             command="server")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def credentials_published(node: Node) -> None:
    """The default account and the CA ConfigMap exist before pods are made (admission mounts the
    token only for an existing account)."""
    wait_until("default account and kube-root-ca.crt", lambda: get(node, "serviceaccount", "default") and
               get(node, "configmap", "kube-root-ca.crt"), node)


def kubectl_with_token(server: RunningAPIServer, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    """kubectl with only a bearer token: no kubeconfig, so no client certificate to fall back on."""
    env = {key: value for key, value in server.kubectl_env().items() if key != "KUBECONFIG"}
    return subprocess.run([KUBECTL, "--kubeconfig", os.devnull, "--server", server.url, "--certificate-authority",
                           str(server.data_dir / "pki" / "ca.crt"), "--token", token, *args],
                          capture_output=True, text=True, env=env, timeout=60)


def claims(token: str) -> Obj:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def failed_mounts(node: Node, pod: str) -> str:
    return node.server.kubectl("get", "events", "--field-selector", f"involvedObject.name={pod},reason=FailedMount",
                               "-o", "jsonpath={.items[*].message}").stdout


def test_kubectl_create_token_authenticates_as_the_service_account(node: Node, credentials_published: None) -> None:
    server = node.server
    token = server.kubectl("create", "token", "default").stdout.strip()
    assert claims(token)["sub"] == "system:serviceaccount:default:default"
    assert claims(token)["iss"] == "https://kubernetes.default.svc.cluster.local"
    allowed = kubectl_with_token(server, token, "get", "serviceaccount", "default", "-o", "name")
    assert allowed.returncode == 0 and allowed.stdout == "serviceaccount/default\n", allowed.stderr
    forged = kubectl_with_token(server, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"), "get", "pods")
    assert forged.returncode == 1 and "error: You must be logged in to the server (Unauthorized)" in forged.stderr

    server.kubectl("create", "serviceaccount", "robot")
    robot = server.kubectl("create", "token", "robot", "--duration", "10m").stdout.strip()
    assert claims(robot)["exp"] - claims(robot)["iat"] == 600
    assert kubectl_with_token(server, robot, "get", "pods").returncode == 0
    server.kubectl("delete", "serviceaccount", "robot")
    assert "(Unauthorized)" in kubectl_with_token(server, robot, "get", "pods").stderr  # dies with its account

    short = server.kubectl("create", "token", "default", "--duration", "1m", check=False)
    assert short.returncode == 1 and short.stderr.strip() == (
        'error: failed to create token: TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
        "Invalid value: 60: may not specify a duration less than 10 minutes")
    missing = server.kubectl("create", "token", "nobody", check=False)
    assert missing.stderr.strip() == 'error: failed to create token: serviceaccounts "nobody" not found'


# Reads the projected credentials and calls the API server with them, as client-go's in-cluster config does.
IN_CLUSTER_CLIENT = f"""
import json, ssl, urllib.request
d = "{TOKEN_DIR}"
token, namespace = open(d + "/token").read(), open(d + "/namespace").read()
context = ssl.create_default_context(cafile=d + "/ca.crt")
request = urllib.request.Request("https://{NODE_IP}:6443/api/v1/namespaces/" + namespace + "/pods/api-client",
                                 headers={{"Authorization": "Bearer " + token}})
pod = json.load(urllib.request.urlopen(request, context=context, timeout=10))
print("namespace", namespace, "pod", pod["metadata"]["name"], pod["spec"]["serviceAccountName"], flush=True)
"""


def test_pod_uses_its_projected_service_account_token(node: Node, credentials_published: None) -> None:
    create_pod(node, "api-client", [{"name": "client", "image": "python",
                                     "command": ["python3", "-c", IN_CLUSTER_CLIENT]}], restartPolicy="Never")

    def finished() -> Obj | None:
        pod = get(node, "pod", "api-client")
        return pod if (pod or {}).get("status", {}).get("phase") in ("Succeeded", "Failed") else None

    pod = wait_until("pod api-client finished", finished, node, timeout=30)
    uid = pod["metadata"]["uid"]
    log = (node.tmp / "pods" / f"default_api-client_{uid}" / "client" / "0.log").read_text()
    assert pod["status"]["phase"] == "Succeeded", log
    assert "stdout F namespace default pod api-client default" in log

    (volume,) = pod["spec"]["volumes"]
    assert volume["name"].startswith("kube-api-access-") and volume["projected"]["sources"][0] == {
        "serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert {"name": volume["name"], "readOnly": True, "mountPath": TOKEN_DIR} in pod["spec"]["containers"][0][
        "volumeMounts"]
    directory = node.tmp / "kubelet" / "pods" / uid / "volumes" / "kubernetes.io~projected" / volume["name"]
    assert os.readlink(directory / "token") == "..data/token" and os.readlink(directory / "..data").startswith("..20")
    token = (directory / "token").read_text()
    bound = claims(token)
    assert bound["kubernetes.io"]["pod"] == {"name": "api-client", "uid": uid}
    assert bound["kubernetes.io"]["node"]["name"] == node.name
    assert bound["kubernetes.io"]["warnafter"] - bound["iat"] == 3607  # only a warning after the hour
    assert (directory / "ca.crt").read_bytes() == (node.server.data_dir / "pki" / "ca.crt").read_bytes()
    assert kubectl_with_token(node.server, token, "get", "pods").returncode == 0

    node.server.kubectl("delete", "pod", "api-client", "--wait=false")
    wait_until("pod api-client gone", lambda: get(node, "pod", "api-client") is None, node)
    assert "(Unauthorized)" in kubectl_with_token(node.server, token, "get", "pods").stderr  # dies with its pod


def test_downward_api_volume_and_env_follow_the_pod(node: Node) -> None:
    node.server.kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "info", "labels": {"app": "web", "tier": "front"}, "annotations": {"build": "42"}},
        "spec": {"nodeName": node.name, "terminationGracePeriodSeconds": 2, "automountServiceAccountToken": False,
                 "containers": [{
                     "name": "app", "image": "busybox",
                     "command": ["sh", "-c", "while true; do cat /etc/podinfo/labels; echo; sleep 0.3; done"],
                     "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}},
                     "env": [{"name": "CPU_MILLIS", "valueFrom": {"resourceFieldRef": {
                         "resource": "limits.cpu", "divisor": "1m"}}}],
                     "volumeMounts": [{"name": "podinfo", "mountPath": "/etc/podinfo"}]}],
                 "volumes": [{"name": "podinfo", "downwardAPI": {"items": [
                     {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                     {"path": "meta/annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
                     {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                     {"path": "uid", "fieldRef": {"fieldPath": "metadata.uid"}, "mode": 0o400},
                     {"path": "mem_mi", "resourceFieldRef": {"containerName": "app", "resource": "limits.memory",
                                                             "divisor": "1Mi"}}]}}]}}))
    pod = wait_until("pod info Running", lambda: running(node, "info"), node)
    uid = pod["metadata"]["uid"]
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["podinfo"]  # automount turned off
    directory = node.tmp / "kubelet" / "pods" / uid / "volumes" / "kubernetes.io~downward-api" / "podinfo"
    assert (directory / "labels").read_text() == 'app="web"\ntier="front"'
    assert (directory / "meta" / "annotations").read_text() == 'build="42"'
    assert (directory / "name").read_text() == "info" and (directory / "mem_mi").read_text() == "64"
    assert oct((directory / "uid").stat().st_mode & 0o777) == "0o400" and (directory / "uid").read_text() == uid
    log = node.tmp / "pods" / f"default_info_{uid}" / "app" / "0.log"
    wait_until("labels read in the container", lambda: 'stdout F tier="front"' in log.read_text(), node)
    pid = next(pid for pid in processes_in(next(node.netns_dir.iterdir()))
               if b"/etc/podinfo/labels" in Path(f"/proc/{pid}/cmdline").read_bytes())
    assert b"CPU_MILLIS=500" in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")

    node.server.kubectl("label", "pod", "info", "tier=back", "--overwrite")
    wait_until("the new label seen in the container", lambda: 'stdout F tier="back"' in log.read_text(), node)
    assert (directory / "labels").read_text() == 'app="web"\ntier="back"'


def test_pod_waits_for_its_claim_then_writes_to_the_volume(node: Node, tmp_path: Path) -> None:
    server, data = node.server, tmp_path / "pv-data"
    create_pod(node, "writer", [{"name": "app", "image": "busybox",
                                 "command": ["sh", "-c", "echo written-by-pod > /data/hello && sleep 1000"],
                                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
               volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "claim"}}],
               automountServiceAccountToken=False)
    prefix = ("Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], failed to process "
              "volumes=[data]: error processing PVC default/claim: ")
    wait_until("claim not found", lambda: prefix + 'failed to fetch PVC from API server: persistentvolumeclaims '
               '"claim" not found' in failed_mounts(node, "writer"), node)
    server.kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "claim"},
        "spec": {"storageClassName": "", "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}}}))
    wait_until("claim not bound", lambda: prefix + "PVC is not bound" in failed_mounts(node, "writer"), node)
    assert get(node, "pod", "writer")["status"]["phase"] == "Pending"
    volume = f"kt-pv-{node.name}"
    server.kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": volume},
        "spec": {"storageClassName": "", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"},
                 "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": str(data)}}}))
    try:
        wait_until("pod writer Running", lambda: running(node, "writer"), node, timeout=40)
        wait_until("the pod's file on the volume's host path", lambda: (data / "hello").exists(), node)
        assert (data / "hello").read_text() == "written-by-pod\n"
        assert get(node, "pvc", "claim")["spec"]["volumeName"] == volume
    finally:
        server.kubectl("delete", "pod", "writer", "--wait=false")
        wait_until("pod writer gone", lambda: get(node, "pod", "writer") is None, node)
        server.kubectl("delete", "pvc", "claim", "--wait=false")
        server.kubectl("delete", "pv", volume, "--wait=false")
