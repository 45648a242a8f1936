"""Rehearsed calls: the simulator ``voice-agent simulate`` runs, watched line by line for the page.

A caller script runs to the end in one request; a chat keeps the call
waiting on the person at the page the way ``voice-agent chat`` waits on the
terminal (a :class:`~agent.simulation.simulator.Caller` whose next turn is
awaited), one request per turn.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.core.call import Call, Outcome
from agent.core.registry import Registry
from agent.core.settings import Settings
from agent.flow.actions import AskKeys, Listen, Record, Step
from agent.flow.models import Flow
from agent.simulation.scripts import CallerScript, mismatches
from agent.simulation.simulator import (
    Caller,
    CallerTurn,
    ScriptedCaller,
    WalkOptions,
    at_time,
    walk,
)

MAX_CHATS = 8  # chats kept at once; the oldest is hung up to make room
CHAT_IDLE_S = 15 * 60
TURN_TIMEOUT_S = 30.0
# What the caller is asked for while the call waits (the page says it beside the controls).
WAITS_FOR = {AskKeys: "keys", Listen: "speech or keys", Record: "a message after the tone"}


@dataclass
class CallWatch:
    """What the page shows of a call, in order: the nodes each step entered, then its lines; fields and facts learnt.

    The stepper reports a step (the nodes it passed) before the simulator
    renders that step's lines, so each line belongs to the step listed before it.
    """

    call: Call
    events: list[dict[str, Any]] = field(default_factory=list)
    _fields: dict[str, Any] = field(default_factory=dict)
    _facts: int = 0
    _tools: int = 0
    _passed: int = 0
    _decided: tuple[str | None, str | None] = (None, None)

    def line(self, speaker: str, text: str) -> None:
        self.events.append({"kind": "line", "speaker": speaker, "text": text})
        self._learnt()

    def step(self, call: Call, step: Step) -> None:
        self._learnt()
        entered, self._passed = call.nodes[self._passed:], len(call.nodes)
        self.events.append({
            "kind": "step", "entered": list(entered), "nodes": list(call.nodes), "ended": step.ended,
            "waits_for": WAITS_FOR.get(type(step.waiting)) if step.waiting is not None else None,
        })

    def _learnt(self) -> None:
        """Tool calls, fields saved, the decision and facts used since the last event (what the agent's tools did)."""
        for use in self.call.tools_used[self._tools:]:
            self.events.append({"kind": "tool", "name": use.name, "arguments": _jsonable(use.arguments), "result": _jsonable(use.result)})
        self._tools = len(self.call.tools_used)
        saved = {k: v for k, v in self.call.fields.items() if self._fields.get(k) != v}
        if saved:
            self.events.append({"kind": "fields", "saved": _jsonable(saved)})
            self._fields = dict(self.call.fields)
        decided = (self.call.intent, self.call.branch)
        if decided != self._decided and any(decided):
            self.events.append({"kind": "decided", "intent": decided[0], "branch": decided[1]})
            self._decided = decided
        if len(self.call.facts_used) > self._facts:
            self.events.append({"kind": "facts", "used": list(self.call.facts_used[self._facts:])})
            self._facts = len(self.call.facts_used)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """The outcome as ``voice-agent simulate --json`` prints it."""
    return outcome.model_dump(mode="json")


@dataclass
class Rehearsal:
    """Where rehearsed calls run: the installed plugins, the settings, and the flow file's folder."""

    registry: Registry
    settings: Settings
    base_dir: Path

    def start_call(self, flow: Flow, caller: Caller, caller_number: str | None, at: str | None, answer_calls: bool):
        """A call watched for the page, and the walk that runs it (to await)."""
        call = Call(caller_number=caller_number, now=at_time(at))
        watch = CallWatch(call)
        options = WalkOptions(
            self.registry, self.settings, self.base_dir, answer_calls=answer_calls, on_event=watch.line, on_step=[watch.step],
        )
        return watch, walk(flow, caller, call, options)

    async def scripted(self, flow: Flow, script: CallerScript, *, at: str | None = None, caller_number: str | None = None) -> dict[str, Any]:
        """One whole call with the script's turns; the page's time and number win over the script's."""
        watch, running = self.start_call(
            flow, ScriptedCaller(script.caller_turns()), caller_number or script.caller_number, at or script.at, script.answer_calls,
        )
        outcome = await running
        return {
            "events": watch.events,
            "outcome": outcome_json(outcome),
            "expect": mismatches(script.expect, outcome) if script.expect else None,
        }


class PageCaller:
    """The person at the page plays the caller: each turn arrives with a request (``voice-agent chat``'s TerminalCaller, over HTTP)."""

    def __init__(self) -> None:
        self.turns: asyncio.Queue[CallerTurn | None] = asyncio.Queue()
        self.waiting = asyncio.Event()

    async def next_turn(self) -> CallerTurn | None:
        self.waiting.set()
        return await self.turns.get()


class Chat:
    """One rehearsed call waiting on the page between turns."""

    def __init__(self, rehearsal: Rehearsal, flow: Flow, *, at: str | None, caller_number: str | None, answer_calls: bool) -> None:
        self.caller = PageCaller()
        self.watch, running = rehearsal.start_call(flow, self.caller, caller_number, at, answer_calls)
        self.task = asyncio.ensure_future(running)
        self.seen = 0
        self.touched = time.monotonic()

    async def _settle(self) -> dict[str, Any]:
        """Run until the call waits for the caller again or ends; the events since the last answer."""
        waiting = asyncio.ensure_future(self.caller.waiting.wait())
        try:
            await asyncio.wait({self.task, waiting}, timeout=TURN_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
        self.touched = time.monotonic()
        events, self.seen = self.watch.events[self.seen:], len(self.watch.events)
        answer: dict[str, Any] = {"events": events, "ended": self.task.done(), "outcome": None}
        if self.task.done():
            exc = self.task.exception()
            if exc is not None:
                answer["error"] = f"the call failed: {exc!r}"
            else:
                answer["outcome"] = outcome_json(self.task.result())
        return answer

    async def begin(self) -> dict[str, Any]:
        return await self._settle()

    async def turn(self, turn: CallerTurn | None) -> dict[str, Any]:
        if self.task.done():
            return {"events": [], "ended": True, "outcome": None, "error": "this call has ended; start another"}
        self.caller.waiting.clear()
        self.caller.turns.put_nowait(turn)
        return await self._settle()

    def hang_up(self) -> None:
        if not self.task.done():
            self.caller.turns.put_nowait(None)


class Chats:
    """The chats in progress, by an unguessable id; a few at most."""

    def __init__(self) -> None:
        self._chats: dict[str, Chat] = {}

    def add(self, chat: Chat) -> str:
        now = time.monotonic()
        for cid, old in list(self._chats.items()):
            if old.task.done() or now - old.touched > CHAT_IDLE_S:
                old.hang_up()
                del self._chats[cid]
        while len(self._chats) >= MAX_CHATS:
            cid = min(self._chats, key=lambda c: self._chats[c].touched)
            self._chats.pop(cid).hang_up()
        cid = secrets.token_urlsafe(12)
        self._chats[cid] = chat
        return cid

    def get(self, cid: str) -> Chat | None:
        return self._chats.get(cid)
