"""Reading what kubectl prints, for the kubectl and control-plane e2e suites: aligned tables cut into
exact cells, `kubectl get -o json`, manifests, and polling with a deadline instead of sleeping."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Callable

MANIFESTS = Path(__file__).parent / "manifests"

# A header is words separated by single spaces ("NOMINATED NODE"); columns are two or more spaces apart.
_HEADER_CELL = re.compile(r"\S+(?: \S+)*")
_AGE = re.compile(r"\d+s")


def manifest(name: str) -> str:
    return str(MANIFESTS / name)


def table(text: str) -> list[list[str]]:
    """The cells of kubectl's column-aligned output, header first.

    kubectl's tabwriter starts every cell where its column's header starts, so cutting each line at the
    header's offsets yields exact cells (empty ones included) and fails if a row is misaligned. AGE is the
    one clock-dependent cell: it is checked to look like a fresh object's age, then replaced by "<age>".
    """
    lines = text.splitlines()
    starts = [match.start() for match in _HEADER_CELL.finditer(lines[0])]
    for line in lines:
        for start in starts[1:]:
            assert line[start - 1:start] in ("", " "), f"cell crosses a column boundary in {line!r}"
    rows = [[line[start:end].strip() for start, end in zip(starts, [*starts[1:], None])] for line in lines]
    if "AGE" in rows[0]:
        age = rows[0].index("AGE")
        for row in rows[1:]:
            assert _AGE.fullmatch(row[age]), f"unexpected AGE {row[age]!r}"
            row[age] = "<age>"
    return rows


def get_json(cluster, *args: str) -> dict:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def wait_until(condition: Callable[[], object], timeout: float = 30, what: str = "condition") -> object:
    """Poll until `condition()` is truthy and return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
