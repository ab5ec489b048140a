"""The kubelet's runtime view served on `--container-runtime-endpoint` (a unix socket in the node).

Read-only and local: the socket lives under the node's /run, so only what runs on the node (or
`kinn node crictl` through the node's state dir) reaches it, as only root on a node reaches
containerd's socket. A socket another live runtime already serves is left alone and the kubelet
runs on without the view (it is for people, nothing depends on it); a stale one, left by a killed
kubelet, is replaced.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from pathlib import Path
from typing import Any, Callable, Iterable

from aiohttp import web

from kinn.kubelet.cri import view
from kinn.kubelet.cri.api import (CONTAINER_STATUS, LIST_CONTAINERS, LIST_POD_SANDBOX, NOT_FOUND, POD_SANDBOX_STATUS,
                                  SERVICE, CRIError, endpoint_path)

log = logging.getLogger("kinn.kubelet.cri")

Obj = dict[str, Any]
PodLister = Callable[[], Iterable[view.PodRuntime]]


def _served_elsewhere(path: Path) -> bool:
    """True if something accepts connections on `path`; False if nothing is there or it is stale."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError as error:
            if error.errno in (errno.ECONNREFUSED, errno.ENOENT):
                return False
            raise
    return True


class RuntimeService:
    """ListPodSandbox, ListContainers, PodSandboxStatus and ContainerStatus over the kubelet's pods."""

    def __init__(self, pods: PodLister, log_root: Path) -> None:
        self.pods = pods
        self.log_root = log_root
        self.app = web.Application()
        for method, handler in ((LIST_POD_SANDBOX, self._list_pod_sandbox), (LIST_CONTAINERS, self._list_containers),
                                (POD_SANDBOX_STATUS, self._pod_sandbox_status),
                                (CONTAINER_STATUS, self._container_status)):
            self.app.router.add_post(SERVICE + method, self._call(handler))
        self._runner: web.AppRunner | None = None
        self._socket: tuple[Path, int] | None = None  # path and inode of the socket this service bound

    async def start(self, endpoint: str) -> None:
        path = endpoint_path(endpoint)
        if _served_elsewhere(path):
            log.error("container runtime endpoint %s is served by another process; not serving the runtime view",
                      endpoint)
            return
        path.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.UnixSite(self._runner, str(path)).start()
        self._socket = (path, path.stat().st_ino)
        log.info("runtime view (CRI) listening on %s", endpoint)

    async def stop(self) -> None:
        """Stop serving and remove the socket, unless another process has replaced it since."""
        if self._runner is not None:
            await self._runner.cleanup()
        if self._socket is not None:
            path, inode = self._socket
            try:
                if os.stat(path).st_ino == inode:
                    path.unlink()
            except FileNotFoundError:
                pass

    @staticmethod
    def _call(handler: Callable[[Obj], Obj]) -> Callable[[web.Request], Any]:
        """A route answering the request message with the handler's response message, or its CRIError."""
        async def route(request: web.Request) -> web.Response:
            try:
                message = await request.json() if request.can_read_body else {}
                return web.json_response(handler(message))
            except CRIError as error:
                status = 404 if error.code == NOT_FOUND else 500
                return web.json_response({"code": error.code, "message": error.message}, status=status)
        return route

    def _list_pod_sandbox(self, request: Obj) -> Obj:
        return view.list_pod_sandbox(self.pods())

    def _list_containers(self, request: Obj) -> Obj:
        return view.list_containers(self.pods(), request)

    def _pod_sandbox_status(self, request: Obj) -> Obj:
        return view.pod_sandbox_status(self.pods(), request.get("podSandboxId", ""), self.log_root)

    def _container_status(self, request: Obj) -> Obj:
        return view.container_status(self.pods(), request.get("containerId", ""), self.log_root)
