"""LimitRanger and ResourceQuota admission seen through the real kubectl: defaults on created pods,
upstream's Forbidden errors, and quota usage charged by the API server itself when it admits."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import pytest

from conftest import RunningAPIServer, start_apiserver

pytestmark = pytest.mark.e2e

LIMIT_RANGE = """
apiVersion: v1
kind: LimitRange
metadata: {name: limits}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 256Mi}
    defaultRequest: {cpu: 100m, memory: 128Mi}
    max: {cpu: "1"}
    min: {memory: 100Mi}
"""


def pod(name: str, resources: str = "{}") -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers:
  - name: app
    image: nginx
    resources: {resources}
"""


def namespace(server: RunningAPIServer, name: str) -> str:
    server.kubectl("create", "namespace", name)
    return name


def create(server: RunningAPIServer, ns: str, manifest: str) -> tuple[int, str]:
    result = server.kubectl("-n", ns, "create", "-f", "-", input=manifest, check=False)
    return result.returncode, result.stderr


def get(server: RunningAPIServer, ns: str, *what: str) -> dict:
    return json.loads(server.kubectl("-n", ns, "get", *what, "-o", "json").stdout)


def publish(server: RunningAPIServer, ns: str, quota: str, hard: dict, used: dict) -> None:
    """Write the quota's status as the resourcequota controller does (none runs beside this server)."""
    status = json.dumps({"status": {"hard": hard, "used": used}})
    server.kubectl("-n", ns, "patch", "resourcequota", quota, "--subresource=status", "--type=merge", "-p", status)


def forbidden(name: str, why: str) -> str:
    return f'Error from server (Forbidden): error when creating "STDIN": pods "{name}" is forbidden: {why}\n'


def test_limit_range_defaults_appear_on_the_created_pod(apiserver):
    ns = namespace(apiserver, "lr-defaults")
    apiserver.kubectl("-n", ns, "apply", "-f", "-", input=LIMIT_RANGE)
    assert create(apiserver, ns, pod("app")) == (0, "")
    created = get(apiserver, ns, "pod", "app")
    assert created["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}}
    assert created["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app")
    assert created["status"]["qosClass"] == "Burstable"


def test_limit_range_refuses_what_is_out_of_bounds(apiserver):
    ns = namespace(apiserver, "lr-bounds")
    apiserver.kubectl("-n", ns, "apply", "-f", "-", input=LIMIT_RANGE)
    assert create(apiserver, ns, pod("big", "{limits: {cpu: '2'}}")) == (
        1, forbidden("big", "maximum cpu usage per Container is 1, but limit is 2"))
    assert create(apiserver, ns, pod("small", "{requests: {memory: 50Mi}}")) == (
        1, forbidden("small", "minimum memory usage per Container is 100Mi, but request is 50Mi"))
    assert create(apiserver, ns, pod("both", "{requests: {memory: 50Mi}, limits: {cpu: '2'}}")) == (1, forbidden(
        "both", "[minimum memory usage per Container is 100Mi, but request is 50Mi, "
                "maximum cpu usage per Container is 1, but limit is 2]"))


def test_quota_is_charged_at_admission_once_its_status_is_published(apiserver):
    ns = namespace(apiserver, "quota-pods")
    apiserver.kubectl("-n", ns, "create", "quota", "q", "--hard=pods=2")
    # Until the controller publishes status.hard, upstream's admission does not enforce the quota.
    assert create(apiserver, ns, pod("before")) == (0, "")
    publish(apiserver, ns, "q", {"pods": "2"}, {"pods": "1"})
    assert create(apiserver, ns, pod("a")) == (0, "")
    assert get(apiserver, ns, "resourcequota", "q")["status"]["used"] == {"pods": "2"}
    assert create(apiserver, ns, pod("b")) == (
        1, forbidden("b", "exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"))
    assert get(apiserver, ns, "resourcequota", "q")["status"]["used"] == {"pods": "2"}


def test_quota_on_limits_requires_every_container_to_set_them(apiserver):
    ns = namespace(apiserver, "quota-limits")
    apiserver.kubectl("-n", ns, "create", "quota", "mem", "--hard=limits.memory=1Gi")
    publish(apiserver, ns, "mem", {"limits.memory": "1Gi"}, {"limits.memory": "0"})
    assert create(apiserver, ns, pod("bare")) == (1, forbidden("bare", "failed quota: mem: must specify limits.memory "
                                                                       "for: app"))
    assert create(apiserver, ns, pod("set", "{limits: {memory: 64Mi}}")) == (0, "")
    assert get(apiserver, ns, "resourcequota", "mem")["status"]["used"] == {"limits.memory": "64Mi"}
    apiserver.kubectl("-n", ns, "create", "--dry-run=server", "-f", "-", input=pod("dry", "{limits: {memory: 64Mi}}"))
    assert get(apiserver, ns, "resourcequota", "mem")["status"]["used"] == {"limits.memory": "64Mi"}


@pytest.fixture(scope="module")
def with_quota_controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPIServer]:
    """`kinn server` running the resourcequota controller alone beside the API server."""
    server = start_apiserver(Path(tmp_path_factory.mktemp("quota-server")), ("--controllers", "resourcequota"),
                             command="server")
    yield server
    server.stop()


def wait_for_used(server: RunningAPIServer, ns: str, quota: str, expected: dict, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while (used := get(server, ns, "resourcequota", quota).get("status", {}).get("used")) != expected:
        assert time.monotonic() < deadline, f"status.used stayed {used}, not {expected}"
        time.sleep(0.1)


def test_controller_and_admission_agree_on_usage(with_quota_controller):
    server = with_quota_controller
    ns = namespace(server, "quota-compute")
    server.kubectl("-n", ns, "create", "quota", "compute", "--hard=pods=2,requests.cpu=1,limits.memory=1Gi")
    wait_for_used(server, ns, "compute", {"pods": "0", "requests.cpu": "0", "limits.memory": "0"})
    for name in ("a", "b"):
        assert create(server, ns, pod(name, "{requests: {cpu: 400m}, limits: {memory: 64Mi}}")) == (0, "")
    assert create(server, ns, pod("c", "{requests: {cpu: 400m}, limits: {memory: 64Mi}}")) == (1, forbidden(
        "c", "exceeded quota: compute, requested: pods=1,requests.cpu=400m, used: pods=2,requests.cpu=800m, "
             "limited: pods=2,requests.cpu=1"))
    server.kubectl("-n", ns, "delete", "pod", "a", "--wait=false")
    # the controller gives back what the deleted pod used; admission then charges the next one
    wait_for_used(server, ns, "compute", {"pods": "1", "requests.cpu": "400m", "limits.memory": "64Mi"})
    assert create(server, ns, pod("d", "{requests: {cpu: 700m}, limits: {memory: 64Mi}}")) == (1, forbidden(
        "d", "exceeded quota: compute, requested: requests.cpu=700m, used: requests.cpu=400m, limited: requests.cpu=1"))
    assert create(server, ns, pod("e", "{requests: {cpu: 600m}, limits: {memory: 64Mi}}")) == (0, "")
    wait_for_used(server, ns, "compute", {"pods": "2", "requests.cpu": "1", "limits.memory": "128Mi"})
