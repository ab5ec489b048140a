"""The wire contract between the runtime view and its clients: endpoint, methods, errors.

Each CRI method is a POST of the request message to `/runtime.v1.RuntimeService/<Method>`, the
path gRPC would use, with the request and response messages as protobuf's JSON mapping renders
them (camelCase fields, enum names, int64 as strings) — what `crictl … -o json` prints. A
failed call answers 404 with `{"code": "NotFound", "message": <containerd's text>}`.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_RUNTIME_ENDPOINT = "unix:///run/kinn/runtime.sock"
SERVICE = "/runtime.v1.RuntimeService/"
LIST_POD_SANDBOX = "ListPodSandbox"
LIST_CONTAINERS = "ListContainers"
POD_SANDBOX_STATUS = "PodSandboxStatus"
CONTAINER_STATUS = "ContainerStatus"
NOT_FOUND = "NotFound"


class CRIError(Exception):
    """A call the runtime refused: a gRPC status code name and the runtime's message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    @classmethod
    def not_found(cls, message: str) -> CRIError:
        return cls(NOT_FOUND, message)


def endpoint_path(endpoint: str) -> Path:
    """The socket path of a `unix://` endpoint, the only kind a node-local runtime listens on."""
    scheme, separator, path = endpoint.partition("://")
    if scheme != "unix" or not separator or not path.startswith("/"):
        raise ValueError(f"invalid container runtime endpoint {endpoint!r}: expected unix:///path/to/socket")
    return Path(path)
