"""CNI for kinn: the runtime that executes plugins (kubelet side) and kinn's own plugins.

Public interface:
- `CNIRuntime(network, bin_dirs, cache_dir)` with async `add`/`delete`/`check`/`version`;
  `kubernetes_args(...)` for the kubelet's CNI_ARGS.
- `load_conf_dir(dir)` / `load_file(path)` → `NetworkConfigList`.
- `Result` (and `CNIError`, `PluginNotFound`, `ConfigError`).
- `install(bin_dir)`: executables `bridge`, `host-local`, `loopback`, `portmap`, `flannel` that run
  kinn's plugins with this interpreter.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~20 ms at every plugin start)
if TYPE_CHECKING:
    from typing import Any

# name → defining module, loaded on first use (PEP 562). A plugin executable imports
# kinn.cni.plugins.<x> and with it this package; it must pay for nothing it does not use, since
# every pod start runs several plugins and their start-up time is the pod's start-up time.
_EXPORTS = {
    "NetworkConfigList": "config", "load_conf_dir": "config", "load_file": "config",
    "CNIError": "errors", "ConfigError": "errors", "PluginNotFound": "errors",
    "PLUGINS": "installer", "install": "installer", "Result": "result",
    "CNIRuntime": "runtime", "kubernetes_args": "runtime",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """`__import__` rather than importlib: this module is on every plugin's import path."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kinn.cni' has no attribute {name!r}")
    value = getattr(__import__(f"kinn.cni.{_EXPORTS[name]}", fromlist=[name]), name)
    globals()[name] = value
    return value
