"""Lay a DOT graph out with Graphviz's `dot` (Debian's graphviz package) into SVG or PNG."""

from __future__ import annotations

import shutil
import subprocess

FORMATS = ("svg", "png")


class GraphvizError(RuntimeError):
    pass


def layout(dot_text: str, fmt: str) -> bytes:
    """`dot -T<fmt>`: the rendered picture's bytes."""
    if shutil.which("dot") is None:
        raise GraphvizError("Graphviz's `dot` is not installed (Debian: apt-get install graphviz; ./hack/setup.sh does)")
    proc = subprocess.run(["dot", f"-T{fmt}"], input=dot_text.encode(), capture_output=True)
    if proc.returncode != 0:
        raise GraphvizError(f"dot -T{fmt} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout
