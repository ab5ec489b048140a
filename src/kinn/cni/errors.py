"""CNI errors: the spec's `{cniVersion, code, msg, details}` object as a typed exception."""

from __future__ import annotations

TYPE_CHECKING = False  # plugins import this module: no typing at run time (see kinn.cni)
if TYPE_CHECKING:
    from typing import Any

# Well-known codes from the CNI spec 1.1 ("Error" section).
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENVIRONMENT = 4
IO_FAILURE = 5
DECODING_FAILURE = 6
INVALID_NETWORK_CONFIG = 7
TRY_AGAIN_LATER = 11
INTERNAL = 999  # what the reference skel reports for a plain Go error


class CNIError(Exception):
    """A failure reported by a plugin (or detected by the runtime) with the spec's code and texts."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(f"{msg}: {details}" if details else msg)
        self.code = code
        self.msg = msg
        self.details = details

    def to_dict(self, cni_version: str) -> dict[str, Any]:
        out: dict[str, Any] = {"cniVersion": cni_version, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CNIError":
        return cls(int(data.get("code", INTERNAL)), str(data.get("msg", "")), str(data.get("details", "")))


class PluginNotFound(CNIError):
    """No executable for a plugin `type` in any CNI_PATH directory (libcni's message)."""

    def __init__(self, plugin: str, paths: list[str]) -> None:
        super().__init__(INVALID_NETWORK_CONFIG, f'failed to find plugin "{plugin}" in path {paths}')


class ConfigError(CNIError):
    """A network configuration file that cannot be used."""

    def __init__(self, msg: str, details: str = "") -> None:
        super().__init__(INVALID_NETWORK_CONFIG, msg, details)
