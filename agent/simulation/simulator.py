"""Simulated calls: the flow stepper's actions rendered as text, a caller script (or a person) answering.

This is what ``voice-agent simulate``, ``test`` and ``chat`` run. The
simulator decides nothing about the flow: :class:`agent.flow.stepper.FlowStepper`
does, exactly as for live calls. Nothing here dials or posts for real: a
dial is answered (or not) as the script says; an alert goes to the
configured platforms' fakes or is only reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from agent.conversation.engines.realtime_text import RealtimeTextEngine
from agent.core import call as clock
from agent.core.call import Call, Outcome
from agent.core.registry import Registry
from agent.core.settings import Settings
from agent.flow.actions import (
    Action,
    AlertOpened,
    AskKeys,
    Converse,
    Dial,
    DialEnded,
    Event,
    Heard,
    HungUp,
    Listen,
    ModelDecided,
    Note,
    Play,
    Pressed,
    Record,
    Recorded,
    Say,
    Silence,
    StartRecording,
    Step,
)
from agent.flow.models import Flow
from agent.flow.stepper import FlowServices, FlowStepper
from pipelines.text_call import TextCall

@dataclass
class CallerTurn:
    text: str = ""
    dtmf: str | None = None


class Caller(Protocol):
    """Whoever plays the caller: a script, or a developer at a terminal."""

    async def next_turn(self) -> CallerTurn | None:
        """The caller's next turn, or None when the caller hangs up."""


class ScriptedCaller:
    """Plays a script's turns in order; hangs up when they run out."""

    def __init__(self, turns: list[CallerTurn]) -> None:
        self._turns = list(turns)

    async def next_turn(self) -> CallerTurn | None:
        return self._turns.pop(0) if self._turns else None


@dataclass
class WalkOptions:
    registry: Registry
    settings: Settings
    base_dir: Path
    answer_calls: bool = True
    engine: str = "deterministic"  # or "openai": the realtime model in text mode runs the AI nodes
    on_event: Callable[[str, str], None] | None = None
    on_step: list[Callable[[Call, Step], object]] = field(default_factory=list)  # watchers of the stepper's actions


class _Simulation:
    """One simulated call: renders each step's actions, answers what they wait for."""

    def __init__(self, flow: Flow, caller: Caller, opts: WalkOptions) -> None:
        self.flow, self.caller, self.opts = flow, caller, opts
        services = FlowServices(opts.registry, opts.settings, opts.base_dir, on_step=opts.on_step)
        self.stepper = FlowStepper(flow, services, model=opts.engine == "openai")

    def emit(self, speaker: str, text: str) -> None:
        if self.opts.on_event and (text or speaker == "caller"):
            self.opts.on_event(speaker, text)

    def render(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Say):
                self.emit("agent", action.text)
            elif isinstance(action, Play):
                self.emit("agent", action.caption or f"(plays {action.url})")
            elif isinstance(action, (AskKeys, Record)):
                self.emit("agent", action.prompt)
            elif isinstance(action, Listen):
                for line in action.lines:
                    self.emit("agent", line)
            elif isinstance(action, StartRecording):
                self.emit("system", "recording the call (Twilio <Start><Recording>); its link goes with the alerts")
            elif isinstance(action, Note):
                self.emit("system", action.text)
            elif isinstance(action, AlertOpened):
                self.emit("system", action.line)
                if action.failed:
                    self.emit("system", action.failed)

    async def answer(self, call: Call, step: Step) -> Event:
        """The event that answers what ``step`` waits for."""
        waiting = step.waiting
        if isinstance(waiting, Dial):
            return DialEnded(self.opts.answer_calls, who=0 if self.opts.answer_calls else None)
        if isinstance(waiting, Converse):
            return await self.converse(call, waiting)
        turn = await self.caller.next_turn()
        if turn is None:
            return HungUp()
        shown = turn.text if turn.dtmf is None else (turn.dtmf if isinstance(waiting, Listen) else f"(keys {turn.dtmf})")
        self.emit("caller", shown)
        if isinstance(waiting, Record):
            return Recorded(text=turn.text if turn.dtmf is None else "")
        if turn.dtmf is not None:
            return Pressed(turn.dtmf)
        return Heard(turn.text) if turn.text.strip() else Silence()

    async def converse(self, call: Call, action: Converse) -> Event:
        """An AI node run by the realtime model in text mode, over the text pipeline."""
        session = self.stepper.session(call, action.node_id)
        engine = RealtimeTextEngine(session, self.opts.settings)
        try:
            async with TextCall(engine, call) as conversation:
                for line in conversation.greeting:
                    self.emit("agent", line)
                while not engine.done:
                    turn = await self.caller.next_turn()
                    if turn is None:
                        return HungUp()
                    text = turn.text if turn.dtmf is None else turn.dtmf
                    self.emit("caller", text)
                    for line in await conversation.say(text):
                        self.emit("agent", line)
        finally:
            await engine.close()
        decision = session.decision
        assert decision is not None
        return ModelDecided(decision.carried(said=True))  # the text pipeline already showed its lines

    async def run(self, call: Call) -> Outcome:
        step = await self.stepper.start(call)
        while True:
            self.render(step.actions)
            if step.waiting is None:
                break
            step = await self.stepper.handle(call, await self.answer(call, step))
        outcome = call.outcome
        assert outcome is not None
        if self.flow.after_call.transcribe and any(a.receipt for a in outcome.alerts):
            self.emit("system", "after the call: the recording would be transcribed and added to the alerts")
        return outcome


async def walk(flow: Flow, caller: Caller, call: Call, opts: WalkOptions) -> Outcome:
    """Run the call from the flow's start node until it ends; return its outcome record."""
    return await _Simulation(flow, caller, opts).run(call)


async def walk_file(
    flow_path: Path,
    caller: Caller | list[str | CallerTurn],
    *,
    caller_number: str | None = None,
    at: str | None = None,
    answer_calls: bool = True,
    engine: str = "deterministic",
    registry: Registry | None = None,
    settings: Settings | None = None,
    on_event: Callable[[str, str], None] | None = None,
    flow: Flow | None = None,
) -> tuple[Call, Outcome]:
    """One simulated call through the flow file at ``flow_path`` (``flow``: already loaded): the call and its outcome."""
    from agent.flow.loader import load_flow
    from agent.core.registry import default_registry

    registry = registry or default_registry()
    if isinstance(caller, list):
        caller = ScriptedCaller([t if isinstance(t, CallerTurn) else CallerTurn(text=t) for t in caller])
    call = Call(caller_number=caller_number, now=at_time(at))
    options = WalkOptions(
        registry, settings or Settings(), flow_path.resolve().parent,
        answer_calls=answer_calls, engine=engine, on_event=on_event,
    )
    outcome = await walk(flow or load_flow(flow_path, registry), caller, call, options)
    return call, outcome


def at_time(value: str | None) -> datetime:
    """The simulated clock: now, or an ISO time given with ``--at``."""
    if not value:
        return clock.utc_now()  # read through the module: tests set the clock there
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
