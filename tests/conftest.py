"""Shared fixtures: a real `kinn apiserver` (or `kinn server` with hollow nodes), and the real kubectl."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Callable, Iterator

import pytest

from kinn.client.rest import Client

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


@dataclass
class RunningAPIServer:
    process: subprocess.Popen[bytes]
    data_dir: Path
    kubeconfig: Path
    log: Path
    cache_dir: Path
    companions: list[subprocess.Popen[bytes]] = field(default_factory=list)  # e.g. hollow nodes

    @property
    def url(self) -> str:
        import yaml

        config = yaml.safe_load(self.kubeconfig.read_text())
        return config["clusters"][0]["cluster"]["server"]

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against this server with its own discovery cache."""
        result = subprocess.run([KUBECTL, *args], input=input, capture_output=True, text=True,
                                env=self.kubectl_env(env), timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def kubectl_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment pointing kubectl at this server, with a discovery cache no other run shares."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.cache_dir),
                **(extra or {})}

    def kubectl_stream(self, *args: str) -> "StreamingKubectl":
        """Start a long-running kubectl (`get -w`, `delete --wait`) whose output is read while it runs."""
        return StreamingKubectl(subprocess.Popen([KUBECTL, *args], stdout=subprocess.PIPE,
                                                 stderr=subprocess.PIPE, text=True, env=self.kubectl_env()))

    def api_client(self) -> "kubernetes.client.ApiClient":
        """An official `kubernetes` client for this server, loaded from its kubeconfig (not the global one)."""
        import kubernetes

        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=configuration)
        return kubernetes.client.ApiClient(configuration)

    def session(self, credentials: bool = True) -> "requests.Session":
        """Raw HTTPS with the admin client certificate, for requests no typed client would send."""
        import requests

        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override `verify`
        session.verify = str(self.data_dir / "pki" / "ca.crt")
        if credentials:
            session.cert = (str(self.data_dir / "pki" / "admin.crt"), str(self.data_dir / "pki" / "admin.key"))
        return session

    def ssl_context(self) -> ssl.SSLContext:
        """TLS trusting the cluster CA and presenting the admin certificate, for aiohttp clients."""
        context = ssl.create_default_context(cafile=str(self.data_dir / "pki" / "ca.crt"))
        context.load_cert_chain(self.data_dir / "pki" / "admin.crt", self.data_dir / "pki" / "admin.key")
        return context

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """End the companions, then the server, each by PID."""
        for process in [*self.companions, self.process]:
            if process.poll() is None:
                process.send_signal(sig)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


class StreamingKubectl:
    """A kubectl process whose stdout lines are collected by a thread, so a test can wait for a line to
    appear without blocking; used as a context manager it is always stopped (by PID) on exit."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in self.lines if predicate(line)), None)
            if found is not None:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no matching line from kubectl within {timeout}s; got {self.lines}")

    def wait(self, timeout: float = 30) -> tuple[int, str]:
        """Exit code and stderr once the process ends on its own."""
        self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        assert self.process.stderr is not None
        return self.process.returncode, self.process.stderr.read()

    def __enter__(self) -> "StreamingKubectl":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def start_apiserver(data_dir: Path, extra_args: tuple[str, ...] = (), command: str = "apiserver") -> RunningAPIServer:
    """Start `kinn apiserver` (or `kinn server`) on a free port and wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    kubeconfig = data_dir / "kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    log = data_dir / f"{command}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "kinn", command, "--data-dir", str(data_dir), "--secure-port", "0",
         "--kubeconfig-out", str(kubeconfig), *extra_args],
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    server = RunningAPIServer(process, data_dir, kubeconfig, log, data_dir / "kubectl-cache")
    deadline = time.monotonic() + 30
    while not kubeconfig.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"kinn {command} did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return server


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPIServer]:
    server = start_apiserver(tmp_path_factory.mktemp("apiserver"))
    yield server
    server.stop()


def start_hollow_nodes(server: RunningAPIServer, count: int, prefix: str = "hollow-") -> subprocess.Popen[bytes]:
    """Start `kinn hollow-nodes` against the server and wait until its nodes are Ready."""
    log = server.data_dir / f"{prefix}nodes.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "kinn", "hollow-nodes", "--kubeconfig", str(server.kubeconfig), "--count", str(count),
         "--name-prefix", prefix, "--lease-renew-interval", "1s"], stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    server.companions.append(process)
    deadline = time.monotonic() + 30
    jsonpath = '{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}'
    while True:
        nodes = server.kubectl("get", "nodes", "-o", f"jsonpath={jsonpath}").stdout.split()
        if sum(n.startswith(prefix) and n.endswith("=True") for n in nodes) == count:
            return process
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"hollow nodes did not become Ready:\n{log.read_text()}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPIServer]:
    """`kinn server` (API server + scheduler + controller manager) with three hollow nodes.

    Nodes renew their Leases every second and are declared lost after five silent seconds, so
    node-failure tests take seconds rather than the production 40.
    """
    server = start_apiserver(tmp_path_factory.mktemp("server"), ("--node-monitor-grace-period", "5s"), command="server")
    try:
        start_hollow_nodes(server, 3)
    except BaseException:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture
async def client(apiserver: RunningAPIServer) -> AsyncIterator[Client]:
    """kinn's own client library, connected to the module's API server (closed after the test)."""
    async with Client.from_kubeconfig(str(apiserver.kubeconfig)) as c:
        yield c


@pytest.fixture(scope="module")
def node_netns() -> Iterator[str]:
    """A fresh named netns for one node (`kinn kubelet --node-netns`), deleted with all it holds.

    A module fixture of its own, so a module's API server can be started with `--cluster-netns`
    set to it before the node's kubelet runs there (the API server dials kubelets from it)."""
    from kinn import netlink

    netns = f"kt-kl-{uuid.uuid4().hex[:6]}"
    netlink.create(netns)
    try:
        yield netns
    finally:
        netlink.delete(netns)  # takes the bridge and any veth with it


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh scratch namespace for one test, deleted afterwards with all the rules and links it holds."""
    from kinn import netlink

    name = f"kinn-test-{uuid.uuid4().hex[:6]}"
    netlink.netns.create(name)
    try:
        yield name
    finally:
        netlink.netns.delete(name)


@pytest.fixture
def two_netns() -> Iterator[tuple[str, str]]:
    """Two fresh scratch namespaces, deleted afterwards (with all the rules and links they hold)."""
    from kinn import netlink

    names = [f"kinn-test-{uuid.uuid4().hex[:6]}-{side}" for side in ("a", "b")]
    try:
        for name in names:
            netlink.netns.create(name)
        yield names[0], names[1]
    finally:
        for name in names:
            netlink.netns.delete(name)
