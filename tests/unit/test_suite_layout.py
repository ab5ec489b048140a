"""The suite itself: pytest imports test modules by basename (rootdir-relative packages are not
used), so two modules named alike in tests/unit and tests/e2e break the collection of the whole
suite — and a run of one directory alone does not notice. This check does, in every unit run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent


def test_every_test_module_basename_is_unique() -> None:
    names = Counter(path.name for path in TESTS.rglob("*.py") if path.name != "__init__.py"
                    and "__pycache__" not in path.parts)
    assert [name for name, count in names.items() if count > 1] == []
