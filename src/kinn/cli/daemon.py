"""What every kinn daemon shares: logging (one line per event, component-prefixed, klog-like -v) and its event loop."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from typing import Any, Awaitable, Coroutine

import uvloop


def setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity < 4 else logging.DEBUG
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s.%(msecs)03d %(levelname).1s %(name)s: %(message)s",  # ms: latencies are read here
        datefmt="%H:%M:%S",
    )


# CPython collects every 700 new containers, scanning every young object. A daemon decoding
# thousands of API objects a second (trees that reference counting frees) spent ~7 % of its CPU
# there, finding next to nothing: the API server during a 1,000-pod Deployment, 0.97 s of 13 s.
GC_THRESHOLDS = (10_000, 10, 10)


def run_daemon(main: Coroutine[Any, Any, None]) -> None:
    """Run a daemon on uvloop: the same asyncio API, a markedly cheaper loop for many connections.

    What start-up built (modules, schemas, the click command tree) lives as long as the process:
    frozen, it is never scanned again; and collections come less often (GC_THRESHOLDS).
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


async def until_signalled(work: Awaitable[None]) -> None:
    """Run a component until it returns or SIGINT/SIGTERM cancels it, so its cleanup runs
    (leases released, clients closed) instead of the process dying mid-write."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
