"""The one interpreter of a call flow: given a call and what just happened, what the call does next.

Every node type's behaviour is here and nowhere else. The stepper decides;
the modes only render its actions (:mod:`agent.flow.actions`): the simulator
as text, the live server as TwiML, a media stream as the model's conversation.
So what ``voice-agent simulate`` shows is what a live call does::

    stepper = FlowStepper(flow, services)
    step = await stepper.start(call)                 # the call is answered
    step = await stepper.handle(call, Pressed("1"))  # what the caller (or Twilio, or the model) did
    step.actions   # say, play, ask for keys, record, dial, listen, converse, hang up ...
    step.waiting   # the action the next event answers; None once the call ended

An AI node is answered by the deterministic engine turn by turn
(:class:`Listen`), or, with ``model=True``, handed to a model
(:class:`Converse`) whose decision comes back as :class:`ModelDecided`.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from agent.conversation.briefing import alert_details, alert_for, caller_label, engineer_briefing, spoken_briefing
from agent.conversation.engines.deterministic import DialogueState, DeterministicEngine
from agent.conversation.session import NodeSession, call_language
from agent.core.call import Alert, AlertLink, Call, Decided, Dial as DialRecord, OpenedAlert, Outcome, caller_id_withheld, outcome_of
from agent.core.alert_ledger import caller_was_told
from agent.core.events import call_event
from agent.core.extract import spoken_digits
from agent.core.facts import OnCallShift
from agent.core.logs import forget_pii
from agent.core.platforms import on_call_people, open_alert
from agent.core.registry import Registry
from agent.core.settings import Settings
from agent.core.sources import PluginContext, build_source, deadline_of, fetch_facts
from agent.flow.actions import (
    Action,
    AlertOpened,
    AskKeys,
    Converse,
    Dial,
    DialEnded,
    Event,
    Hangup,
    Heard,
    HungUp,
    Listen,
    ModelDecided,
    ModelFailed,
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
from agent.flow.i18n import node_line
from agent.flow.models import (
    ALL_DAYS,
    AgentMessages,
    AiAgentNode,
    AudioMessageNode,
    BlockNumbersNode,
    CreateAlertNode,
    Flow,
    HangupNode,
    HoursRule,
    IvrMenuNode,
    PinCodeNode,
    PluginRef,
    RouteCallNode,
    SupportHoursNode,
    VoicemailNode,
)

WHISPER_MENU = "Press 1 to take the call, 2 to hear what the caller said, 3 to pass it on."
WHISPER_NO_BRIEFING = "A call from the hotline."  # whisper off, whisper_accept on: the key press, without the briefing
WHISPER_NO_KEY = "No key pressed. Passing the call on."
MAX_NODES_PER_STEP = 50  # more without waiting for anything: the flow loops
_ANSWERS = {  # the events each waiting node type takes
    IvrMenuNode: (Pressed, Heard, Silence), PinCodeNode: (Pressed, Heard, Silence), VoicemailNode: (Recorded,),
    RouteCallNode: (DialEnded,), AiAgentNode: (Heard, Pressed, Silence, ModelDecided, ModelFailed),
}


class EventDoesNotFit(ValueError):
    """An event the call's node cannot take (a continuation for another node): nothing was changed."""


@dataclass
class FlowServices:
    """What the stepper needs from outside: plugins, settings, and the mode's hooks."""

    registry: Registry
    settings: Settings
    base_dir: Path
    recording_links: Callable[[Call], Awaitable[list[AlertLink]]] | None = None  # links alerts carry (live)
    first_outcome: Callable[[Call], Awaitable[bool]] | None = None  # exactly one outcome per call (across replicas)
    on_outcome: list[Callable[[Call, Outcome], Any]] = field(default_factory=list)
    on_step: list[Callable[[Call, Step], Any]] = field(default_factory=list)  # watchers: tests, a studio's trace

    def context(self) -> PluginContext:
        return PluginContext(settings=self.settings, base_dir=self.base_dir)


class FlowStepper:
    """Moves calls through one flow. Holds no call state: everything is in the :class:`Call` it is given."""

    def __init__(self, flow: Flow, services: FlowServices, *, model: bool = False) -> None:
        self.flow = flow
        self.services = services
        self.model = model  # AI nodes are run by a model (Converse), not answered turn by turn

    # -- entry points -------------------------------------------------------------------------------
    async def start(self, call: Call) -> Step:
        """The call is answered: from the flow's start node to the first thing that waits."""
        call_event(call.call_id, "call_started", flow=self.flow.name)
        await self.services.registry.call_started(call)
        out = _Out(call)
        if self.flow.after_call.record:
            if self.flow.after_call.notice:
                out.say(self.flow.after_call.notice, self.language(call))
            out.add(StartRecording())
        return self._seen(call, await self._advance(call, self.flow.start, out))

    async def handle(self, call: Call, event: Event) -> Step:
        """What the call does after ``event`` at its node; :class:`EventDoesNotFit` if the node cannot take it."""
        node = self.flow.nodes.get(call.node or "")
        if not isinstance(event, HungUp) and (node is None or not isinstance(event, _ANSWERS.get(type(node), ()))):
            raise EventDoesNotFit(f"{type(event).__name__} does not fit node {call.node!r}")
        return self._seen(call, await self._handle(call, node, event))

    async def _handle(self, call: Call, node: Any, event: Event) -> Step:
        out = _Out(call)
        if isinstance(event, HungUp):
            await self._end(call, "caller_hung_up", out)
            return out.step
        if isinstance(node, IvrMenuNode):
            return await self._after_ivr(call, node, _keys(event), out)
        if isinstance(node, PinCodeNode):
            return await self._after_pin(call, node, _keys(event), out)
        if isinstance(node, VoicemailNode):
            return await self._after_voicemail(call, node, event, out)  # type: ignore[arg-type]
        if isinstance(node, RouteCallNode):
            return await self._after_dial(call, node, event, out)  # type: ignore[arg-type]
        return await self._after_turn(call, node, event, out)  # type: ignore[arg-type]

    async def goto(self, call: Call, node_id: str | None, said: list[Action] | None = None) -> Step:
        """Carry on at ``node_id`` (after ``said``): a rescue when handling an event failed."""
        out = _Out(call)
        out.actions.extend(said or [])
        return self._seen(call, await self._advance(call, node_id, out))

    def _seen(self, call: Call, step: Step) -> Step:
        for watcher in self.services.on_step:
            watcher(call, step)
        return step

    async def finish(self, call: Call, reason: str) -> Outcome | None:
        """Write the call's one outcome record (None when it was written already, by whoever ended the call first)."""
        if self.services.first_outcome is not None and not await self.services.first_outcome(call):
            return None
        outcome = outcome_of(call, reason)
        call.outcome = outcome
        call_event(
            call.call_id, "outcome", end_reason=reason, branch=call.branch, intent=call.intent, nodes="->".join(call.nodes),
            fields=",".join(sorted(call.fields)) or None, dials=len(call.dials), seconds=round(time.time() - call.started_at, 1),
        )
        for hook in self.services.on_outcome:
            hook(call, outcome)
        await self.services.registry.call_ended(call, outcome)
        forget_pii(*(v for v in call.fields.values() if isinstance(v, str)))
        return outcome

    # -- what the call knows ------------------------------------------------------------------------
    def language(self, call: Call) -> str:
        return self.lines(call)[0]

    def lines(self, call: Call) -> tuple[str, AgentMessages]:
        """The call's language and the fixed lines a caller hears in it (agent.flow.i18n)."""
        return call_language(self.flow, call.caller_number, self.services.settings.default_region, call.nodes)

    def intent_label(self, call: Call) -> str | None:
        intent = self.services.registry.intents.get(call.intent or "")
        return intent.label if intent else None

    def whisper(self, call: Call, keys: str | None = None) -> list[Action]:
        """What the engineer a route_call node rings hears before being connected, and their choice.

        With ``whisper_accept`` the engineer presses 1 to take the call (so a
        voicemail box never does), 2 to hear the caller's own words first, 3 to
        pass it on; no key passes it on too, and the dial tries the next target.
        No actions: bridge the call now. A ``Hangup`` here ends the engineer's
        leg only (the dial then tries the next target); the caller's call goes on.
        """
        node = self.flow.nodes.get(call.node or "")
        language = self.flow.language
        briefing = call.briefing or spoken_briefing(call, self.intent_label(call))
        if not isinstance(node, RouteCallNode) or not node.whisper_accept:
            return [Say(briefing, language)]
        if keys == "1":
            return []
        if keys == "3":
            return [Hangup("engineer_passed")]
        if keys == "2":
            heard = f"The caller said: {call.fields.get('incident') or 'nothing about the problem yet'}."
        else:
            heard = briefing if node.whisper else WHISPER_NO_BRIEFING
        return [
            AskKeys("whisper", f"{heard} {WHISPER_MENU}", language, max_digits=1, finish_on_key=None, timeout_s=8),
            Say(WHISPER_NO_KEY, language), Hangup("engineer_passed"),
        ]

    def session(self, call: Call, node_id: str | None = None) -> NodeSession:
        """What an AI node (``node_id``, default: the call's) knows during the call: gathers, intents, facts, lines."""
        node_id = node_id or call.node or ""
        node = self.flow.nodes[node_id]
        assert isinstance(node, AiAgentNode)
        settings = self.services.settings
        return NodeSession.build(node_id, node, call, self.services.registry, region=settings.default_region, timezone=self.flow.timezone)

    async def enrich(self, call: Call, node: AiAgentNode | None = None) -> list[str]:
        """Look up what is going on for the node's sources (None: every AI node's) into ``call.facts``; notes on sources left out."""
        nodes = [node] if node is not None else list(self.flow.ai_nodes().values())
        context, notes = self.services.context(), []
        call.facts = []
        for ai in nodes:
            sources = []
            for config in ai.enrichment.sources:
                try:
                    sources.append(build_source(config, self.services.registry.sources, context))
                except Exception as exc:
                    notes.append(f"enrichment source {config.name or config.type} left out: {exc}")
            result = await fetch_facts(sources, call, deadline_of(ai.enrichment, self.services.settings))
            call.facts.extend(result.facts)
            call.timings_ms.update({f"enrichment.{k}": v for k, v in result.timings_ms.items()})
        return notes

    def time_left(self, call: Call, node: AiAgentNode) -> float:
        """Seconds the AI node may still talk: its own ``max_duration_s``, within the call's ``max_call_seconds``."""
        now = time.time()
        in_node = node.max_duration_s - (now - call.node_since) if call.node_since else node.max_duration_s
        in_call = self.services.settings.max_call_seconds - (now - call.started_at)
        return max(0.0, min(in_node, in_call))

    # -- walking ------------------------------------------------------------------------------------
    async def _advance(self, call: Call, node_id: str | None, out: _Out) -> Step:
        """Run nodes from ``node_id`` until one waits or the call ends."""
        for _ in range(MAX_NODES_PER_STEP):
            if node_id is None:
                await self._end(call, "flow_ended", out)
                return out.step
            node = self.flow.nodes[node_id]
            call.nodes.append(node_id)
            call.node, call.node_since, call.attempt = node_id, time.time(), 0
            call_event(call.call_id, "node", node=node_id, type=node.type)
            if isinstance(node, AudioMessageNode):
                if node.audio_url:
                    out.add(Play(node.audio_url, node.text or ""))
                    call.say("agent", node.text or f"(plays {node.audio_url})")
                else:
                    out.say(node.text, self.language(call))
                node_id = node.next
            elif isinstance(node, SupportHoursNode):
                inside, local = within_support_hours(node, call.now)
                out.note(f"support hours at {local:%a %H:%M %Z}: {'during' if inside else 'outside'}")
                node_id = node.during if inside else node.outside
            elif isinstance(node, BlockNumbersNode):
                if not is_blocked(node, call.caller_number, self.services.settings.default_region):
                    node_id = node.allowed
                    continue
                out.note("caller is on the block list")
                if node.blocked is None:
                    await self._end(call, "blocked", out)
                    return out.step
                node_id = node.blocked
            elif isinstance(node, CreateAlertNode):
                await self._create_alert(call, node_id, node, out)
                node_id = node.next
            elif isinstance(node, HangupNode):
                if node.text:
                    out.say(node.text, self.language(call))
                await self._end(call, "hangup", out)
                return out.step
            elif isinstance(node, IvrMenuNode):
                return self._ask_ivr(call, node, out)
            elif isinstance(node, PinCodeNode):
                return self._ask_pin(call, node, out)
            elif isinstance(node, VoicemailNode):
                prompt = node_line(node, "prompt", self.lines(call)[1], "voicemail_prompt")
                call.say("agent", prompt)
                out.add(Record(prompt, self.language(call), node.max_seconds))
                return out.step
            elif isinstance(node, RouteCallNode):
                out.say(node_line(node, "hold_message", self.lines(call)[1]), self.language(call))
                return await self._dial_round(call, node, out)
            elif isinstance(node, AiAgentNode):
                return await self._enter_agent(call, node_id, node, out)
            else:  # pragma: no cover - the flow models admit no other node type
                raise TypeError(f"no behaviour for node type {node.type!r}")
        out.note(f"the flow passed {MAX_NODES_PER_STEP} nodes without waiting for anything; ending the call")
        await self._end(call, "too_many_nodes", out)
        return out.step

    async def _end(self, call: Call, reason: str, out: _Out) -> None:
        out.step.outcome = await self.finish(call, reason)
        out.add(Hangup(reason))

    # -- IVR and PIN --------------------------------------------------------------------------------
    def _ask_ivr(self, call: Call, node: IvrMenuNode, out: _Out) -> Step:
        call.say("agent", node.prompt)
        out.add(AskKeys("ivr", node.prompt, self.language(call), max_digits=1, finish_on_key=None, timeout_s=5))
        return out.step

    async def _after_ivr(self, call: Call, node: IvrMenuNode, keys: str, out: _Out) -> Step:
        call.say("caller", f"(keys {keys})" if keys else "")
        key = keys[:1]
        if key in node.options:
            return await self._advance(call, node.options[key], out)  # type: ignore[index]
        call.attempt += 1
        if call.attempt > node.retries:
            return await self._advance(call, node.no_input, out)
        return self._ask_ivr(call, node, out)

    def _ask_pin(self, call: Call, node: PinCodeNode, out: _Out) -> Step:
        prompt = node_line(node, "prompt", self.lines(call)[1], "pin_prompt")
        call.say("agent", prompt)
        out.add(AskKeys("pin", prompt, self.language(call), max_digits=12, finish_on_key="#", timeout_s=10))
        return out.step

    async def _after_pin(self, call: Call, node: PinCodeNode, keys: str, out: _Out) -> Step:
        call.say("caller", "(keys ****)" if keys else "")  # a PIN never reaches a transcript
        if keys.rstrip("#") in node.pins:
            return await self._advance(call, node.match, out)
        call.attempt += 1
        out.say(self.lines(call)[1].wrong_pin, self.language(call))  # the last wrong one too: the caller learns why
        if call.attempt >= node.attempts:
            return await self._advance(call, node.no_match, out)
        return self._ask_pin(call, node, out)

    # -- voicemail and alerts -----------------------------------------------------------------------
    async def _after_voicemail(self, call: Call, node: VoicemailNode, event: Recorded, out: _Out) -> Step:
        message = event.text.strip()
        if not (event.url and event.seconds > 0) and not message:
            return await self._advance(call, node.not_left, out)
        if message:
            call.say("caller", message)
        if node.create_alert:
            details = alert_details(call, self.intent_label(call))
            alert = Alert(summary=f"Voicemail from {caller_label(call)}", details=details, priority="high")
            if event.url:
                alert.details += f"\n\nVoicemail ({event.seconds}s): {event.url}"
                alert.links.append(AlertLink(href=event.url, text=f"Voicemail ({event.seconds}s)"))
            if message:
                alert.details += f"\n\nVoicemail: {message}"
            await self._open_alert(call, call.node or "", alert, node.platform, out)
        return await self._advance(call, node.left, out)

    async def _create_alert(self, call: Call, node_id: str, node: CreateAlertNode, out: _Out) -> None:
        if node.platform is not None and not call.facts:  # open alerts the platforms know of: already reported?
            await self.enrich(call)
        alert = alert_for(call, node, self.intent_label(call))
        await self._open_alert(call, node_id, alert, node.platform, out)
        already = node_line(node, "already_reported", self.lines(call)[1])
        if alert.already_reported and already and not caller_was_told(alert, call.facts_used):
            out.say(already, self.language(call))

    async def _open_alert(self, call: Call, node_id: str, alert: Alert, platform: PluginRef | None, out: _Out) -> None:
        """Open ``alert`` with what the flow attaches (transcript, recording links); the caller goes on whatever happens."""
        if self.flow.after_call.record and self.services.recording_links is not None:
            alert.links += await self.services.recording_links(call)
        failed = await open_alert(
            alert, call, platform, self.services.registry, self.services.context(), transcript=self.flow.after_call.transcript,
        )
        call.alerts.append(OpenedAlert(node=node_id, alert=alert))
        opened = AlertOpened(alert, failed)
        out.add(opened)
        call.say("system", opened.line)
        if failed:
            call.say("system", failed)
        receipt = alert.receipt
        call_event(call.call_id, "alert", priority=alert.priority, at=f"{receipt.platform}: {receipt.url or receipt.key}" if receipt else None, joined=alert.already_reported)

    # -- dialling -----------------------------------------------------------------------------------
    async def _dial_round(self, call: Call, node: RouteCallNode, out: _Out) -> Step:
        """Ring the next person (everyone, for ``parallel``), or leave by ``no_answer`` when nobody is left."""
        if call.briefing is None:  # once per call: every whisper, and the outcome, carry it
            call.briefing = await engineer_briefing(call, self.intent_label(call), self.services.settings)
        if node.on_call is None and any(t.type != "number" for t in node.targets) and not call.facts:
            await self.enrich(call)  # on-call look-ups by the AI nodes' sources
        on_call, notes = await on_call_people(node.targets, node.on_call, call, self.services.registry, self.services.context())
        people, more = people_to_dial(node, on_call, call.call_id)
        for note in notes + more:
            out.note(note)
        batch = dial_round(node, people, call.attempt)
        if not batch:
            out.note("no one answered")
            if node.no_answer is None:
                await self._end(call, "no_answer", out)
                return out.step
            return await self._advance(call, node.no_answer, out)
        style = "all at once" if node.call_style == "parallel" else "in turn"
        for name, number in batch:
            call.dials.append(DialRecord(name=name, number=number, whisper=call.briefing if node.whisper else "", round=call.attempt))
            out.note(f"dialling {name} ({number}) {style}, ringing {node.ring_timeout}s" + (f"; whisper: {call.briefing}" if node.whisper else ""))
        out.add(Dial(batch, node.ring_timeout, call.briefing if node.whisper else None, node.whisper_accept, node.call_style == "parallel"))
        return out.step

    async def _after_dial(self, call: Call, node: RouteCallNode, event: DialEnded, out: _Out) -> Step:
        if event.answered:
            batch = _last_round(call.dials)
            if event.who is not None and event.who < len(batch):
                batch[event.who].answered = True
                out.note(f"{batch[event.who].name} accepted the call; caller connected")
            elif node.call_style != "parallel" and batch:  # of parallel callees, Twilio does not say which one took it
                batch[-1].answered = True
                out.note(f"{batch[-1].name} accepted the call; caller connected")
            if node.completed is None:
                await self._end(call, "connected", out)
                return out.step
            return await self._advance(call, node.completed, out)
        call.attempt += 1
        return await self._dial_round(call, node, out)

    # -- the AI agent -------------------------------------------------------------------------------
    async def _enter_agent(self, call: Call, node_id: str, node: AiAgentNode, out: _Out) -> Step:
        for note in await self.enrich(call, node):
            out.note(note)
        call.dialogue, call.decided = None, None
        if self.model:
            self.session(call, node_id)  # the call's language and lines, as the model will speak them
            out.add(Converse(node_id))
            return out.step
        session = self.session(call, node_id)
        engine = DeterministicEngine(session)
        return await self._turn_result(call, session, engine, await engine.start(), out)

    async def _after_turn(self, call: Call, node: AiAgentNode, event: Event, out: _Out) -> Step:
        if isinstance(event, ModelDecided):
            return await self._leave_agent(call, event.decision, out)
        if not call.facts:  # a new request: look up what is going on again (cached by the sources)
            await self.enrich(call, node)
        session = self.session(call)
        if isinstance(event, ModelFailed) or call.dialogue is None:  # the deterministic engine takes over mid-call
            out.say(session.messages.technical_problem, session.language)
            engine = DeterministicEngine(session)
            return await self._turn_result(call, session, engine, await engine.resume(), out)
        engine = DeterministicEngine(session, state=DialogueState.model_validate(call.dialogue))
        text = event.text if isinstance(event, Heard) else event.keys if isinstance(event, Pressed) else ""
        if text.strip():
            call.say("caller", text)
        if self.time_left(call, node) <= 0:
            lines = engine.hand_over("max_duration")
        else:
            lines = await engine.reply(text)
        call_event(call.call_id, "turn", mode="deterministic", heard_chars=len(text), replies=len(lines), decided=engine.done)
        return await self._turn_result(call, session, engine, lines, out)

    async def _turn_result(self, call: Call, session: NodeSession, engine: DeterministicEngine, lines: list[str], out: _Out) -> Step:
        lines = [line for line in lines if line]
        for line in lines:
            call.say("agent", line)
        if not engine.done:
            call.dialogue = engine.state.model_dump(mode="json")
            out.add(Listen(lines, session.language, int(session.node.silence_reprompt_s)))
            return out.step
        for line in lines:
            out.add(Say(line, session.language))
        decision = session.decision
        assert decision is not None
        return await self._leave_agent(call, decision.carried(said=True), out)  # its lines were the last Say actions

    async def _leave_agent(self, call: Call, decided: Decided, out: _Out) -> Step:
        """The AI node is done: say what is left to say, then its branch (or the end of the call)."""
        call.dialogue, call.decided = None, None
        call.branch = decided.target
        if decided.say:
            out.say(decided.say, self.language(call))
        if decided.target is None:
            await self._end(call, decided.reason or decided.exit, out)
            return out.step
        return await self._advance(call, decided.target, out)


def _last_round(dials: list[DialRecord]) -> list[DialRecord]:
    """The dials of the latest round (the trailing ones that share its number)."""
    if not dials:
        return []
    start = len(dials)
    while start > 0 and dials[start - 1].round == dials[-1].round:
        start -= 1
    return dials[start:]


def _keys(event: Event) -> str:
    if isinstance(event, Pressed):
        return keys_pressed(event.keys)
    if isinstance(event, Heard):
        return keys_pressed(event.text)
    return ""


class _Out:
    """The actions of one step, and what the caller hears written to the call's transcript as it goes."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.step = Step()

    @property
    def actions(self) -> list[Action]:
        return self.step.actions

    def add(self, action: Action) -> None:
        self.step.actions.append(action)

    def say(self, text: str, language: str) -> None:
        if text:
            self.call.say("agent", text)
            self.add(Say(text, language))

    def note(self, text: str) -> None:
        self.call.say("system", text)
        self.add(Note(text))


# -- the rules of the non-AI nodes ------------------------------------------------------------------

def within_support_hours(node: SupportHoursNode, now: datetime) -> tuple[bool, datetime]:
    """Whether ``now`` falls in the node's hours, and the local time it was judged at.

    A window whose ``end`` is before its ``start`` runs past midnight: it belongs
    to the day it starts on (``fri 22:00-06:00`` is Friday 22:00 to Saturday 06:00).
    """
    local = now.astimezone(ZoneInfo(node.timezone))
    today = ALL_DAYS[local.weekday()]
    yesterday = ALL_DAYS[(local - timedelta(days=1)).weekday()]
    clock = local.time()

    def inside(rule: HoursRule) -> bool:
        if rule.start <= rule.end:
            return today in rule.days and rule.start <= clock <= rule.end
        return (today in rule.days and clock >= rule.start) or (yesterday in rule.days and clock <= rule.end)

    return any(inside(rule) for rule in node.hours), local


def is_blocked(node: BlockNumbersNode, caller: str | None, region: str) -> bool:
    if caller_id_withheld(caller):
        return node.block_anonymous
    return any(_same_number(caller or "", n, region) for n in node.numbers)


def _same_number(a: str, b: str, region: str) -> bool:
    try:
        return phonenumbers.parse(a, region) == phonenumbers.parse(b, region)
    except phonenumbers.NumberParseException:
        return False


def keys_pressed(text: str) -> str:
    """Keypad digits from keys or from speech ('two', 'one four')."""
    return re.sub(r"[^0-9*#]", "", spoken_digits(text))


def people_to_dial(
    node: RouteCallNode, on_call: dict[int, list[OnCallShift]], seed: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """Who to ring, in order (retries included; ``parallel``: one round, see :func:`dial_round`), and notes
    about targets nobody was found for.

    ``on_call`` maps each non-number target (by position) to the people on call for it.
    """
    people: list[tuple[str, str]] = []
    notes: list[str] = []
    for index, target in enumerate(node.targets):
        if target.type == "number":
            people.append((target.name or target.number or "", target.number or ""))
            continue
        shifts = on_call.get(index, [])
        if not shifts:
            notes.append(f"{target.type} {target.id}: nobody found on call")
        people.extend((s.name, s.number) for s in shifts)
    if node.call_style == "random":
        random.Random(seed).shuffle(people)
    if node.call_style == "parallel":
        return people, notes
    return [p for _ in range(node.retries + 1) for p in people], notes


def dial_round(node: RouteCallNode, people: list[tuple[str, str]], attempt: int) -> list[tuple[str, str]]:
    """Who rings at the node's ``attempt``-th dial (from 0), from :func:`people_to_dial`; empty: nobody is left.

    One person at a time, in order; with ``parallel``, everyone at once, and
    everyone again up to ``retries`` times while nobody answers.
    """
    if node.call_style == "parallel":
        return list(people) if attempt <= node.retries else []
    return people[attempt : attempt + 1]
