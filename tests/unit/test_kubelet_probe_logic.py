"""Probe logic: thresholds, startup gating, results → container status and pod conditions, upstream texts.

The HTTP and TCP actions run against servers on 127.0.0.1 in the test's own process (no root, no
namespaces): the texts they produce are the ones real clusters print.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, AsyncIterator

import pytest
from aiohttp import web

from kinn.kubelet.actions import (ActionError, Outcome, dial_error, http_get_request, http_probe,
                                  resolve_container_port, tcp_probe)
from kinn.kubelet.probes import (PodProbes, ProbeSpec, ProbeType, Result, ResultRun, Ticker, kill_message,
                                 static_environment)
from kinn.kubelet.status import ContainerRecord, StatusManager, pod_status

Obj = dict[str, Any]


# -- thresholds ---------------------------------------------------------------------------------

def test_probe_spec_defaults_are_the_apis() -> None:
    spec = ProbeSpec.from_api({"httpGet": {"port": 80}})
    assert (spec.initial_delay, spec.period, spec.timeout, spec.success_threshold, spec.failure_threshold) == \
        (0, 10, 1, 1, 3)
    assert spec.termination_grace_period is None


def test_failures_count_only_in_a_row_up_to_the_threshold() -> None:
    run = ResultRun(ProbeType.READINESS, ProbeSpec({}, failure_threshold=3))
    assert [run.observe(r) for r in (Result.FAILURE, Result.FAILURE, Result.SUCCESS)] == [False, False, True]
    assert [run.observe(Result.FAILURE) for _ in range(4)] == [False, False, True, True]
    assert not run.on_hold  # readiness keeps probing a failing container


def test_success_threshold_needs_that_many_successes_in_a_row() -> None:
    run = ResultRun(ProbeType.READINESS, ProbeSpec({}, success_threshold=2, failure_threshold=1))
    assert [run.observe(r) for r in (Result.SUCCESS, Result.FAILURE, Result.SUCCESS, Result.SUCCESS)] == \
        [False, True, False, True]


@pytest.mark.parametrize("probe_type", [ProbeType.LIVENESS, ProbeType.STARTUP])
def test_a_liveness_or_startup_failure_holds_the_worker_and_starts_counting_again(probe_type: ProbeType) -> None:
    run = ResultRun(probe_type, ProbeSpec({}, failure_threshold=2))
    assert not run.observe(Result.FAILURE) and run.observe(Result.FAILURE)
    assert run.on_hold and run.run == 0


def test_the_probe_ticker_keeps_its_beat_whatever_else_wakes_the_worker() -> None:
    ticker = Ticker(period=1.0, due=1.0)  # started at 0
    assert ticker.delay(0.2) == pytest.approx(0.8)  # probed at 0.2 on a manual trigger: the tick stays at 1
    assert ticker.delay(0.3) == pytest.approx(0.7)  # and again at 0.3
    ticker.ticked()  # the wait ran out at 1.0
    assert ticker.delay(1.05) == pytest.approx(0.95)
    ticker.ticked()
    # A probe from 2.0 to 4.5: the ticks at 3 and 4 came meanwhile; one is taken at once, the other dropped.
    assert ticker.delay(4.5) == 0.0
    assert ticker.delay(4.5) == pytest.approx(0.5)


def test_kill_messages() -> None:
    assert kill_message("app", ProbeType.LIVENESS, True) == "Container app failed liveness probe, will be restarted"
    assert kill_message("app", ProbeType.STARTUP, False) == "Container app failed startup probe"


def test_exec_probes_expand_only_static_values() -> None:
    container = {"env": [{"name": "FILE", "value": "/tmp/ok"}, {"name": "NODE", "valueFrom": {"fieldRef": {}}}]}
    assert static_environment(container) == {"FILE": "/tmp/ok", "NODE": ""}


# -- results → status ----------------------------------------------------------------------------

def running_record(name: str, container_id: str) -> ContainerRecord:
    """A record of a running container; only its ID and start matter to the prober and the status."""
    record = ContainerRecord(name, "busybox")
    record.process = SimpleNamespace(id=container_id, started_at=datetime.now(timezone.utc), exit=None)  # type: ignore
    return record


class Target:
    """A pod as the probe workers see it: the PodWorker's fields, without the pod worker."""

    def __init__(self, containers: list[Obj], records: list[ContainerRecord]) -> None:
        self.pod = {"metadata": {"name": "web", "namespace": "default", "uid": "u-1"},
                    "spec": {"containers": containers}}
        self.pod_ips = ["10.244.1.5"]
        self.init: list[ContainerRecord] = []
        self.containers = records
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


def container(name: str, **probes: Obj) -> Obj:
    # A long initial delay keeps the workers from probing: the test sets the results itself.
    return {"name": name, **{field: {"initialDelaySeconds": 3600, **probe} for field, probe in probes.items()}}


@pytest.fixture
async def probes() -> AsyncIterator[tuple[PodProbes, Target]]:
    target = Target([container("app", readinessProbe={"tcpSocket": {"port": 80}},
                               startupProbe={"tcpSocket": {"port": 80}}),
                     container("sidecar")],
                    [running_record("app", "c1"), running_record("sidecar", "c2")])
    pod_probes = PodProbes(target, prober=None)  # type: ignore[arg-type]
    pod_probes.start()
    yield pod_probes, target
    pod_probes.stop(*ProbeType)
    await asyncio.sleep(0)


def conditions(status: Obj) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c.get("reason", ""), c.get("message", "")) for c in status["conditions"]}


def status_of(pod_probes: PodProbes, target: Target) -> Obj:
    return pod_status(target.pod, host_ip="10.240.0.21", pod_ips=target.pod_ips, start_time="", sandbox_ready=True,
                      init=[], containers=target.containers, probes=pod_probes)


async def test_startup_gates_readiness_and_readiness_starts_false(probes: tuple[PodProbes, Target]) -> None:
    pod_probes, target = probes
    app, sidecar = target.containers
    assert pod_probes.started(sidecar) and pod_probes.ready(sidecar)  # no probes: ready while running
    assert not pod_probes.started(app) and not pod_probes.ready(app)  # a startup probe that has not run yet
    status = status_of(pod_probes, target)
    assert [(s["name"], s["started"], s["ready"]) for s in status["containerStatuses"]] == \
        [("app", False, False), ("sidecar", True, True)]
    assert conditions(status)["Ready"] == ("False", "ContainersNotReady", "containers with unready status: [app]")
    assert conditions(status)["ContainersReady"] == conditions(status)["Ready"]

    pod_probes.set_result(ProbeType.STARTUP, "c1", Result.SUCCESS)
    assert pod_probes.started(app) and not pod_probes.ready(app)
    readiness = next(w for w in pod_probes._workers.values() if w.probe_type is ProbeType.READINESS)
    assert readiness._wakeup.is_set()  # asked to probe now rather than in a period

    pod_probes.set_result(ProbeType.READINESS, "c1", Result.SUCCESS)
    status = status_of(pod_probes, target)
    assert all(s["ready"] and s["started"] for s in status["containerStatuses"])
    assert conditions(status)["Ready"] == ("True", "", "") and conditions(status)["ContainersReady"] == ("True", "", "")


async def test_the_status_stamps_its_own_copy_of_the_schedulers_condition(probes: tuple[PodProbes, Target]) -> None:
    """The pod is the informer's cached object, read-only, its conditions shared with other pods."""
    pod_probes, target = probes
    target.pod["status"] = {"conditions": [{"type": "PodScheduled", "status": "True"}]}
    manager = StatusManager(client=None)  # type: ignore[arg-type]
    status = manager._with_transition_times("uid", status_of(pod_probes, target))
    assert "lastTransitionTime" in next(c for c in status["conditions"] if c["type"] == "PodScheduled")
    assert target.pod["status"]["conditions"] == [{"type": "PodScheduled", "status": "True"}]


async def test_results_wake_the_pod_worker_only_when_they_change(probes: tuple[PodProbes, Target]) -> None:
    pod_probes, target = probes
    before = target.wakes
    pod_probes.set_result(ProbeType.READINESS, "c9", Result.FAILURE)
    pod_probes.set_result(ProbeType.READINESS, "c9", Result.FAILURE)
    pod_probes.set_result(ProbeType.READINESS, "c9", Result.SUCCESS)
    assert target.wakes == before + 2


async def test_a_failed_startup_or_liveness_result_marks_the_run_for_killing(probes: tuple[PodProbes, Target]) -> None:
    pod_probes, target = probes
    app = target.containers[0]
    assert pod_probes.failed(app) is None
    pod_probes.set_result(ProbeType.STARTUP, "c1", Result.FAILURE)
    assert pod_probes.failed(app) is ProbeType.STARTUP
    app.process = SimpleNamespace(id="c3", started_at=datetime.now(timezone.utc), exit=None)  # type: ignore
    assert pod_probes.failed(app) is None  # the next run starts from the initial results


# -- actions ---------------------------------------------------------------------------------------

def test_ports_resolve_by_number_name_or_numeric_string() -> None:
    spec = {"ports": [{"name": "http", "containerPort": 8080}]}
    assert resolve_container_port(80, spec) == 80
    assert resolve_container_port("http", spec) == 8080
    assert resolve_container_port("9090", spec) == 9090
    with pytest.raises(ActionError, match=r'^strconv.Atoi: parsing "metrics": invalid syntax$'):
        resolve_container_port("metrics", spec)
    with pytest.raises(ActionError, match="^invalid port number: 70000$"):
        resolve_container_port(70000, spec)


def test_http_get_request_defaults_and_user_headers() -> None:
    request = http_get_request({"port": 8080, "path": "/healthz", "scheme": "HTTP"}, {}, "10.244.1.5", "probe")
    assert request.url == "http://10.244.1.5:8080/healthz"
    assert dict(request.headers) == {"User-Agent": "kube-probe/1.32", "Accept": "*/*"}
    custom = http_get_request({"port": 443, "host": "fd00::5", "scheme": "HTTPS", "path": "ready?full=1",
                               "httpHeaders": [{"name": "user-agent", "value": "mine"},
                                               {"name": "Accept", "value": ""}, {"name": "X-A", "value": "1"}]},
                              {}, "10.244.1.5", "lifecycle")
    assert custom.url == "https://[fd00::5]:443/ready?full=1"
    assert dict(custom.headers) == {"user-agent": "mine", "X-A": "1"}


def test_dial_errors_read_as_go_prints_them() -> None:
    assert dial_error("10.244.1.5", 8080, ConnectionRefusedError(111, "Connection refused")) == \
        "dial tcp 10.244.1.5:8080: connect: connection refused"
    assert dial_error("10.244.1.5", 8080, OSError(113, "No route to host")) == \
        "dial tcp 10.244.1.5:8080: connect: no route to host"


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[Obj]]]:
    """An HTTP server on 127.0.0.1 with the answers the tests need; it records the headers it got."""
    seen: list[Obj] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.headers))
        code = int(request.match_info["code"])
        if code in (301, 302):
            raise web.HTTPFound(request.query.get("to", "/status/200"))
        if code == 0:
            await asyncio.sleep(1)
        return web.Response(status=code or 200, text=f"answer {code}")

    app = web.Application()
    app.router.add_get("/status/{code}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"127.0.0.1:{port}", seen
    await runner.cleanup()


def probe_request(address: str, path: str) -> Any:
    host, port = address.split(":")
    return http_get_request({"port": int(port), "path": path}, {}, host, "probe")


async def test_http_probe_outcomes_and_messages(server: tuple[str, list[Obj]]) -> None:
    address, seen = server
    ok = await http_probe(probe_request(address, "/status/204"), 1)
    assert ok.outcome is Outcome.SUCCESS
    assert seen[-1]["User-Agent"] == "kube-probe/1.32" and seen[-1]["Accept"] == "*/*"
    assert "Accept-Encoding" not in seen[-1]
    failed = await http_probe(probe_request(address, "/status/500"), 1)
    assert (failed.outcome, failed.output) == (Outcome.FAILURE, "HTTP probe failed with statuscode: 500")
    followed = await http_probe(probe_request(address, "/status/302"), 1)
    assert followed.outcome is Outcome.SUCCESS and followed.output == "answer 200"
    away = await http_probe(probe_request(address, "/status/302?to=http://192.0.2.1/"), 1)
    assert away.outcome is Outcome.WARNING and away.output.startswith("Probe terminated redirects, Response body:")
    slow = await http_probe(probe_request(address, "/status/0"), 0.3)
    assert (slow.outcome, slow.output) == (Outcome.FAILURE, f'Get "http://{address}/status/0": context deadline '
                                                            "exceeded (Client.Timeout exceeded while awaiting headers)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_refused_connections_fail_with_the_dial_error() -> None:
    port = free_port()
    refused = await http_probe(probe_request(f"127.0.0.1:{port}", "/healthz"), 1)
    assert refused.outcome is Outcome.FAILURE
    assert refused.output == f'Get "http://127.0.0.1:{port}/healthz": dial tcp 127.0.0.1:{port}: connect: ' \
                             "connection refused"
    tcp = await tcp_probe("127.0.0.1", port, 1)
    assert (tcp.outcome, tcp.output) == (Outcome.FAILURE, f"dial tcp 127.0.0.1:{port}: connect: connection refused")


async def test_tcp_probe_succeeds_on_a_completed_handshake(server: tuple[str, list[Obj]]) -> None:
    host, port = server[0].split(":")
    assert (await tcp_probe(host, int(port), 1)).outcome is Outcome.SUCCESS
