"""Shared helpers for tests: run a scripted call through a flow."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.call import Call, Outcome
from agent.flow.loader import load_flow
from agent.plugins import Registry, load_registry
from agent.settings import Settings
from agent.walker import CallerTurn, WalkOptions, at_time, walk
from agent.scripts import ScriptedCaller


def simulate(
    flow_path: Path,
    turns: list[str | CallerTurn],
    *,
    caller_number: str | None = "+4915112345678",
    registry: Registry | None = None,
    at: str | None = None,
    answer_calls: bool = True,
) -> tuple[Call, Outcome]:
    registry = registry or load_registry()
    flow = load_flow(flow_path, registry)
    call = Call(caller_number=caller_number, now=at_time(at))
    scripted = [t if isinstance(t, CallerTurn) else CallerTurn(text=t) for t in turns]
    options = WalkOptions(registry, Settings(), flow_path.resolve().parent, answer_calls=answer_calls)
    outcome = asyncio.run(walk(flow, ScriptedCaller(scripted), call, options))
    return call, outcome


def agent_lines(call: Call) -> list[str]:
    return [t.text for t in call.transcript if t.speaker == "agent"]
