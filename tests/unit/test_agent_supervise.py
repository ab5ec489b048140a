"""`kinn agent` keeps its components apart: one that fails is restarted, the others run on."""

from __future__ import annotations

import asyncio

import pytest

from kinn.cli import agent


def test_a_failing_component_is_restarted_and_the_others_keep_running(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent, "RESTART_DELAY", 0.01)
    runs = {"flaky": 0, "steady": 0}

    async def flaky() -> None:
        runs["flaky"] += 1
        if runs["flaky"] < 3:
            raise RuntimeError("boom")

    async def steady() -> None:
        runs["steady"] += 1
        await asyncio.sleep(0.2)  # still running while flaky fails twice and recovers

    async def scenario() -> None:
        await asyncio.gather(agent.supervise("flaky", flaky), agent.supervise("steady", steady))

    asyncio.run(scenario())
    assert runs == {"flaky": 3, "steady": 1}
