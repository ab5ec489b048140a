"""CNI for kinn: the runtime that executes plugins (kubelet side) and kinn's own plugins.

Public interface:
- `CNIRuntime(network, bin_dirs, cache_dir)` with async `add`/`delete`/`check`/`version`;
  `kubernetes_args(...)` for the kubelet's CNI_ARGS.
- `load_conf_dir(dir)` / `load_file(path)` → `NetworkConfigList`.
- `Result` (and `CNIError`, `PluginNotFound`, `ConfigError`).
- `install(bin_dir)`: executables `bridge`, `host-local`, `loopback`, `portmap`, `flannel` that run
  kinn's plugins with this interpreter.
"""

from kinn.cni.config import NetworkConfigList, load_conf_dir, load_file
from kinn.cni.errors import CNIError, ConfigError, PluginNotFound
from kinn.cni.install import PLUGINS, install
from kinn.cni.result import Result
from kinn.cni.runtime import CNIRuntime, kubernetes_args

__all__ = ["CNIError", "CNIRuntime", "ConfigError", "NetworkConfigList", "PLUGINS", "PluginNotFound", "Result",
           "install", "kubernetes_args", "load_conf_dir", "load_file"]
