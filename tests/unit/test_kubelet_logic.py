"""Kubelet pure logic: managed /etc files, environments, images, phases and back-off."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from kinn.kubelet import envvars, images, podfiles
from kinn.kubelet.backoff import Backoff
from kinn.kubelet.runtime import ContainerExit
from kinn.kubelet.status import EPHEMERAL_CONTAINERS, ContainerRecord, pod_phase, pod_status


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web-0", "namespace": "shop", "uid": "u-1", "labels": {"app": "web"}},
            "spec": {"nodeName": "worker-1", "containers": [{"name": "c"}], **spec}}


def test_hosts_file_lists_the_pod_ip_with_its_fqdn_under_a_subdomain() -> None:
    text = podfiles.hosts_file(pod(subdomain="web", hostAliases=[{"ip": "1.2.3.4", "hostnames": ["a", "b"]}]),
                               ["10.244.1.5"], "cluster.local")
    assert text.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert "10.244.1.5\tweb-0.web.shop.svc.cluster.local\tweb-0\n" in text
    assert text.endswith("# Entries added by HostAliases.\n1.2.3.4\ta\tb\n")


def test_resolv_conf_cluster_first_and_dns_config_override() -> None:
    assert podfiles.resolv_conf(pod(), ["10.96.0.10"], "cluster.local") == (
        "search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n")
    custom = pod(dnsPolicy="None", dnsConfig={"nameservers": ["1.1.1.1"], "options": [{"name": "ndots", "value": "2"}]})
    assert podfiles.resolv_conf(custom, ["10.96.0.10"], "cluster.local") == "nameserver 1.1.1.1\noptions ndots:2\n"


def test_service_link_variables_as_docker_links() -> None:
    service = {"metadata": {"name": "redis-master", "namespace": "shop"},
               "spec": {"clusterIP": "10.96.3.4", "ports": [{"name": "db", "port": 6379, "protocol": "TCP"}]}}
    env = envvars.service_variables(service)
    assert env == {"REDIS_MASTER_SERVICE_HOST": "10.96.3.4", "REDIS_MASTER_SERVICE_PORT": "6379",
                   "REDIS_MASTER_SERVICE_PORT_DB": "6379", "REDIS_MASTER_PORT": "tcp://10.96.3.4:6379",
                   "REDIS_MASTER_PORT_6379_TCP": "tcp://10.96.3.4:6379", "REDIS_MASTER_PORT_6379_TCP_PROTO": "tcp",
                   "REDIS_MASTER_PORT_6379_TCP_PORT": "6379", "REDIS_MASTER_PORT_6379_TCP_ADDR": "10.96.3.4"}
    other = {"metadata": {"name": "x", "namespace": "other"}, "spec": service["spec"]}
    assert "X_SERVICE_HOST" not in envvars.services_environment(pod(), [service, other])
    assert envvars.services_environment(pod(enableServiceLinks=False), [service]) == {}


def test_container_environment_field_refs_secrets_and_expansion() -> None:
    secret = {"metadata": {"name": "s", "namespace": "shop"}, "data": {"pw": base64.b64encode(b"hunter2").decode()}}
    container = {"env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                         {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                         {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
                         {"name": "URL", "value": "http://$(POD):$(PORT)/$$(POD)"}]}
    env = envvars.container_environment(pod(), container, [], ["10.244.1.5"], "10.240.0.21", {}, {"s": secret})
    assert env == {"POD": "web-0", "APP": "web", "PW": "hunter2", "URL": "http://web-0:$(PORT)/$(POD)"}
    with pytest.raises(envvars.EnvError, match='configmap "missing" not found'):
        envvars.container_environment(pod(), {"env": [{"name": "X", "valueFrom": {
            "configMapKeyRef": {"name": "missing", "key": "k"}}}]}, [], [], "", {}, {})


def test_images_catalog_and_docker_command_rules(tmp_path: Path) -> None:
    assert images.split_reference("docker.io/library/busybox:1.36") == ("busybox", "1.36")
    assert images.split_reference("docker.io/busybox") == ("busybox", "latest")
    assert images.split_reference("python") == ("python", "latest")
    python = images.resolve("python:3.11")
    assert python.name == "docker.io/library/python:3.11"  # as containerd reports it
    assert re.fullmatch(r"docker\.io/library/python@sha256:[0-9a-f]{64}", python.image_id)
    argv = python.argv(["python", "-m", "http.server"], [], tmp_path)
    assert argv[0].endswith("python3") and argv[1:] == ["-m", "http.server"]
    assert python.argv([], [], tmp_path)[0].endswith("python3")  # the image's CMD
    assert python.argv([], ["-c", "pass"], tmp_path) == ["-c", "pass"]  # args replace CMD, as in Docker
    with pytest.raises(images.ImagePullError, match='"quay.io/x/busybox".*kinn resolves images locally'):
        images.resolve("quay.io/x/busybox")


def test_kinn_image_runs_this_nodes_kinn(tmp_path: Path) -> None:
    assert images.split_reference("docker.io/kinn/kinn:0.1.0") == ("kinn/kinn", "0.1.0")
    assert images.split_reference("kinn/kinn") == ("kinn/kinn", "latest")
    kinn = images.resolve("kinn/kinn:0.1.0")
    assert kinn.name == "docker.io/kinn/kinn:0.1.0"
    assert re.fullmatch(r"docker\.io/kinn/kinn@sha256:[0-9a-f]{64}", kinn.image_id)
    assert kinn.argv(["kinn", "dns", "--port", "53"], [], tmp_path) == [sys.executable, "-m", "kinn", "dns", "--port", "53"]
    assert kinn.argv([], ["dns"], tmp_path) == [sys.executable, "-m", "kinn", "dns"]  # ENTRYPOINT kinn
    with pytest.raises(images.ImagePullError, match="no image named 'kinn/other'"):
        images.resolve("kinn/other")


def test_busybox_commands_run_as_its_applets(tmp_path: Path) -> None:
    busybox = images.resolve("busybox:1.36")
    assert busybox.name == "docker.io/library/busybox:1.36"
    assert busybox.argv([], [], tmp_path) == ["/bin/busybox", "sh"]  # the image's CMD
    assert busybox.argv(["wget", "-qO-", "http://x"], [], tmp_path) == ["/bin/busybox", "wget", "-qO-", "http://x"]
    assert busybox.argv(["/bin/sh", "-c", "true"], [], tmp_path) == ["/bin/busybox", "sh", "-c", "true"]
    assert busybox.argv(["/usr/bin/env"], [], tmp_path) == ["/usr/bin/env"]  # not where the image has applets
    assert busybox.argv(["python3"], [], tmp_path) == ["python3"]  # no such applet: the name as given


def test_nginx_container_gets_a_private_config_and_the_images_conf_d(tmp_path: Path) -> None:
    nginx = images.resolve("nginx")
    assert nginx.name == "docker.io/library/nginx:latest"
    mounts = nginx.prepare(tmp_path)
    assert [(m.host_path, m.container_path) for m in mounts] == [(tmp_path / "conf.d", Path("/etc/nginx/conf.d"))]
    assert nginx.argv([], [], tmp_path) == ["/usr/sbin/nginx", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                                            "-g", "daemon off;"]
    config = (tmp_path / "nginx.conf").read_text()
    assert f"pid {tmp_path}/nginx.pid;" in config and "access_log /dev/stdout main;" in config
    assert "include /etc/nginx/conf.d/*.conf;" in config
    assert "listen       80;" in (tmp_path / "conf.d" / "default.conf").read_text()
    # nginx itself accepts the configuration (-t tests it without binding).
    check = subprocess.run([*nginx.argv(["nginx"], ["-t", "-c", str(tmp_path / "nginx.conf")], tmp_path)],
                           capture_output=True, text=True)
    assert "syntax is ok" in check.stderr, check.stderr


def ended(name: str, code: int) -> ContainerRecord:
    record = ContainerRecord(name, "busybox")
    record.process = object()  # type: ignore[assignment]
    record.exit = ContainerExit(code, "Completed" if code == 0 else "Error", datetime.now(timezone.utc))
    return record


@pytest.mark.parametrize("policy, codes, phase", [
    ("Never", [0, 0], "Succeeded"), ("Never", [0, 1], "Failed"), ("OnFailure", [0, 0], "Succeeded"),
    ("OnFailure", [0, 1], "Running"), ("Always", [0, 0], "Running")])
def test_pod_phase_once_containers_ended(policy: str, codes: list[int], phase: str) -> None:
    assert pod_phase(pod(restartPolicy=policy), [], [ended(f"c{i}", c) for i, c in enumerate(codes)]) == phase


def test_pod_phase_pending_until_init_succeeded_and_all_started() -> None:
    assert pod_phase(pod(), [ended("init", 1)], []) == "Pending"
    assert pod_phase(pod(restartPolicy="Never"), [ended("init", 1)], []) == "Failed"
    assert pod_phase(pod(), [ended("init", 0)], [ContainerRecord("c", "busybox")]) == "Pending"


def test_pod_phase_with_a_sidecar_depends_on_the_containers_once_it_ran() -> None:
    """A sidecar never has to succeed: not yet run, the pod is Pending; once it ran, even if it ended
    (it will be restarted, whatever the pod's policy), the containers alone decide the phase."""
    waiting, crashed = ContainerRecord("side", "busybox", sidecar=True), ended("side", 1)
    crashed.sidecar = True
    assert pod_phase(pod(restartPolicy="Never"), [waiting], [ContainerRecord("c", "busybox")]) == "Pending"
    assert pod_phase(pod(restartPolicy="Never"), [crashed], [ended("c", 0)]) == "Succeeded"
    assert pod_phase(pod(restartPolicy="Never"), [crashed], [ended("c", 2)]) == "Failed"


class NoProbes:
    def started(self, record: ContainerRecord) -> bool:
        return record.running

    def ready(self, record: ContainerRecord) -> bool:
        return record.running


def test_an_ephemeral_container_has_a_status_but_no_say_in_the_phase_or_readiness() -> None:
    debugger = ContainerRecord("debugger", "busybox", kind=EPHEMERAL_CONTAINERS)
    debugger.exit = ContainerExit(1, "Error", datetime.now(timezone.utc))
    status = pod_status(pod(restartPolicy="Never"), host_ip="10.240.0.3", pod_ips=["10.244.1.5"], start_time="t",
                        sandbox_ready=True, init=[], containers=[ContainerRecord("app", "busybox")], probes=NoProbes(),
                        ephemeral=[debugger])
    assert status["phase"] == "Pending"  # the app container has not run; the debugger ended changes nothing
    [shown] = status["ephemeralContainerStatuses"]
    assert shown["name"] == "debugger" and shown["ready"] is False and "started" not in shown
    assert shown["state"]["terminated"]["exitCode"] == 1
    assert debugger.field_path == "spec.ephemeralContainers{debugger}"
    assert "ephemeralContainerStatuses" not in pod_status(
        pod(), host_ip="10.240.0.3", pod_ips=[], start_time="t", sandbox_ready=True, init=[], containers=[],
        probes=NoProbes())


def test_backoff_doubles_to_the_maximum_and_waits_from_the_failure() -> None:
    backoff = Backoff(initial=10, maximum=25)
    assert [backoff.next("k", moment) for moment in (0, 1, 2, 3)] == [10, 20, 25, 25]
    assert backoff.next("k", 100) == 10  # idle for more than 2×maximum: start over
    assert backoff.remaining("other", 0) == 0
