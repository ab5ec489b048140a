"""The API server's create path for admission unit tests: every registry over a fresh store, with
the default admission chain and a namespace `ns` to create in."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

from kinn.apiserver.admission.plugins import default_chain
from kinn.apiserver.allocators.ipallocator import IPAllocator
from kinn.apiserver.allocators.portallocator import PortAllocator
from kinn.apiserver.registry import Registries
from kinn.apiserver.registry.generic import RequestContext
from kinn.storage.sqlite import SQLiteStore


async def registries_with_namespace(tmp_path: Path) -> AsyncIterator[tuple[Registries, RequestContext]]:
    """The registries and a request context in `ns`; the store is closed afterwards (use as a fixture)."""
    store = SQLiteStore(tmp_path / "state.db")
    registries = Registries(store, default_chain(store), IPAllocator("10.96.0.0/12"), PortAllocator("30000-32767"))
    await registries.core("namespaces").create(RequestContext(), {"metadata": {"name": "ns"}})
    yield registries, RequestContext(namespace="ns")
    store.close()
