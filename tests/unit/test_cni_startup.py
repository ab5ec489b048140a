"""A plugin's start-up time is part of every pod's start-up time: kinn's plugins stay light to
import, run without `-m`/runpy, and delegate without subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kinn.cni import CNIError, install
from kinn.cni.invoke import exec_plugin

# Modules that cost milliseconds each at every plugin start and that the plugin chain does without
# (json: its decoder compiles regular expressions at import, so it brings re and enum).
HEAVY = {"typing", "subprocess", "pathlib", "importlib", "importlib.util", "runpy", "dataclasses", "inspect",
         "ipaddress", "json", "re", "enum"}


def imported_by(module: str) -> set[str]:
    """sys.modules of a fresh isolated interpreter (as the launcher runs it) after importing `module`."""
    code = f"import sys, {module}; print(' '.join(sys.modules))"
    return set(subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                              check=True).stdout.split())


@pytest.mark.parametrize("module", ["kinn.cni.plugins.flannel", "kinn.cni.plugins.skel", "kinn.cni.invoke"])
def test_plugin_import_chain_leaves_out_heavy_modules(module: str) -> None:
    assert imported_by(module) & HEAVY == set()


def test_launcher_runs_the_plugin_without_a_shell_or_runpy(tmp_path: Path) -> None:
    flannel = install(tmp_path, ["flannel"])[0]
    assert flannel.read_text().splitlines()[0] == f"#!{sys.executable} -IS"  # isolated, without site
    proc = subprocess.run([str(flannel)], env={**os.environ, "CNI_COMMAND": "VERSION"}, capture_output=True,
                          check=True)
    assert json.loads(proc.stdout)["supportedVersions"][-1] == "1.1.0"


def delegate(tmp_path: Path, script: str) -> dict[str, str]:
    """A delegate named `fake` in its own CNI_PATH; returns the environment that finds it."""
    path = tmp_path / "fake"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return {"PATH": os.environ["PATH"], "CNI_PATH": str(tmp_path), "CNI_CONTAINERID": "c1"}


def test_exec_plugin_feeds_stdin_and_reads_the_answer(tmp_path: Path) -> None:
    env = delegate(tmp_path, 'echo "{\\"command\\": \\"$CNI_COMMAND\\", \\"config\\": $(cat)}"\n')
    answer = exec_plugin("fake", "DEL", {"cniVersion": "1.0.0", "name": "n" * 100_000}, env)
    assert answer == {"command": "DEL", "config": {"cniVersion": "1.0.0", "name": "n" * 100_000}}


def test_exec_plugin_reports_a_failure_with_its_stderr(tmp_path: Path) -> None:
    # more stderr than a pipe holds: the child must not block on it while the caller waits
    env = delegate(tmp_path, "cat >/dev/null; head -c 200000 /dev/zero | tr '\\0' x >&2; exit 3\n")
    with pytest.raises(CNIError, match=r"plugin fake failed \(exit 3\)") as failure:
        exec_plugin("fake", "ADD", {}, env)
    assert failure.value.details == "x" * 200_000


def test_exec_plugin_passes_the_delegate_error_object_through(tmp_path: Path) -> None:
    env = delegate(tmp_path, 'cat >/dev/null; echo \'{"code": 7, "msg": "bad config", "details": "d"}\'; exit 1\n')
    with pytest.raises(CNIError) as failure:
        exec_plugin("fake", "ADD", {}, env)
    assert (failure.value.code, failure.value.msg, failure.value.details) == (7, "bad config", "d")
