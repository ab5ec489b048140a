"""Sidecars: init containers with `restartPolicy: Always` (KEP-753). Validation, the printers, the
controllers and the kubelet all tell them apart from other init containers, by this one test
(upstream's podutil.IsRestartableInitContainer)."""

from __future__ import annotations

from typing import Any, Mapping


def is_sidecar(container: Mapping[str, Any] | None) -> bool:
    """An init container that starts in init order, lets the next one start once it has started, keeps
    running beside the pod's containers and is restarted whenever it ends."""
    return container is not None and container.get("restartPolicy") == "Always"
