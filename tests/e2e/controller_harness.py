"""Run kinn controllers inside a test's event loop against the module's real API server."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

from kinn.client.informer import SharedInformerFactory
from kinn.client.rest import Client
from kinn.controllers.base import Controller, ControllerContext


@contextlib.asynccontextmanager
async def running(client: Client, *classes: type[Controller]) -> AsyncIterator[list[Controller]]:
    """Start the controllers (2 workers each) over one informer factory; stop them on exit."""
    factory = SharedInformerFactory(client)
    ctx = ControllerContext(client, factory)
    controllers = [cls(ctx) for cls in classes]
    factory.start()
    tasks = [asyncio.create_task(c.run(2)) for c in controllers]
    try:
        yield controllers
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await factory.stop()
