"""Finding, loading and validating labs (`examples/<seed>/lab.yaml`).

    seed: "003"
    title: Kubernetes networking behind the scenes
    article: 003_69f87e00dd249d53.txt       # the seed it reproduces (../shared/seeds/)
    cluster: cluster.yaml                    # `kinn up --config`, relative to the lab's folder
    intro: |                                 # what the article shows and how the lab differs
      …
    steps:
    - title: The pods' network namespaces
      explain: Every pod's pause process owns a netns …      # before the command
      run: kinn node exec worker-1 -- ip netns               # a bash script, run in the lab's folder
      expect: '^cni-[0-9a-f-]+'                              # the key observation (Python regex, multiline)
      eventually: true                                       # re-run until `expect` holds (rules being synced)
      timeout: 60                                            # seconds for the command (and for `eventually`)
      notice: The names are libcni's cni-<uuid> …            # after the output: what to notice
      lines: 20                                              # output lines the walkthrough keeps

Mistakes are reported as Kubernetes field errors with each field's path, as the cluster config's are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import kinn
from kinn.api import field as fld

LAB_FILE = "lab.yaml"
DEFAULT_TIMEOUT = 60.0
DEFAULT_LINES = 20
STEP_FIELDS = ("title", "run", "explain", "notice", "expect", "eventually", "timeout", "lines")


class LabError(ValueError):
    """A lab cannot be found or its lab.yaml is invalid."""


def examples_dir() -> Path:
    """The checkout's examples/: kinn is run from its source tree (src/kinn → ../../examples)."""
    return Path(kinn.__file__).resolve().parents[2] / "examples"


@dataclass(frozen=True)
class Step:
    title: str
    run: str
    explain: str = ""
    notice: str = ""
    expect: re.Pattern[str] | None = None
    eventually: bool = False
    timeout: float = DEFAULT_TIMEOUT
    lines: int = DEFAULT_LINES


@dataclass(frozen=True)
class Lab:
    directory: Path
    seed: str
    title: str
    article: str
    cluster_config: Path
    intro: str
    steps: tuple[Step, ...]

    @property
    def name(self) -> str:
        """The lab's folder name, e.g. seed-003-behind-the-scenes."""
        return self.directory.name


def find(reference: str, root: Path | None = None) -> Lab:
    """A lab by seed number (`003`, `3`), folder name, or path to a folder holding lab.yaml."""
    path = Path(reference)
    if (path / LAB_FILE).is_file():
        return load(path)
    root = root or examples_dir()
    wanted = f"seed-{int(reference):03d}" if reference.isdigit() else reference
    matches = [d for d in lab_dirs(root) if d.name == wanted or d.name.startswith(wanted + "-")]
    if len(matches) != 1:
        known = ", ".join(d.name for d in lab_dirs(root)) or "none"
        raise LabError(f'no lab "{reference}" in {root} (labs: {known})')
    return load(matches[0])


def lab_dirs(root: Path | None = None) -> list[Path]:
    """The folders of examples/ that hold a lab.yaml, sorted (seed order)."""
    root = root or examples_dir()
    if not root.is_dir():
        raise LabError(f"{root} not found: kinn lab runs the labs of a source checkout (examples/ at the repository "
                       f"root, next to src/); run kinn from a checkout, or pass a lab folder's path")
    return sorted(d for d in root.iterdir() if (d / LAB_FILE).is_file())


def load(directory: Path) -> Lab:
    """Read and validate `directory/lab.yaml`; every problem is reported at once."""
    path = directory / LAB_FILE
    try:
        doc = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    except (OSError, yaml.YAMLError) as error:
        raise LabError(f"{path}: {error}") from error
    if not isinstance(doc, dict):
        raise LabError(f"{path}: must be a YAML mapping with seed, title, cluster and steps")
    errors: list[fld.FieldError] = []
    strings = {key: _string(doc, key, fld.Path(key), errors, required=key != "intro")
               for key in ("seed", "title", "article", "cluster", "intro")}
    cluster = directory / strings["cluster"]
    if strings["cluster"] and not cluster.is_file():
        errors.append(fld.not_found(fld.Path("cluster"), strings["cluster"]))
    steps = _steps(doc.get("steps"), fld.Path("steps"), errors)
    if errors:
        raise LabError(f"{path} is invalid:\n" + "\n".join(f"  {error}" for error in errors))
    return Lab(directory=directory.resolve(), seed=strings["seed"], title=strings["title"],
               article=strings["article"], cluster_config=cluster.resolve(), intro=strings["intro"].strip(),
               steps=steps)


def _steps(docs: Any, path: fld.Path, errors: list[fld.FieldError]) -> tuple[Step, ...]:
    if not isinstance(docs, list) or not docs:
        errors.append(fld.required(path, "a lab needs at least one step"))
        return ()
    steps = []
    for i, doc in enumerate(docs):
        here = path.index(i)
        if not isinstance(doc, dict):
            errors.append(fld.invalid(here, doc, "must be a mapping with title and run"))
            continue
        errors.extend(fld.not_supported(here.child(key), key, STEP_FIELDS) for key in sorted(set(doc) - set(STEP_FIELDS)))
        expect = _pattern(doc.get("expect"), here.child("expect"), errors)
        if doc.get("eventually") and expect is None:
            errors.append(fld.required(here.child("expect"), "eventually re-runs the command until expect matches"))
        steps.append(Step(title=_string(doc, "title", here.child("title"), errors),
                          run=_string(doc, "run", here.child("run"), errors),
                          explain=_string(doc, "explain", here.child("explain"), errors, required=False).strip(),
                          notice=_string(doc, "notice", here.child("notice"), errors, required=False).strip(),
                          expect=expect, eventually=_bool(doc, "eventually", here, errors),
                          timeout=_positive(doc, "timeout", DEFAULT_TIMEOUT, here, errors),
                          lines=int(_positive(doc, "lines", DEFAULT_LINES, here, errors))))
    return tuple(steps)


def _string(doc: dict[str, Any], key: str, path: fld.Path, errors: list[fld.FieldError], required: bool = True) -> str:
    value = doc.get(key)
    if value is None or value == "":
        if required:
            errors.append(fld.required(path))
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        errors.append(fld.invalid(path, value, "must be a string"))
        return ""
    return str(value)


def _pattern(value: Any, path: fld.Path, errors: list[fld.FieldError]) -> re.Pattern[str] | None:
    if value is None:
        return None
    try:
        return re.compile(str(value), re.MULTILINE)
    except re.error as error:
        errors.append(fld.invalid(path, value, f"must be a regular expression: {error}"))
        return None


def _bool(doc: dict[str, Any], key: str, path: fld.Path, errors: list[fld.FieldError]) -> bool:
    value = doc.get(key, False)
    if not isinstance(value, bool):
        errors.append(fld.invalid(path.child(key), value, "must be true or false"))
        return False
    return value


def _positive(doc: dict[str, Any], key: str, default: float, path: fld.Path, errors: list[fld.FieldError]) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        errors.append(fld.invalid(path.child(key), value, "must be a positive number"))
        return default
    return float(value)
