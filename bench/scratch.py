"""Scratch directories for the benchmarks: removed when the run ends, kept (and named) when it
failed, for the logs of the servers it started. A bench run writes tens of MB (stores, logs,
certificates); left behind, a day of runs fills /tmp."""

from __future__ import annotations

import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    except BaseException:
        print(f"(kept {path} for its logs)", file=sys.stderr)
        raise
    shutil.rmtree(path, ignore_errors=True)
