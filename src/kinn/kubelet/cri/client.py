"""A client of the runtime view, as crictl is a client of a CRI runtime (one call per connection)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from kinn.kubelet.cri.api import (CONTAINER_STATUS, LIST_CONTAINERS, LIST_POD_SANDBOX, POD_SANDBOX_STATUS, SERVICE,
                                  CRIError)

Obj = dict[str, Any]
TIMEOUT = aiohttp.ClientTimeout(total=10)  # crictl's default --timeout is 2s; a busy 2-core host gets more


class RuntimeServiceClient:
    """Calls the view's methods on the socket at `path` (a host path of the node's socket works too)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def _call(self, method: str, request: Obj) -> Obj:
        """POST one request message; raises CRIError for the runtime's refusals and OSError
        (aiohttp.ClientConnectorError) when nothing serves the socket."""
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(self.path)),
                                         timeout=TIMEOUT) as session:
            async with session.post(f"http://localhost{SERVICE}{method}", json=request) as response:
                body = await response.json(content_type=None)
                if response.status != 200:
                    raise CRIError(body.get("code", "Unknown"), body.get("message", str(body)))
                return body

    async def list_pod_sandbox(self) -> list[Obj]:
        return (await self._call(LIST_POD_SANDBOX, {}))["items"]

    async def list_containers(self, state: str | None = None) -> list[Obj]:
        request = {"filter": {"state": {"state": state}}} if state else {}
        return (await self._call(LIST_CONTAINERS, request))["containers"]

    async def pod_sandbox_status(self, sandbox_id: str) -> Obj:
        return await self._call(POD_SANDBOX_STATUS, {"podSandboxId": sandbox_id, "verbose": True})

    async def container_status(self, container_id: str) -> Obj:
        return await self._call(CONTAINER_STATUS, {"containerId": container_id, "verbose": True})
