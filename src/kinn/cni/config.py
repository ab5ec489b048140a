"""Network configuration lists, loaded from a conf dir the way libcni (and so the kubelet/containerd) does.

Files ending .conflist, .conf or .json are read in lexical order; the first usable one wins. A
single-plugin .conf/.json is wrapped into a list, as libcni's ConfListFromConf does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kinn.cni.errors import ConfigError

CONF_EXTENSIONS = (".conflist", ".conf", ".json")
DEFAULT_CONF_DIR = Path("/etc/cni/net.d")


@dataclass(frozen=True)
class NetworkConfigList:
    cni_version: str
    name: str
    plugins: tuple[dict[str, Any], ...]
    disable_check: bool = False
    source: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "") -> "NetworkConfigList":
        """Validate a parsed config; a bare plugin config (has `type`, no `plugins`) becomes a list of one."""
        if not isinstance(data, dict):
            raise ConfigError(f"invalid network config {source}", "top level is not a JSON object")
        if "plugins" not in data and "type" in data:
            data = {"cniVersion": data.get("cniVersion", ""), "name": data.get("name", ""), "plugins": [data]}
        name, plugins = data.get("name"), data.get("plugins")
        if not name or not isinstance(name, str):
            raise ConfigError(f"invalid network config {source}", 'missing "name"')
        if not isinstance(plugins, list) or not plugins:
            raise ConfigError(f"invalid network config {source}", f'network "{name}" has no "plugins"')
        for plugin in plugins:
            if not isinstance(plugin, dict) or not plugin.get("type"):
                raise ConfigError(f"invalid network config {source}", f'a plugin of "{name}" has no "type"')
        return cls(cni_version=str(data.get("cniVersion") or "1.0.0"), name=name,
                   plugins=tuple(plugins), disable_check=bool(data.get("disableCheck")), source=source)

    @classmethod
    def from_bytes(cls, raw: bytes, source: str = "") -> "NetworkConfigList":
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"invalid network config {source}", f"not JSON: {exc}") from exc
        return cls.from_dict(data, source)


def load_file(path: Path) -> NetworkConfigList:
    return NetworkConfigList.from_bytes(path.read_bytes(), str(path))


def config_files(conf_dir: Path) -> list[Path]:
    """The candidate files of `conf_dir` in lexical order."""
    if not conf_dir.is_dir():
        return []
    return sorted(p for p in conf_dir.iterdir() if p.suffix in CONF_EXTENSIONS and p.is_file())


def load_conf_dir(conf_dir: Path = DEFAULT_CONF_DIR) -> NetworkConfigList:
    """The first valid network in `conf_dir`; invalid files are skipped like the kubelet does, and
    named in the error when none is usable."""
    problems = []
    for path in config_files(conf_dir):
        try:
            return load_file(path)
        except ConfigError as exc:
            problems.append(str(exc))
    raise ConfigError(f"no valid networks found in {conf_dir}", "; ".join(problems))
