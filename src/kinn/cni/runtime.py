"""The CNI runtime side (spec 1.1), as the kubelet's container runtime drives it.

    runtime = CNIRuntime(load_conf_dir(Path("/etc/cni/net.d")), ["/opt/cni/bin"])
    result = await runtime.add(sandbox_id, "/var/run/netns/cni-…", "eth0",
                               kubernetes_args("default", "web-0", sandbox_id, uid),
                               {"portMappings": [...]})
    ...
    await runtime.delete(sandbox_id, netns_path, "eth0", args)

Plugins run as child processes in the caller's network namespace (the node's). Each ADD result is
cached like libcni (`<cacheDir>/results/<net>-<containerID>-<ifname>`), so DEL and CHECK get it as
`prevResult` even after a restart.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
from typing import Any, Mapping

from kinn.cni.config import NetworkConfigList
from kinn.cni.errors import CNIError
from kinn.cni.invoke import find_plugin, parse_output, plugin_env, run_binary
from kinn.cni.result import Result

DEFAULT_BIN_DIRS = ("/opt/cni/bin",)
DEFAULT_CACHE_DIR = Path("/var/lib/cni/cache")


def kubernetes_args(namespace: str, name: str, infra_container_id: str, uid: str) -> dict[str, str]:
    """The CNI_ARGS the kubelet passes for a pod sandbox."""
    return {"IgnoreUnknown": "1", "K8S_POD_NAMESPACE": namespace, "K8S_POD_NAME": name,
            "K8S_POD_INFRA_CONTAINER_ID": infra_container_id, "K8S_POD_UID": uid}


class CNIRuntime:
    """Runs one network configuration list's plugins for ADD, DEL, CHECK and VERSION."""

    def __init__(self, network: NetworkConfigList, bin_dirs: list[str] | tuple[str, ...] = DEFAULT_BIN_DIRS,
                 cache_dir: Path = DEFAULT_CACHE_DIR) -> None:
        self.network = network
        self.bin_dirs = list(bin_dirs)
        self.cache_dir = cache_dir

    async def add(self, container_id: str, netns: str, ifname: str = "eth0",
                  args: Mapping[str, str] | None = None, runtime_config: Mapping[str, Any] | None = None,
                  cleanup_on_failure: bool = True) -> Result:
        """Run every plugin's ADD in order, each fed the previous result; cache and return the last.
        If one fails, DEL runs over the whole list (unless told not to) so nothing is left behind."""
        args, runtime_config = dict(args or {}), dict(runtime_config or {})
        prev: dict[str, Any] | None = None
        try:
            for plugin in self.network.plugins:
                prev = await self._run(plugin, "ADD", container_id, netns, ifname, args, runtime_config, prev)
        except CNIError:
            if cleanup_on_failure:
                await self._delete_quietly(container_id, netns, ifname, args, runtime_config)
            raise
        if prev is None:
            raise CNIError(6, f'network "{self.network.name}": the last plugin returned no result')
        self._write_cache(container_id, ifname, args, runtime_config, prev)
        return Result.from_dict(prev)

    async def delete(self, container_id: str, netns: str, ifname: str = "eth0",
                     args: Mapping[str, str] | None = None, runtime_config: Mapping[str, Any] | None = None) -> None:
        """DEL in reverse order with the cached ADD result; repeatable, and fine after a failed ADD."""
        cached = self._read_cache(container_id, ifname)
        args = dict(args or (cached or {}).get("cniArgs") or {})
        runtime_config = dict(runtime_config or (cached or {}).get("capabilityArgs") or {})
        # libcni passes the cached result to DEL from 0.4.0 on.
        prev = None if self.network.cni_version.startswith(("0.1.", "0.2.", "0.3.")) else (cached or {}).get("result")
        # Unlike libcni, which stops at the first failing plugin, every plugin gets its DEL and the
        # first error is raised afterwards: a missing or failing plugin late in the list must not
        # strand the address host-local handed out earlier in it.
        errors: list[CNIError] = []
        for plugin in reversed(self.network.plugins):
            try:
                await self._run(plugin, "DEL", container_id, netns, ifname, args, runtime_config, prev)
            except CNIError as error:
                errors.append(error)
        if errors:
            raise errors[0]
        self._cache_path(container_id, ifname).unlink(missing_ok=True)

    async def check(self, container_id: str, netns: str, ifname: str = "eth0",
                    args: Mapping[str, str] | None = None, runtime_config: Mapping[str, Any] | None = None) -> None:
        """CHECK in order with the cached result; raises CNIError if the network is not as ADD left it."""
        if self.network.disable_check:
            return
        cached = self._read_cache(container_id, ifname)
        if cached is None:
            raise CNIError(3, f"no cached result for container {container_id} ifname {ifname}")
        for plugin in self.network.plugins:
            await self._run(plugin, "CHECK", container_id, netns, ifname, dict(args or cached.get("cniArgs") or {}),
                            dict(runtime_config or cached.get("capabilityArgs") or {}), cached["result"])

    async def version(self, plugin_type: str) -> dict[str, Any]:
        """A plugin's VERSION answer: `{cniVersion, supportedVersions}`."""
        answer = await self._exec(plugin_type, {"cniVersion": self.network.cni_version},
                                  plugin_env("VERSION", "", "", "", {}, self.bin_dirs))
        return answer or {}

    def cached_result(self, container_id: str, ifname: str = "eth0") -> Result | None:
        cached = self._read_cache(container_id, ifname)
        return Result.from_dict(cached["result"]) if cached else None

    def plugin_config(self, plugin: Mapping[str, Any], runtime_config: Mapping[str, Any],
                      prev: dict[str, Any] | None) -> dict[str, Any]:
        """The stdin for one plugin: its own config plus what the runtime injects."""
        config = dict(plugin)
        config["cniVersion"] = self.network.cni_version
        config["name"] = self.network.name
        capabilities = plugin.get("capabilities") or {}
        injected = {key: value for key, value in runtime_config.items() if capabilities.get(key)}
        if injected:
            config["runtimeConfig"] = injected
        else:
            config.pop("runtimeConfig", None)
        if prev is not None:
            config["prevResult"] = prev
        return config

    async def _run(self, plugin: Mapping[str, Any], command: str, container_id: str, netns: str, ifname: str,
                   args: dict[str, str], runtime_config: dict[str, Any],
                   prev: dict[str, Any] | None) -> dict[str, Any] | None:
        env = plugin_env(command, container_id, netns, ifname, args, self.bin_dirs)
        answer = await self._exec(plugin["type"], self.plugin_config(plugin, runtime_config, prev), env)
        return answer if command == "ADD" else prev

    async def _exec(self, plugin_type: str, config: dict[str, Any], env: dict[str, str]) -> dict[str, Any] | None:
        """One plugin run, spawned and awaited on a worker thread: the event loop goes on meanwhile."""
        binary = find_plugin(plugin_type, self.bin_dirs)
        returncode, stdout, stderr = await asyncio.to_thread(run_binary, str(binary), json.dumps(config).encode(), env)
        return parse_output(returncode, stdout, stderr, plugin_type)

    async def _delete_quietly(self, container_id: str, netns: str, ifname: str, args: dict[str, str],
                              runtime_config: dict[str, Any]) -> None:
        """The DEL after a failed ADD: its own errors must not hide the ADD error."""
        try:
            await self.delete(container_id, netns, ifname, args, runtime_config)
        except CNIError:
            pass

    def _cache_path(self, container_id: str, ifname: str) -> Path:
        return self.cache_dir / "results" / f"{self.network.name}-{container_id}-{ifname}"

    def _write_cache(self, container_id: str, ifname: str, args: dict[str, str],
                     runtime_config: dict[str, Any], result: dict[str, Any]) -> None:
        """libcni's cniCacheV1 record, written atomically."""
        path = self._cache_path(container_id, ifname)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"kind": "cniCacheV1", "containerId": container_id, "ifName": ifname,
                  "networkName": self.network.name,
                  "config": base64.b64encode(json.dumps(self._list_dict()).encode()).decode(),
                  "cniArgs": [[k, v] for k, v in args.items()], "capabilityArgs": runtime_config,
                  "result": result}
        tmp = path.parent / f".{path.name}.tmp"
        tmp.write_text(json.dumps(record))
        os.replace(tmp, path)

    def _read_cache(self, container_id: str, ifname: str) -> dict[str, Any] | None:
        try:
            record = json.loads(self._cache_path(container_id, ifname).read_text())
        except (FileNotFoundError, ValueError):
            return None
        record["cniArgs"] = {k: v for k, v in record.get("cniArgs") or []}
        return record

    def _list_dict(self) -> dict[str, Any]:
        return {"cniVersion": self.network.cni_version, "name": self.network.name,
                "plugins": list(self.network.plugins)}
