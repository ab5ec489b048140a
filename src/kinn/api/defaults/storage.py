"""storage.k8s.io/v1 defaults, as pkg/apis/storage/v1/defaults.go."""

from __future__ import annotations

from typing import Any, Callable

Obj = dict[str, Any]


def default_storage_class(obj: Obj) -> None:
    obj.setdefault("reclaimPolicy", "Delete")
    obj.setdefault("volumeBindingMode", "Immediate")


DEFAULTERS: dict[str, Callable[[Obj], None]] = {"StorageClass": default_storage_class}
