"""Shared helpers for tests: run a scripted call through a flow."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.core.call import Call, Outcome
from agent.core.registry import Registry, load_registry
from agent.simulation.simulator import CallerTurn, walk_file


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
