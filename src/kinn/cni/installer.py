"""Install kinn's plugins as executables named like the reference ones, so a node's /opt/cni/bin
can hold either kinn's or Debian's set (or a mix) under the same conflist."""

from __future__ import annotations

import site
import sys
from pathlib import Path

# plugin type (the executable's name) → module under kinn.cni.plugins
PLUGINS = {"bridge": "bridge", "host-local": "host_local", "loopback": "loopback", "portmap": "portmap",
           "flannel": "flannel"}


def install(bin_dir: Path, plugins: list[str] | None = None, python: str = sys.executable) -> list[Path]:
    """Write one executable per plugin; returns their paths."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in plugins or list(PLUGINS):
        path = bin_dir / name
        path.write_text(_launcher(python, PLUGINS[name]))
        path.chmod(0o755)
        written.append(path)
    return written


def _launcher(python: str, module: str) -> str:
    """A Python script that calls the plugin module's `main`. Not `python -m` behind a /bin/sh
    shim: the shell's exec and runpy cost milliseconds at every plugin run, i.e. at every pod
    start. `-I` (isolated) keeps the caller's PYTHON* variables and the script's directory out of
    the plugin's imports, as a compiled plugin is unaffected by them. `-S` skips the site module
    (~7 ms of every run): the script puts on the path what site would have put there for this
    interpreter, its site-packages (pyroute2, for kinn's own bridge) and kinn's own directory."""
    paths = [*site.getsitepackages(), str(Path(__file__).resolve().parents[2])]
    return f"#!{python} -IS\nimport sys\nsys.path += {paths!r}\nfrom kinn.cni.plugins.{module} import main\n\nmain()\n"
