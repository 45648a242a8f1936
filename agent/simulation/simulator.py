"""Walking one call through a whole flow: every node type, with the AI node on the text pipeline.

This is what ``voice-agent simulate``, ``test`` and ``chat`` run. Nothing
here dials or posts for real: route_call reports whom it would dial and the
briefing they would hear; create_alert reports the alert it would open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from agent.flow import rules as node_logic
from agent.conversation.session import AgentContext, call_language
from agent.conversation.briefing import alert_details, alert_for, caller_label, engineer_briefing
from agent.core.call import Alert, Call, Dial, Outcome
from agent.conversation.engines.offline import OfflineEngine
from agent.conversation.engines.realtime_text import RealtimeTextEngine
from agent.flow.models import (
    AgentMessages,
    AiAgentNode,
    AudioMessageNode,
    BlockNumbersNode,
    CreateAlertNode,
    Flow,
    HangupNode,
    IvrMenuNode,
    PinCodeNode,
    PluginRef,
    RouteCallNode,
    SupportHoursNode,
    VoicemailNode,
)
from agent.flow.i18n import node_line
from agent.core.logs import forget_pii
from agent.flow.rules import (
    dial_round,
    is_blocked,
    ivr_target,
    keys_pressed,
    people_to_dial,
    pin_matches,
    within_support_hours,
)
from agent.core.platforms import on_call_people, open_alert
from agent.core.registry import Registry
from agent.core.alert_ledger import caller_was_told
from agent.core.settings import Settings
from agent.core.sources import SourceContext, build_source, deadline_of, fetch_facts
from pipelines.text_call import TextCall

MAX_NODES = 100
_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


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
    engine: str = "offline"  # or "openai": the realtime model in text mode
    on_event: Callable[[str, str], None] | None = None


@dataclass
class _Walk:
    flow: Flow
    call: Call
    caller: Caller
    opts: WalkOptions
    outcome: Outcome = field(init=False)

    def __post_init__(self) -> None:
        self.outcome = Outcome(call_id=self.call.call_id)

    def agent(self, text: str) -> None:
        if text:
            self.call.say("agent", text)
            self._emit("agent", text)

    def lines(self) -> AgentMessages:
        """The fixed lines a caller hears, in the call's language (agent.flow.i18n)."""
        return call_language(self.flow, self.call.caller_number, self.opts.settings.default_region, self.call.nodes)[1]

    def note(self, text: str) -> None:
        self.call.say("system", text)
        self._emit("system", text)

    def _emit(self, speaker: str, text: str) -> None:
        if self.opts.on_event:
            self.opts.on_event(speaker, text)

    async def hear(self) -> CallerTurn | None:
        turn = await self.caller.next_turn()
        if turn is not None:
            shown = turn.text if turn.dtmf is None else f"(keys {turn.dtmf})"
            self.call.say("caller", shown)
            self._emit("caller", shown)
        return turn


async def walk(flow: Flow, caller: Caller, call: Call, opts: WalkOptions) -> Outcome:
    """Run the call from the flow's start node until it ends; return its outcome record."""
    w = _Walk(flow, call, caller, opts)
    await opts.registry.call_started(call)
    if flow.after_call.record:
        w.agent(flow.after_call.notice)
        w.note("recording the call (Twilio <Start><Recording>); its link goes with the alerts")
    node_id: str | None = flow.start
    end_reason = "flow_ended"
    try:
        for _ in range(MAX_NODES):
            if node_id is None:
                break
            node = flow.nodes[node_id]
            call.nodes.append(node_id)
            node_id, reason = await _STEP[type(node)](w, node_id, node)
            if reason:
                end_reason = reason
                break
        else:
            end_reason = "too_many_nodes"
    finally:
        outcome = w.outcome
        outcome.end_reason = end_reason
        outcome.intent = call.intent
        outcome.fields = dict(call.fields)
        outcome.facts_used = list(call.facts_used)
        outcome.nodes = list(call.nodes)
        outcome.summary = call.summary
        outcome.transcript = [t for t in call.transcript if t.speaker != "system"]
        call.outcome = outcome
        await opts.registry.call_ended(call, outcome)
        if flow.after_call.transcribe and any(a.receipt for a in outcome.alerts):
            w.note("after the call: the recording would be transcribed and added to the alerts")
        forget_pii(*(v for v in call.fields.values() if isinstance(v, str)))
    return outcome


async def walk_file(
    flow_path: Path,
    caller: Caller | list[str | CallerTurn],
    *,
    caller_number: str | None = None,
    at: str | None = None,
    answer_calls: bool = True,
    engine: str = "offline",
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


# -- node steps: each returns (next node id, end reason or None) ---------------------------------

async def _audio_message(w: _Walk, node_id: str, node: AudioMessageNode) -> tuple[str | None, str | None]:
    w.agent(node.text or f"(plays {node.audio_url})")
    return node.next, None


async def _hangup(w: _Walk, node_id: str, node: HangupNode) -> tuple[str | None, str | None]:
    if node.text:
        w.agent(node.text)
    return None, "hangup"


async def _support_hours(w: _Walk, node_id: str, node: SupportHoursNode) -> tuple[str | None, str | None]:
    inside, local = within_support_hours(node, w.call.now)
    w.note(f"support hours at {local:%a %H:%M %Z}: {'during' if inside else 'outside'}")
    return (node.during if inside else node.outside), None


async def _block_numbers(w: _Walk, node_id: str, node: BlockNumbersNode) -> tuple[str | None, str | None]:
    if is_blocked(node, w.call.caller_number, w.opts.settings.default_region):
        w.note("caller is on the block list")
        return node.blocked, (None if node.blocked else "blocked")
    return node.allowed, None


def _digits(turn: CallerTurn | None) -> str:
    if turn is None:
        return ""
    return turn.dtmf if turn.dtmf is not None else keys_pressed(turn.text)


async def _ivr_menu(w: _Walk, node_id: str, node: IvrMenuNode) -> tuple[str | None, str | None]:
    for _ in range(node.retries + 1):
        w.agent(node.prompt)
        turn = await w.hear()
        if turn is None:
            return None, "caller_hung_up"
        valid, target = ivr_target(node, _digits(turn))
        if valid:
            return target, None
    return node.no_input, None


async def _pin_code(w: _Walk, node_id: str, node: PinCodeNode) -> tuple[str | None, str | None]:
    for _ in range(node.attempts):
        w.agent(node_line(node, "prompt", w.lines(), "pin_prompt"))
        turn = await w.hear()
        if turn is None:
            return None, "caller_hung_up"
        if pin_matches(node, _digits(turn)):
            return node.match, None
        w.agent(w.lines().wrong_pin)
    return node.no_match, None


async def _voicemail(w: _Walk, node_id: str, node: VoicemailNode) -> tuple[str | None, str | None]:
    w.agent(node_line(node, "prompt", w.lines(), "voicemail_prompt"))
    turn = await w.hear()
    message = (turn.text if turn else "").strip()
    if not message:
        return node.not_left, ("caller_hung_up" if turn is None and not node.not_left else None)
    if node.create_alert:
        details = alert_details(w.call, _intent_label(w)) + f"\n\nVoicemail: {message}"
        await _open_alert(w, Alert(summary=f"Voicemail from {caller_label(w.call)}", details=details, priority="high"), node.platform)
    return node.left, None


async def _create_alert(w: _Walk, node_id: str, node: CreateAlertNode) -> tuple[str | None, str | None]:
    alert = alert_for(w.call, node, _intent_label(w))
    await _open_alert(w, alert, node.platform)
    if alert.already_reported and not caller_was_told(alert, w.call.facts_used):
        w.agent(node_line(node, "already_reported", w.lines()))
    return node.next, None


async def _route_call(w: _Walk, node_id: str, node: RouteCallNode) -> tuple[str | None, str | None]:
    w.agent(node_line(node, "hold_message", w.lines()))
    briefing = await engineer_briefing(w.call, _intent_label(w), w.opts.settings)
    w.outcome.briefing = briefing
    on_call, notes = await on_call_people(node, w.call, w.opts.registry, _context(w))
    attempts, more = people_to_dial(node, on_call, w.call.call_id)
    notes += more
    for note in notes:
        w.note(note)
    style = "all at once" if node.call_style == "parallel" else "in turn"
    attempt = 0
    while batch := dial_round(node, attempts, attempt):
        attempt += 1
        answered = w.opts.answer_calls
        for i, (name, number) in enumerate(batch):
            dial = Dial(name=name, number=number, whisper=briefing if node.whisper else "", answered=answered and i == 0)
            w.outcome.dials.append(dial)
            w.note(f"dialling {name} ({number}) {style}, ringing {node.ring_timeout}s" + (f"; whisper: {briefing}" if node.whisper else ""))
        if answered:
            w.note(f"{batch[0][0]} accepted the call; caller connected")
            return node.completed, (None if node.completed else "connected")
    w.note("no one answered")
    return node.no_answer, (None if node.no_answer else "no_answer")


async def _ai_agent(w: _Walk, node_id: str, node: AiAgentNode) -> tuple[str | None, str | None]:
    settings = w.opts.settings
    context = SourceContext(settings=settings, base_dir=w.opts.base_dir)
    sources = []
    for config in node.enrichment.sources:
        try:
            sources.append(build_source(config, w.opts.registry.sources, context))
        except Exception as exc:
            w.note(f"enrichment source {config.name or config.type} left out: {exc}")
    result = await fetch_facts(sources, w.call, deadline_of(node.enrichment, settings))
    w.call.facts.extend(result.facts)
    w.outcome.timings_ms.update({f"enrichment.{k}": v for k, v in result.timings_ms.items()})
    ctx = AgentContext.build(node_id, node, w.call, w.opts.registry, region=settings.default_region, timezone=w.flow.timezone)
    engine = RealtimeTextEngine(ctx, settings) if w.opts.engine == "openai" else OfflineEngine(ctx)
    try:
        return await _converse(w, ctx, engine)
    finally:
        if isinstance(engine, RealtimeTextEngine):
            await engine.close()


async def _converse(w: _Walk, ctx: AgentContext, engine: OfflineEngine | RealtimeTextEngine) -> tuple[str | None, str | None]:
    async with TextCall(engine, w.call) as conversation:
        for line in conversation.greeting:
            w._emit("agent", line)
        while not engine.done:
            turn = await w.caller.next_turn()
            if turn is None:
                w.outcome.branch = None
                return None, "caller_hung_up"
            text = turn.text if turn.dtmf is None else turn.dtmf
            w._emit("caller", text)
            for line in await conversation.say(text):
                w._emit("agent", line)
    decision = ctx.decision
    assert decision is not None
    w.outcome.branch = decision.target
    if decision.exit == "hangup" or decision.target is None:
        return None, decision.reason or decision.exit
    return decision.target, None


_STEP = {
    AudioMessageNode: _audio_message, HangupNode: _hangup, SupportHoursNode: _support_hours,
    BlockNumbersNode: _block_numbers, IvrMenuNode: _ivr_menu, PinCodeNode: _pin_code,
    VoicemailNode: _voicemail, CreateAlertNode: _create_alert, RouteCallNode: _route_call,
    AiAgentNode: _ai_agent,
}


def _intent_label(w: _Walk) -> str | None:
    intent = w.opts.registry.intents.get(w.call.intent or "")
    return intent.label if intent else None


def _context(w: _Walk) -> SourceContext:
    return SourceContext(settings=w.opts.settings, base_dir=w.opts.base_dir)


async def _open_alert(w: _Walk, alert: Alert, platform: PluginRef | None) -> None:
    failed = await open_alert(alert, w.call, platform, w.opts.registry, _context(w), transcript=w.flow.after_call.transcript)
    w.outcome.alerts.append(alert)
    where = f" at {alert.receipt.platform} ({alert.receipt.url or alert.receipt.key})" if alert.receipt else ""
    joined = " (already reported: joined the open alert)" if alert.already_reported else ""
    w.note(f"alert opened ({alert.priority}){where}{joined}: {alert.summary}")
    if failed:
        w.note(failed)


def at_time(value: str | None) -> datetime:
    """The simulated clock: now, or an ISO time given with ``--at``."""
    if not value:
        return node_logic.utc_now()
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
