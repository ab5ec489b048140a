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

import importlib
from typing import Any

from kinn.cni.config import NetworkConfigList, load_conf_dir, load_file
from kinn.cni.errors import CNIError, ConfigError, PluginNotFound
from kinn.cni.install import PLUGINS, install
from kinn.cni.result import Result

# The runtime (asyncio, pyroute2) loads on first use (PEP 562): a plugin executable importing
# kinn.cni.plugins.<x> must not pay for it, since every pod start runs several plugins and their
# start-up time is the pod's start-up time.
_LAZY = {"CNIRuntime": "runtime", "kubernetes_args": "runtime"}

__all__ = ["CNIError", "CNIRuntime", "ConfigError", "NetworkConfigList", "PLUGINS", "PluginNotFound", "Result",
           "install", "kubernetes_args", "load_conf_dir", "load_file"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'kinn.cni' has no attribute {name!r}")
    return getattr(importlib.import_module(f"kinn.cni.{_LAZY[name]}"), name)
