"""Shared helpers for tests: run a scripted call through a flow; a live call's polite caller."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.core.call import Call, Outcome
from agent.core.registry import Registry, load_registry
from agent.simulation.simulator import CallerTurn, walk_file
from agent.testing.fake_twilio import FakeTwilioCall


def simulate(
    flow_path: Path,
    turns: list[str | CallerTurn],
    *,
    caller_number: str | None = "+4915112345678",
    registry: Registry | None = None,
    at: str | None = None,
    answer_calls: bool = True,
) -> tuple[Call, Outcome]:
    return asyncio.run(walk_file(
        flow_path, list(turns), caller_number=caller_number, at=at, answer_calls=answer_calls,
        registry=registry or load_registry(),
    ))


def agent_lines(call: Call) -> list[str]:
    return [t.text for t in call.transcript if t.speaker == "agent"]


async def greeted(call: FakeTwilioCall) -> None:
    """A polite caller: listens to the greeting until it has played."""
    await call.wait_for_audio(ms=300, timeout=10)
    await call.wait_until_quiet(ms=300, timeout=10, drain=True)


async def answered(call: FakeTwilioCall) -> None:
    """The caller listens to the bot's next line (a reply or a re-prompt) until it has played."""
    await call.wait_for_audio(ms=300, timeout=10, new=True)
    await call.wait_until_quiet(ms=300, timeout=10, drain=True)
