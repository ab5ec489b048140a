"""Namespaces: deleting one marks it Terminating; it goes once its finalizers are done.

The `kubernetes` finalizer in spec.finalizers is removed by the namespace controller (through the
`finalize` subresource) after it has deleted everything inside, exactly as seed 002 describes.
"""

from __future__ import annotations

from typing import Any

from kinn.apiserver.registry.strategy import Strategy

Obj = dict[str, Any]


class NamespaceStrategy(Strategy):
    def initial_status(self, obj: Obj) -> Obj:
        return {"phase": "Active"}

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        name = obj["metadata"].get("name", "")
        if name:
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        # spec.finalizers change only through `finalize`; the name label cannot be removed.
        new["spec"] = old.get("spec", {})
        new["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = old["metadata"]["name"]

    def keep_on_delete(self, obj: Obj) -> bool:
        obj.setdefault("status", {})["phase"] = "Terminating"
        return bool(obj.get("spec", {}).get("finalizers"))

    def should_delete_during_update(self, obj: Obj) -> bool:
        return super().should_delete_during_update(obj) and not obj.get("spec", {}).get("finalizers")


def finalize(namespace: Obj, request: Obj) -> Obj:
    """The mutation of `namespaces/{name}/finalize`: replace spec.finalizers, nothing else."""
    namespace.setdefault("spec", {})["finalizers"] = (request.get("spec") or {}).get("finalizers") or []
    return namespace
