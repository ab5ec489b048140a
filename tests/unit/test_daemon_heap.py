"""What every kinn daemon runs beside its work: the heap trimmer (glibc's malloc_trim)."""

from __future__ import annotations

import asyncio

from kinn.cli import daemon


def test_a_daemon_trims_its_heap_while_it_runs_and_stops_with_it() -> None:
    seen: list[set[str]] = []

    async def main() -> None:
        seen.append({task.get_name() for task in asyncio.all_tasks()})

    asyncio.run(daemon._trimming_the_heap(main()))  # run_daemon's, without freezing this process's gc
    assert "malloc-trim" in seen[0]
    trim = daemon.malloc_trim()
    assert trim is not None and trim() in (0, 1)  # glibc: 1 if memory went back to the system
