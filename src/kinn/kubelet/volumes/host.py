"""What volume plugins get from the kubelet (upstream's VolumeHost) and how they fail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from kinn.client.rest import Client
from kinn.kubelet.token_manager import TokenManager

Obj = dict[str, Any]


class VolumeError(Exception):
    """A volume cannot be set up (kubelet event `FailedMount`); the message is upstream's wording."""


@dataclass
class VolumeHost:
    """API access for claims and tokens, the ConfigMaps and Secrets the pod names (fetched once per
    sync, shared with its env), and the node's allocatable for resourceFieldRef."""

    client: Client
    tokens: TokenManager
    configmaps: Mapping[str, Obj]
    secrets: Mapping[str, Obj]
    allocatable: Mapping[str, str]
