"""Shared fixtures: a real `kinn apiserver` process, and the real kubectl pointed at it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


@dataclass
class RunningAPIServer:
    process: subprocess.Popen[bytes]
    data_dir: Path
    kubeconfig: Path
    log: Path
    cache_dir: Path

    @property
    def url(self) -> str:
        import yaml

        config = yaml.safe_load(self.kubeconfig.read_text())
        return config["clusters"][0]["cluster"]["server"]

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against this server with its own discovery cache."""
        full_env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.cache_dir),
                    **(env or {})}
        result = subprocess.run([KUBECTL, *args], input=input, capture_output=True, text=True, env=full_env,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_apiserver(data_dir: Path, extra_args: tuple[str, ...] = ()) -> RunningAPIServer:
    """Start `kinn apiserver` on a free port and wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    kubeconfig = data_dir / "kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    log = data_dir / "apiserver.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "kinn", "apiserver", "--data-dir", str(data_dir), "--secure-port", "0",
         "--kubeconfig-out", str(kubeconfig), *extra_args],
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    server = RunningAPIServer(process, data_dir, kubeconfig, log, data_dir / "kubectl-cache")
    deadline = time.monotonic() + 30
    while not kubeconfig.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"kinn apiserver did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return server


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPIServer]:
    server = start_apiserver(tmp_path_factory.mktemp("apiserver"))
    yield server
    server.stop()
