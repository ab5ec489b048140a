"""Install kinn's plugins as executables named like the reference ones, so a node's /opt/cni/bin
can hold either kinn's or Debian's set (or a mix) under the same conflist."""

from __future__ import annotations

import sys
from pathlib import Path

# plugin type (the executable's name) → module under kinn.cni.plugins
PLUGINS = {"bridge": "bridge", "host-local": "host_local", "loopback": "loopback", "portmap": "portmap",
           "flannel": "flannel"}


def install(bin_dir: Path, plugins: list[str] | None = None, python: str = sys.executable) -> list[Path]:
    """Write one shim per plugin (`#!<python>` then exec of the module); returns their paths."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in plugins or list(PLUGINS):
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\nexec {python} -m kinn.cni.plugins.{PLUGINS[name]} \"$@\"\n")
        path.chmod(0o755)
        written.append(path)
    return written
