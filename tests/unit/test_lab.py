"""`kinn lab`: loading and validating lab.yaml, finding labs, running steps and checking observations,
trimming output for the walkthrough. The labs in examples/ are loaded as they ship."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from kinn.lab.lab import LabError, Step, examples_dir, find, lab_dirs, load
from kinn.lab.runner import run_step, step_environment
from kinn.lab.walkthrough import command_lines, trim

VALID = """\
seed: "007"
title: A lab
article: 007_x.txt
cluster: cluster.yaml
steps:
- title: first
  run: echo hello
  expect: '^hel+o$'
"""


def write_lab(tmp_path: Path, text: str, name: str = "seed-007-a-lab") -> Path:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "lab.yaml").write_text(textwrap.dedent(text))
    (directory / "cluster.yaml").write_text("kind: Cluster\n")
    return directory


def test_a_valid_lab_loads_with_defaults(tmp_path: Path) -> None:
    lab = load(write_lab(tmp_path, VALID))
    assert (lab.seed, lab.title, lab.name) == ("007", "A lab", "seed-007-a-lab")
    assert lab.cluster_config == (tmp_path / "seed-007-a-lab" / "cluster.yaml").resolve()
    [step] = lab.steps
    assert step.run == "echo hello" and step.expect is not None and step.expect.search("x\nhello\n")
    assert (step.eventually, step.timeout, step.lines) == (False, 60.0, 20)


def test_every_mistake_is_reported_with_its_field_path(tmp_path: Path) -> None:
    text = """\
    seed: "007"
    cluster: missing.yaml
    steps:
    - title: no command
      expect: '(unclosed'
      eventually: yes-please
      timeout: -1
      colour: red
    - just a string
    """
    with pytest.raises(LabError) as error:
        load(write_lab(tmp_path, text))
    message = str(error.value)
    for expected in ("title: Required value", "article: Required value", 'cluster: Not found: "missing.yaml"',
                     "steps[0].run: Required value", "steps[0].expect: Invalid value",
                     "steps[0].eventually: Invalid value", "steps[0].timeout: Invalid value",
                     'steps[0].colour: Unsupported value: "colour"', "steps[1]: Invalid value"):
        assert expected in message, message


def test_eventually_needs_an_observation_to_wait_for(tmp_path: Path) -> None:
    text = VALID.replace("  expect: '^hel+o$'\n", "  eventually: true\n")
    with pytest.raises(LabError, match=r"steps\[0\]\.expect: Required value"):
        load(write_lab(tmp_path, text))


def test_find_by_seed_number_folder_name_or_path(tmp_path: Path) -> None:
    directory = write_lab(tmp_path, VALID)
    assert find("007", root=tmp_path).directory == directory.resolve()
    assert find("7", root=tmp_path).name == "seed-007-a-lab"
    assert find("seed-007-a-lab", root=tmp_path).name == "seed-007-a-lab"
    assert find(str(directory)).name == "seed-007-a-lab"
    with pytest.raises(LabError, match=r'no lab "008" in .* \(labs: seed-007-a-lab\)'):
        find("008", root=tmp_path)


def test_a_missing_examples_directory_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="not found: kinn lab runs the labs of a source checkout"):
        lab_dirs(tmp_path / "examples")


def test_the_shipped_labs_load() -> None:
    """examples/ is found from the package (src/kinn → the repository root) and every lab is valid."""
    labs = [load(directory) for directory in lab_dirs()]
    assert examples_dir() == Path(__file__).resolve().parents[2] / "examples"
    assert [lab.seed for lab in labs] == sorted(lab.seed for lab in labs)
    assert all(lab.steps and lab.cluster_config.is_file() for lab in labs)


def step(run: str, expect: str | None = None, **fields: object) -> Step:
    return Step(title="t", run=run, expect=re.compile(expect, re.MULTILINE) if expect else None, **fields)


def test_a_step_holds_when_it_exits_zero_and_its_observation_matches(tmp_path: Path) -> None:
    env = step_environment("lab-cluster")
    ok = step('echo "$KINN_CLUSTER_NAME"; echo oops >&2', expect=r"^lab-cluster\noops$")
    result = run_step(ok, tmp_path, env)
    assert result.failure(ok) is None and result.observed(ok) == "lab-cluster"
    missing = step("echo hello", expect="^bye$")
    assert run_step(missing, tmp_path, env).failure(missing) == "expected /^bye$/ in its output"
    failing = step("echo hello | false")  # pipefail: a failing stage fails the step
    assert run_step(failing, tmp_path, env).failure(failing) == "exited with status 1"


def test_a_step_that_outlives_its_timeout_is_ended_with_what_it_started(tmp_path: Path) -> None:
    slow = step("echo started; sleep 30 | cat", timeout=0.5)
    result = run_step(slow, tmp_path, step_environment("c"))
    assert result.failure(slow) == "timed out after 0.5s" and result.output == "started\n"
    assert result.seconds < 5


def test_an_eventual_step_is_rerun_until_its_observation_holds(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    eventual = step(f"echo x >> {counter}; wc -l < {counter}", expect="^3$", eventually=True, timeout=20)
    result = run_step(eventual, tmp_path, step_environment("c"))
    assert result.failure(eventual) is None and counter.read_text() == "x\nx\nx\n"


def test_trim_keeps_the_head_and_the_matched_lines() -> None:
    output = "\n".join(f"line {i}" for i in range(10)) + "\n"
    assert trim(output, 20) == output.rstrip("\n")
    assert trim(output, 3) == "line 0\nline 1\nline 2\n…"
    assert trim(output, 3, re.compile("^line [67]$", re.MULTILINE)) == "line 0\nline 1\nline 2\n…\nline 6\nline 7\n…"
    assert trim(output, 3, re.compile("line 9")) == "line 0\nline 1\nline 2\n…\nline 9"


def test_command_lines_prompt_each_command_but_not_continuations() -> None:
    assert command_lines("kubectl get pods \\\n  -o wide\nip route\n") == "$ kubectl get pods \\\n  -o wide\n$ ip route"
    assert command_lines("sh -c '\n  ip link\n  ip route'\nls\n") == "$ sh -c '\n  ip link\n  ip route'\n$ ls"
