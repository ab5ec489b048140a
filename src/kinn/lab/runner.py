"""Running a lab's steps and checking their observations.

A step is a bash script run in the lab's folder with the cluster's name in KINN_CLUSTER_NAME (so the
`kinn node exec …` it contains needs no --name, as kind's commands read KIND_CLUSTER_NAME) and this
installation's `kinn` first on PATH. Its observation holds when the script exits 0 and `expect`
matches its output; an `eventually` step is re-run until it does (kube-proxy syncing a rule, conntrack
seeing a flow), within its timeout — a wait on a condition with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kinn.lab.lab import Step

CLUSTER_NAME_ENV = "KINN_CLUSTER_NAME"
POLL_INTERVAL = 0.5  # between runs of an `eventually` step


@dataclass(frozen=True)
class StepResult:
    output: str  # stdout and stderr, interleaved as a terminal shows them
    returncode: int | None  # None: the command timed out
    seconds: float

    def failure(self, step: Step) -> str | None:
        """Why the step's observation did not hold, or None if it did."""
        if self.returncode is None:
            return f"timed out after {step.timeout:g}s"
        if self.returncode != 0:
            return f"exited with status {self.returncode}"
        if step.expect is not None and not step.expect.search(self.output):
            return f"expected /{step.expect.pattern}/ in its output"
        return None

    def observed(self, step: Step) -> str:
        """The first line `expect` matched: the line a reader should look at."""
        match = step.expect.search(self.output) if step.expect else None
        return match.group(0).strip().split("\n")[0] if match else ""


def step_environment(cluster: str) -> dict[str, str]:
    """The user's environment, plus the cluster's name and this kinn on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, CLUSTER_NAME_ENV: cluster, "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}


def run_step(step: Step, cwd: Path, env: dict[str, str]) -> StepResult:
    """Run the step once, or (eventually) until its observation holds or its timeout passes."""
    started = time.monotonic()
    deadline = started + step.timeout
    while True:
        result = _run_once(step.run, cwd, env, max(deadline - time.monotonic(), 0.1), started)
        if not step.eventually or result.failure(step) is None or time.monotonic() + POLL_INTERVAL >= deadline:
            return result
        time.sleep(POLL_INTERVAL)


def _run_once(script: str, cwd: Path, env: dict[str, str], timeout: float, started: float) -> StepResult:
    """The script in its own process group, so a timeout also ends what it started (a tcpdump waiting
    for packets would otherwise hold the output pipe open)."""
    with subprocess.Popen(["bash", "-o", "pipefail", "-c", script], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            return StepResult(output, None, time.monotonic() - started)
    return StepResult(output, process.returncode, time.monotonic() - started)
