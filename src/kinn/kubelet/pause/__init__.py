"""The pause binary: compiled from pause.c with gcc on first use and cached by source digest.

A pod sandbox needs a process that does nothing but own the pod's namespaces. A Python one would
cost ~10 MB RSS per pod against the whole cluster's 250 MB budget; a static C one costs a few
hundred KB. The binary's directory carries a digest of the source and flags, so editing pause.c (or
upgrading kinn) builds a new one beside the old instead of running a stale binary.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

PAUSE_VERSION = "3.10"
SOURCE = Path(__file__).with_name("pause.c")
CFLAGS = ("-Os", "-static", "-s", "-Wall", "-Werror", f"-DVERSION={PAUSE_VERSION}")


class PauseBuildError(RuntimeError):
    """gcc could not build pause.c; the message carries gcc's output."""


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/kinn` (or `~/.cache/kinn`): shared by every node of every cluster on the host."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kinn"


def build_digest(source: bytes) -> str:
    """A digest over the source and the flags: any change to either yields a new binary."""
    return hashlib.sha256(source + "\0".join(CFLAGS).encode()).hexdigest()[:16]


def ensure_pause_binary(cache_dir: Path | None = None) -> Path:
    """Return the path of a pause binary built from the current pause.c, building it if needed.

    The build writes to a temporary file and renames it into place, so concurrent kubelets
    (one per node) racing on first use each end with a complete binary.
    """
    source = SOURCE.read_bytes()
    directory = (cache_dir or default_cache_dir()) / "pause" / build_digest(source)
    target = directory / "pause"  # named so, `ps -C pause` and `pgrep -x pause` find it as upstream
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(prefix=".pause-", dir=directory)
    os.close(fd)
    try:
        result = subprocess.run(["gcc", *CFLAGS, "-o", scratch, str(SOURCE)], capture_output=True, text=True)
        if result.returncode != 0:
            raise PauseBuildError(f"gcc failed to build {SOURCE} ({result.returncode}): {result.stderr.strip()}")
        os.chmod(scratch, 0o755)
        os.replace(scratch, target)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)
    return target
