"""Live calls through a flow: each webhook renders the TwiML of the next stretch of the flow.

Nodes that need nothing from Twilio (messages, support hours, block lists,
alerts) are run at once; a node that waits for the caller or the network
(IVR, PIN, voicemail, dialling, the AI agent) ends the response with an
action URL that carries the call's sealed :class:`LiveState`. Without a
realtime model the AI node is the offline engine behind ``<Gather input="speech dtmf">``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from loguru import logger
from twilio.twiml.voice_response import Connect, Dial, Gather, VoiceResponse

from agent.flow import rules as node_logic
from agent.conversation.session import AgentContext, Decision, call_language
from agent.conversation.briefing import (
    alert_details,
    alert_for,
    caller_label,
    engineer_briefing,
    spoken_briefing,
)
from agent.core.call import Alert, AlertLink, Call, Outcome, Turn
from agent.core.call import Dial as DialRecord
from agent.conversation.engines.offline import DialogueState, OfflineEngine
from agent.core.events import call_event
from agent.core.facts import Fact
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
from agent.flow.i18n import messages_for, node_line, twilio_language
from agent.live.after_call import AfterCall
from agent.live.continuations import Continuations
from agent.live.tokens import Decided, LiveState, OpenedAlert, TokenCodec
from agent.live.twilio_rest import TwilioRest
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
from agent.core.shared_state import MemoryState, SharedState
from agent.core.sources import SourceContext, build_source, deadline_of, fetch_facts

MAX_NODES_PER_RESPONSE = 50
_ANSWERED = {"completed", "answered"}
WHISPER_MENU = "Press 1 to take the call, 2 to hear what the caller said, 3 to pass it on."
WHISPER_NO_BRIEFING = "A call from the hotline."  # whisper off, whisper_accept on: the key press, without the briefing
FAILOVER_MESSAGE = AgentMessages().technical_problem  # the English line: the call's language gives its own
MAX_TOKEN_TRANSCRIPT_CHARS = 2000  # the token rides in Twilio's URLs; the alert gets the most recent part
STREAM_GRACE_S = 3.0  # a hang-up during a media stream: its handler, still alive, writes a fresher outcome first
_WAITING_VERBS = ("<Dial", "<Gather", "<Record", "<Redirect", "<Connect", "<Enqueue", "<Pay")


@dataclass
class LiveFlow:
    """One flow answering live calls; stateless between requests."""

    flow: Flow
    registry: Registry
    settings: Settings
    base_dir: Path
    codec: TokenCodec
    public_url: str
    realtime: bool = False
    on_outcome: Callable[[Outcome], None] | None = None  # e.g. a metrics counter
    rest: TwilioRest | None = None  # recordings; without it, alerts carry no recording link
    background: set[asyncio.Task] = field(default_factory=set)  # after-call work still running
    on_stream: Callable[[LiveState, AiAgentNode], None] | None = None  # a media stream is about to come: start early
    shared: SharedState = field(default_factory=MemoryState)  # calls in progress, outcomes written (all replicas)

    @property
    def states(self) -> Continuations:
        """Where a call's state waits between Twilio's requests (in ``shared``, whichever store that is now)."""
        return Continuations(self.codec, self.shared, self.settings.token_ttl_s)

    # -- entry points -------------------------------------------------------------------------
    async def incoming(self, form: dict[str, str]) -> str:
        """TwiML for a new call (the voice webhook)."""
        state = LiveState(
            call_sid=form.get("CallSid", ""), node=self.flow.start, caller=form.get("From") or None,
            called=form.get("To") or None, started_at=time.time(),
        )
        call_event(state.call_sid, "call_started", flow=self.flow.name)
        await self.registry.call_started(self.call_of(state))
        response = VoiceResponse()
        if self.flow.after_call.record:
            if self.flow.after_call.notice:
                response.say(self.flow.after_call.notice, **self.voice(self.language_of(state)))
            response.start().recording(channels="dual", track="both")
        return await self.track(state, str(await self._advance(state, self.flow.start, response)))

    async def resume(self, state: LiveState, event: str, form: dict[str, str]) -> str:
        """TwiML after Twilio reports what happened at the node ``state.node`` (an action URL)."""
        node = self.flow.nodes.get(state.node)
        handler, node_type = {
            "ivr": (self._after_ivr, IvrMenuNode), "pin": (self._after_pin, PinCodeNode),
            "vm": (self._after_voicemail, VoicemailNode), "dial": (self._after_dial, RouteCallNode),
            "gather": (self._after_gather, AiAgentNode), "agent": (self._after_decision, AiAgentNode),
        }.get(event, (None, None))
        if handler is None or not isinstance(node, node_type):  # the event is outside the sealed token
            logger.warning("continuation {!r} does not fit node {}; ending the call", event[:20], state.node)
            response = VoiceResponse()
            response.hangup()
            return str(response)
        state = await self._freshest(state)
        return await self.track(state, str(await handler(state, node, form)))

    async def _freshest(self, state: LiveState) -> LiveState:
        """``state``, or the later one a media stream at the same node kept after each turn.

        A URL sealed when the stream began (the ``<Redirect>`` after
        ``<Connect>``, followed when the server holding the stream died, or
        when telling Twilio about a decision failed) then carries on from the
        stream's last turn, not from the start of the node.
        """
        latest = await self.states.latest(state.call_sid)
        if latest is not None and latest.streaming and latest.seq > state.seq and latest.node == state.node:
            state = latest
        state.streaming = False
        return state

    async def decided_url(self, state: LiveState, decision: Decision) -> str:
        """Where Twilio fetches the branch the AI agent chose (a media stream's redirect).

        By ``Url=``, not inline ``Twiml=``: whatever the flow and the
        conversation, the redirect stays within Twilio's limits.
        """
        state.decided = Decided(exit=decision.exit, target=decision.target, say=decision.say, intent=decision.intent, reason=decision.reason)
        return await self._action(state, "agent")

    async def failover_url(self, state: LiveState) -> str:
        """Where Twilio fetches the deterministic mode taking over a conversation the model dropped."""
        state.engine = None
        return await self._action(state, "gather")

    async def _after_decision(self, state: LiveState, node: AiAgentNode, form: dict[str, str]) -> VoiceResponse:
        decided, state.decided = state.decided, None
        if decided is None:  # a redirect without a decision: the deterministic mode carries on
            return await self._after_gather(state, node, {})
        state.branch = decided.target
        response = VoiceResponse()
        if decided.say:
            response.say(decided.say, **self.voice(self.language_of(state)))
        if decided.target is None:
            await self.finish(state, decided.reason or decided.exit)
            response.hangup()
            return response
        return await self._advance(state, decided.target, response)

    async def rescue(self, state: LiveState | None) -> str:
        """TwiML when handling a webhook failed: an apology, then a person if the flow names one."""
        response = VoiceResponse()
        language, lines = self.lines_of(state) if state is not None else (self.flow.language, messages_for(None, self.flow.language))
        response.say(lines.something_went_wrong, **self.voice(language))
        target = next((n.fallback for n in self.flow.ai_nodes().values() if n.fallback), None)
        if state is not None and target is not None and target != state.node:
            try:
                return str(await self._advance(state, target, response))
            except Exception:
                logger.exception("rescue of call {} failed too", state.call_sid)
        if self.settings.emergency_number:
            response.dial(self.settings.emergency_number)
        response.hangup()
        return str(response)

    async def whisper(self, state: LiveState, keys: str | None = None) -> str:
        """What the engineer hears before being connected, and their choice.

        With ``whisper_accept`` the engineer presses 1 to take the call (so a
        voicemail box never does), 2 to hear the caller's own words first, 3 to
        pass it on; no key passes it on too. The dial then tries the next target.
        """
        node = self.flow.nodes.get(state.node)
        call = self.call_of(state)
        response = VoiceResponse()
        briefing = state.briefing or spoken_briefing(call, self._intent_label(state))
        if not isinstance(node, RouteCallNode) or not node.whisper_accept:
            response.say(briefing, **self.voice())
            return str(response)
        if keys == "1":
            return str(response)  # empty: Twilio bridges the call
        if keys == "3":
            response.hangup()
            return str(response)
        gather = Gather(num_digits=1, action=await self._url("/twilio/whisper", state), method="POST", timeout=8)
        if keys == "2":
            gather.say(f"The caller said: {call.fields.get('incident') or 'nothing about the problem yet'}.", **self.voice())
        else:
            gather.say(briefing if node.whisper else WHISPER_NO_BRIEFING, **self.voice())
        gather.say(WHISPER_MENU, **self.voice())
        response.append(gather)
        response.say("No key pressed. Passing the call on.", **self.voice())
        response.hangup()
        return str(response)

    # -- walking ------------------------------------------------------------------------------
    async def _advance(self, state: LiveState, node_id: str | None, response: VoiceResponse) -> VoiceResponse:
        for _ in range(MAX_NODES_PER_RESPONSE):
            if node_id is None:
                await self.finish(state, "flow_ended")
                response.hangup()
                return response
            node = self.flow.nodes[node_id]
            state.nodes.append(node_id)
            state.node = node_id
            state.node_since = time.time()
            call_event(state.call_sid, "node", node=node_id, type=node.type)
            state.attempt = 0
            if isinstance(node, AudioMessageNode):
                if node.audio_url:
                    response.play(node.audio_url)
                else:
                    response.say(node.text, **self.voice(self.language_of(state)))
                node_id = node.next
            elif isinstance(node, SupportHoursNode):
                inside, _ = within_support_hours(node, node_logic.utc_now())
                node_id = node.during if inside else node.outside
            elif isinstance(node, BlockNumbersNode):
                blocked = is_blocked(node, state.caller, self.settings.default_region)
                node_id = node.blocked if blocked else node.allowed
            elif isinstance(node, CreateAlertNode):
                alert = await self._open_alert(state, node_id, node)
                language, lines = self.lines_of(state)
                already = node_line(node, "already_reported", lines)
                if alert.already_reported and already and not caller_was_told(alert, state.facts_used):
                    response.say(already, **self.voice(language))
                node_id = node.next
            elif isinstance(node, HangupNode):
                if node.text:
                    response.say(node.text, **self.voice(self.language_of(state)))
                await self.finish(state, "hangup")
                response.hangup()
                return response
            else:
                return await self._wait_at(state, node, response)
        logger.error("flow {} loops without waiting; ending the call", self.flow.name)
        response.hangup()
        return response

    async def _wait_at(self, state: LiveState, node: Any, response: VoiceResponse) -> VoiceResponse:
        """Render a node that needs Twilio to come back with a result."""
        language, lines = self.lines_of(state)
        if isinstance(node, IvrMenuNode):
            action = await self._action(state, "ivr")
            gather = Gather(num_digits=1, action=action, method="POST", timeout=5)
            gather.say(node.prompt, **self.voice(language))
            response.append(gather)
            response.redirect(action, method="POST")
        elif isinstance(node, PinCodeNode):
            action = await self._action(state, "pin")
            gather = Gather(finish_on_key="#", num_digits=12, action=action, method="POST", timeout=10)
            gather.say(node_line(node, "prompt", lines, "pin_prompt"), **self.voice(language))
            response.append(gather)
            response.redirect(action, method="POST")
        elif isinstance(node, VoicemailNode):
            action = await self._action(state, "vm")
            response.say(node_line(node, "prompt", lines, "voicemail_prompt"), **self.voice(language))
            response.record(action=action, method="POST", max_length=node.max_seconds, play_beep=True, timeout=5, trim="trim-silence")
            response.redirect(action, method="POST")
        elif isinstance(node, RouteCallNode):
            response.say(node_line(node, "hold_message", lines), **self.voice(language))
            if node.whisper and state.briefing is None:  # once per call; every whisper URL carries it
                state.briefing = await engineer_briefing(self.call_of(state), self._intent_label(state), self.settings)
            await self._dial(state, node, response)
        elif isinstance(node, AiAgentNode):
            if self.realtime:
                await self._stream(state, node, response)
            else:
                await self.gather_turn(state, node, None, response)
        return response

    # -- continuations ------------------------------------------------------------------------
    async def _after_ivr(self, state: LiveState, node: IvrMenuNode, form: dict[str, str]) -> VoiceResponse:
        valid, target = ivr_target(node, keys_pressed(form.get("Digits", "")))
        if valid:
            return await self._advance(state, target, VoiceResponse())
        state.attempt += 1
        if state.attempt > node.retries:
            return await self._advance(state, node.no_input, VoiceResponse())
        return await self._wait_at(state, node, VoiceResponse())

    async def _after_pin(self, state: LiveState, node: PinCodeNode, form: dict[str, str]) -> VoiceResponse:
        if pin_matches(node, form.get("Digits", "")):
            return await self._advance(state, node.match, VoiceResponse())
        state.attempt += 1
        if state.attempt >= node.attempts:
            return await self._advance(state, node.no_match, VoiceResponse())
        response = VoiceResponse()
        language, lines = self.lines_of(state)
        response.say(lines.wrong_pin, **self.voice(language))
        return await self._wait_at(state, node, response)

    async def _after_voicemail(self, state: LiveState, node: VoicemailNode, form: dict[str, str]) -> VoiceResponse:
        url = form.get("RecordingUrl")
        duration = form.get("RecordingDuration") or "0"
        seconds = int(duration) if duration.isdigit() else 0
        if not url or seconds <= 0:
            return await self._advance(state, node.not_left, VoiceResponse())
        if node.create_alert:
            call = self.call_of(state)
            details = alert_details(call, self._intent_label(state)) + f"\n\nVoicemail ({seconds}s): {url}"
            alert = Alert(
                summary=f"Voicemail from {caller_label(call)}", details=details,
                links=[AlertLink(href=url, text=f"Voicemail ({seconds}s)")],
            )
            await self._emit_alert(state, state.node, alert, node.platform)
        return await self._advance(state, node.left, VoiceResponse())

    async def _after_dial(self, state: LiveState, node: RouteCallNode, form: dict[str, str]) -> VoiceResponse:
        call_event(state.call_sid, "dial_result", status=form.get("DialCallStatus"), bridged=form.get("DialBridged"))
        # An engineer who passed (or their voicemail) hangs up in the whisper: never bridged.
        if form.get("DialCallStatus") in _ANSWERED and form.get("DialBridged", "true") != "false":
            if node.call_style != "parallel" and state.dials:  # of parallel callees, Twilio does not say which one took it
                state.dials[-1].answered = True
            return await self._advance(state, node.completed, VoiceResponse())
        state.attempt += 1
        response = VoiceResponse()
        if not await self._dial(state, node, response):
            return await self._advance(state, node.no_answer, VoiceResponse())
        return response

    async def _after_gather(self, state: LiveState, node: AiAgentNode, form: dict[str, str]) -> VoiceResponse:
        heard = form.get("SpeechResult") or form.get("Digits") or ""
        if not heard and state.engine is None and self.realtime:
            # The <Redirect> after <Connect>: the media stream ended without the agent deciding (the model
            # failed, or the server holding the stream died). Carry on from the stream's last turn.
            if state.decided is not None:  # it had decided; only telling Twilio failed
                return await self._after_decision(state, node, form)
            response = VoiceResponse()
            language, lines = self.lines_of(state)
            response.say(lines.technical_problem, **self.voice(language))
            return await self.gather_turn(state, node, None, response, resume=True)
        return await self.gather_turn(state, node, heard, VoiceResponse())

    # -- node work ----------------------------------------------------------------------------
    async def _dial(self, state: LiveState, node: RouteCallNode, response: VoiceResponse) -> bool:
        """Ring the next person (or everyone, for parallel); False when nobody is left."""
        call = self.call_of(state)
        if node.on_call is None and any(t.type != "number" for t in node.targets):
            call.facts = await self.facts(state)
        on_call, notes = await on_call_people(node, call, self.registry, self._context())
        people, more = people_to_dial(node, on_call, state.call_sid)
        notes += more
        for note in notes:
            logger.warning("route_call {}: {}", state.node, note)
        batch = dial_round(node, people, state.attempt)
        if not batch:
            return False
        for name, number in batch:
            state.dials.append(DialRecord(name=name, number=number))  # before sealing: the dial's result marks it
        dial = Dial(action=await self._action(state, "dial"), method="POST", timeout=node.ring_timeout, answer_on_bridge=True)
        whisper = await self._url("/twilio/whisper", state) if node.whisper or node.whisper_accept else None
        for _, number in batch:
            dial.number(number, url=whisper, method="POST")
        response.append(dial)
        return True

    async def _stream(self, state: LiveState, node: AiAgentNode, response: VoiceResponse) -> None:
        connect = Connect()
        stream = connect.stream(url=self._ws_url("/twilio/media"))
        stream.parameter(name="token", value=await self.states.ref(state))
        response.append(connect)
        if self.on_stream is not None:
            self.on_stream(state, node)
        # If the stream ends without the agent deciding (a crash, a lost replica), the call goes on here.
        response.redirect(await self._action(state, "gather"), method="POST")

    async def gather_turn(
        self, state: LiveState, node: AiAgentNode, heard: str | None, response: VoiceResponse, *, resume: bool = False
    ) -> VoiceResponse:
        """One turn of the offline engine over Twilio's speech recognition (``resume``: take over mid-call)."""
        call = self.call_of(state)
        call.facts = await self.facts(state, node)
        ctx = AgentContext.build(state.node, node, call, self.registry, region=self.settings.default_region, timezone=self.flow.timezone)
        dialogue = DialogueState.model_validate(state.engine) if state.engine else None
        engine = OfflineEngine(ctx, state=dialogue)
        if resume:
            lines = await engine.resume()
        elif heard is None and dialogue is None:
            lines = await engine.start()
        elif self.time_left(state, node) <= 0:
            call.say("caller", heard or "")
            lines = engine.hand_over("max_duration")
        else:
            call.say("caller", heard or "")
            lines = await engine.reply(heard or "")
        for line in lines:
            call.say("agent", line)
        call_event(state.call_sid, "turn", mode="gather", heard_chars=len(heard or ""), replies=len(lines), decided=engine.done)
        self.keep(state, call)
        state.engine = engine.state.model_dump(mode="json")
        if engine.done:
            for line in lines:
                response.say(line, **self.voice(ctx.language))
            decision = ctx.decision
            assert decision is not None
            state.engine = None
            state.branch = decision.target
            if decision.target is None:
                await self.finish(state, decision.reason or decision.exit)
                response.hangup()
                return response
            return await self._advance(state, decision.target, response)
        action = await self._action(state, "gather")
        gather = Gather(
            input="speech dtmf", action=action, method="POST", speech_timeout="auto",
            timeout=int(node.silence_reprompt_s), language=twilio_language(ctx.language),
            finish_on_key="#",
        )
        for line in lines:
            gather.say(line, **self.voice(ctx.language))
        response.append(gather)
        response.redirect(action, method="POST")  # nothing heard: a silent turn
        return response

    async def _open_alert(self, state: LiveState, node_id: str, node: CreateAlertNode) -> Alert:
        call = self.call_of(state)
        if node.platform is not None:
            call.facts = await self.facts(state)  # open alerts the platforms know of: is this already reported?
        alert = alert_for(call, node, self._intent_label(state))
        await self._emit_alert(state, node_id, alert, node.platform, call)
        return alert

    async def _emit_alert(self, state: LiveState, node_id: str, alert: Alert, platform: PluginRef | None, call: Call | None = None) -> None:
        """Open ``alert`` with what the flow attaches after calls (transcript, recording link)."""
        call = call or self.call_of(state)
        if self.flow.after_call.record:
            alert.links += await self._recording_links(state.call_sid)
        await open_alert(alert, call, platform, self.registry, self._context(), transcript=self.flow.after_call.transcript)
        if alert.receipt is not None:
            state.alerts.append(OpenedAlert(
                node=node_id, summary=alert.summary, priority=alert.priority, dedup_key=alert.dedup_key, receipt=alert.receipt,
            ))
        where = f" at {alert.receipt.platform}: {alert.receipt.url or alert.receipt.key}" if alert.receipt else ""
        joined = " (joined the open one)" if alert.already_reported else ""
        call_event(state.call_sid, "alert", priority=alert.priority, at=where.removeprefix(" at ") or None, joined=alert.already_reported)

    async def _recording_links(self, call_sid: str) -> list[AlertLink]:
        """Links to the call's recordings so far (the whole-call one grows until the call ends)."""
        if self.rest is None:
            return []
        try:
            recordings = await asyncio.wait_for(self.rest.recordings(call_sid), self.settings.rest_timeout_s)
        except Exception as exc:
            logger.warning("could not list the recordings of call {}: {!r}", call_sid, exc)
            return []
        return [AlertLink(href=self.rest.recording_url(r["sid"]), text=f"Call recording {r['sid']}") for r in recordings]

    def spawn(self, job: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run after-call work in the background, kept until it ends (see :meth:`drain`)."""
        task = asyncio.create_task(job)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Give after-call work a moment to finish (server shutdown), then cancel what is left."""
        if not self.background:
            return
        _, pending = await asyncio.wait(set(self.background), timeout=timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _context(self) -> SourceContext:
        return SourceContext(settings=self.settings, base_dir=self.base_dir)

    async def facts(self, state: LiveState, node: AiAgentNode | None = None) -> list[Fact]:
        """Enrichment for this request: the node's sources, or every AI node's (for on-call look-ups)."""
        nodes = [node] if node is not None else list(self.flow.ai_nodes().values())
        context = self._context()
        facts: list[Fact] = []
        for ai in nodes:
            sources = []
            for config in ai.enrichment.sources:
                try:
                    sources.append(build_source(config, self.registry.sources, context))
                except Exception as exc:
                    logger.warning("enrichment source {} left out: {}", config.name or config.type, exc)
            result = await fetch_facts(sources, self.call_of(state), deadline_of(ai.enrichment, self.settings))
            facts.extend(result.facts)
        return facts

    async def track(self, state: LiveState, twiml: str) -> str:
        """``twiml`` goes to Twilio; while it waits for the caller, remember the call's latest state.

        Twilio reports a hang-up during a ``<Gather>`` (or a ``<Say>``, or a
        dial whose action never comes) only through the status callback, which
        carries no token: :meth:`call_gone` finds the state here.
        """
        if state.call_sid and not ends_flow(twiml):
            await self.states.checkpoint(state)
        return twiml

    async def streaming(self, state: LiveState) -> None:
        """A media stream took the call (or had a turn): keep what it knows, on every replica."""
        state.streaming = True
        await self.states.checkpoint(state)

    async def call_gone(self, call_sid: str) -> None:
        """Twilio's status callback says the call is over: write its outcome unless the flow (or a stream) did."""
        state = await self.states.latest(call_sid, remove=True) if call_sid else None
        if state is None:
            return
        logger.info("call {} hung up at node {}", call_sid, state.node)
        if state.streaming:  # its handler, if alive, knows more: it goes first; a dead one leaves it to us
            self.spawn(self._finish_later(state, "caller_hung_up", STREAM_GRACE_S))
            return
        await self.finish(state, "caller_hung_up")

    async def _finish_later(self, state: LiveState, reason: str, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await self.finish(state, reason)

    async def finish(self, state: LiveState, reason: str) -> None:
        """The call ends here: one outcome record (metrics, the call_ended hook), then after-call work.

        Exactly one per call, whoever ends it first (the flow, a stream that
        lost its caller, Twilio's status callback), on any replica.
        """
        if state.call_sid:
            if not await self.shared.first("outcome:" + state.call_sid, self.settings.token_ttl_s):
                logger.info("call {} already has its outcome; not writing {!r}", state.call_sid, reason)
                return
            await self.states.forget(state.call_sid)
        call = self.call_of(state)
        outcome = Outcome(
            call_id=state.call_sid, intent=state.intent, branch=state.branch, end_reason=reason, fields=dict(state.fields),
            facts_used=list(state.facts_used), nodes=list(state.nodes), summary=state.summary,
            briefing=state.briefing, transcript=list(state.transcript), dials=list(state.dials),
            alerts=[Alert(summary=a.summary, details="", priority=a.priority, dedup_key=a.dedup_key, receipt=a.receipt) for a in state.alerts],
            timings_ms={"call": round((time.time() - state.started_at) * 1000, 1)} if state.started_at else {},
        )
        call.outcome = outcome
        call_event(
            state.call_sid, "outcome", end_reason=reason, branch=state.branch, intent=state.intent, nodes="->".join(state.nodes),
            fields=",".join(sorted(state.fields)) or None, dials=len(state.dials), seconds=round(time.time() - state.started_at, 1) if state.started_at else None,
        )
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        await self.registry.call_ended(call, outcome)
        forget_pii(*(v for v in state.fields.values() if isinstance(v, str)))
        if self.flow.after_call.transcribe and state.alerts and self.rest is not None and self.settings.openai_api_key:
            after = AfterCall(self.flow, self.registry, self.settings, self._context(), self.rest)
            self.spawn(after.transcribe_into_alerts(state.call_sid, list(state.alerts)))

    # -- helpers ------------------------------------------------------------------------------
    def call_of(self, state: LiveState) -> Call:
        return Call(
            caller_number=state.caller, called_number=state.called, call_id=state.call_sid,
            fields=dict(state.fields), intent=state.intent, summary=state.summary,
            facts_used=list(state.facts_used), nodes=list(state.nodes), transcript=list(state.transcript),
        )

    @staticmethod
    def keep(state: LiveState, call: Call) -> None:
        state.fields, state.intent, state.summary = dict(call.fields), call.intent, call.summary
        state.facts_used = list(call.facts_used)
        kept: list[Turn] = []
        room = MAX_TOKEN_TRANSCRIPT_CHARS
        for turn in reversed(call.transcript):
            if turn.speaker == "system" or not turn.text:
                continue
            room -= len(turn.text)
            if room < 0:
                break
            kept.append(turn)
        state.transcript = kept[::-1]

    def time_left(self, state: LiveState, node: AiAgentNode) -> float:
        """Seconds the AI node may still talk: its own ``max_duration_s``, within the call's ``max_call_seconds``."""
        now = time.time()
        in_node = node.max_duration_s - (now - state.node_since) if state.node_since else node.max_duration_s
        in_call = self.settings.max_call_seconds - (now - state.started_at) if state.started_at else self.settings.max_call_seconds
        return max(0.0, min(in_node, in_call))

    def _intent_label(self, state: LiveState) -> str | None:
        intent = self.registry.intents.get(state.intent or "")
        return intent.label if intent else None

    def voice(self, language: str | None = None) -> dict[str, str]:
        return {"language": twilio_language(language or self.flow.language)}

    def lines_of(self, state: LiveState) -> tuple[str, AgentMessages]:
        """The call's language and the fixed lines a caller hears in it (agent.flow.i18n)."""
        return call_language(self.flow, state.caller, self.settings.default_region, state.nodes)

    def language_of(self, state: LiveState) -> str:
        return self.lines_of(state)[0]

    async def _url(self, path: str, state: LiveState, **query: str) -> str:
        return f"{self.public_url}{path}?" + urlencode({"t": await self.states.ref(state), **query})

    async def _action(self, state: LiveState, event: str) -> str:
        return await self._url("/twilio/continue", state, e=event)

    def _ws_url(self, path: str) -> str:
        base = self.public_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return base + path


def ends_flow(twiml: str) -> bool:
    """TwiML that hangs up without waiting for anything: the flow wrote its outcome when rendering it."""
    return "<Hangup" in twiml and not any(verb in twiml for verb in _WAITING_VERBS)
