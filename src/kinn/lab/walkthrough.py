"""A lab run as text: the terminal's step-by-step view and the walkthrough README (Markdown).

The README of every lab is this module's Markdown of a real run (`kinn lab 003 --run --markdown >
README.md`), so its commands are lab.yaml's and its output is what a cluster printed; long output is
trimmed, keeping the lines the step's observation matched.
"""

from __future__ import annotations

import re

from kinn.lab.lab import Lab, Step
from kinn.lab.runner import StepResult

ELLIPSIS = "…"


def trim(output: str, lines: int, pattern: re.Pattern[str] | None = None) -> str:
    """The first `lines` lines, then `…` and the lines `pattern` matched further down, if any."""
    all_lines = output.rstrip("\n").splitlines()
    if len(all_lines) <= lines:
        return "\n".join(all_lines)
    kept = all_lines[:lines]
    matched = _matched_lines(output, pattern) if pattern else []
    tail = [all_lines[i] for i in matched if i >= lines]
    return "\n".join([*kept, ELLIPSIS, *tail, *([ELLIPSIS] if tail and tail[-1] != all_lines[-1] else [])])


def _matched_lines(output: str, pattern: re.Pattern[str]) -> list[int]:
    """Indices of the lines the pattern's matches touch (a match may span lines)."""
    starts = [0, *(m.end() for m in re.finditer("\n", output))]
    indices: set[int] = set()
    for match in pattern.finditer(output):
        first = sum(1 for s in starts if s <= match.start()) - 1
        last = sum(1 for s in starts if s <= max(match.end() - 1, match.start())) - 1
        indices.update(range(first, last + 1))
    return sorted(indices)


def command_lines(script: str) -> str:
    """The script as a terminal shows it typed: `$ ` before each command; lines continuing one (after a
    backslash, or inside a quoted string spanning lines) as written."""
    shown, continued, quoted = [], False, False
    for line in script.strip().splitlines():
        shown.append(line if continued or quoted else f"$ {line}")
        quoted ^= line.count("'") % 2 == 1
        continued = line.endswith("\\")
    return "\n".join(shown)


def markdown_intro(lab: Lab, up_command: str, up_output: str) -> str:
    generated = f"kinn lab {lab.seed} --run --markdown > examples/{lab.name}/README.md"
    parts = [f"# Seed {lab.seed}: {lab.title}",
             f"<!-- Generated from lab.yaml by a real run: `{generated}`. Edit lab.yaml, not this file. -->",
             lab.intro,
             f"Run it yourself: `kinn lab {lab.seed}` (step by step, Enter to run each) or `kinn lab {lab.seed} "
             f"--run` (all at once, checking each observation). The article: `../shared/seeds/{lab.article}`.",
             "## The cluster",
             f"`{lab.cluster_config.name}` reproduces the article's addressing and modes:",
             "```yaml\n" + lab.cluster_config.read_text().strip() + "\n```",
             "```console\n" + command_lines(up_command) + "\n" + up_output.strip() + "\n```",
             "## The experiments"]
    return "\n\n".join(part for part in parts if part) + "\n"


def markdown_step(index: int, step: Step, result: StepResult) -> str:
    parts = [f"### {index}. {step.title}", step.explain,
             "```console\n" + command_lines(step.run) + "\n" + trim(result.output, step.lines, step.expect) + "\n```",
             step.notice]
    return "\n\n".join(part for part in parts if part) + "\n"
