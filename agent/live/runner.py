"""Live calls through a flow: each of Twilio's webhooks gets the TwiML of the flow stepper's next actions.

The stepper (:mod:`agent.flow.stepper`) decides; this module only renders
its actions as TwiML and turns Twilio's requests back into events. An
action that waits (keys, a recording, a dial, a speech turn, a media
stream) ends the response with an action URL that carries the call's
sealed :class:`~agent.core.call.Call`. Without a realtime model the AI node
is the deterministic engine behind ``<Gather input="speech dtmf">``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from loguru import logger
from twilio.twiml.voice_response import Connect, Dial, Gather, VoiceResponse

from agent.conversation.session import Decision
from agent.core.call import AlertLink, Call, Outcome
from agent.core.events import call_event
from agent.core.facts import Fact
from agent.core.registry import Registry
from agent.core.settings import Settings
from agent.core.shared_state import MemoryState, SharedState
from agent.core.sources import PluginContext
from agent.flow import actions as act
from agent.flow.i18n import messages_for, twilio_language
from agent.flow.models import AgentMessages, AiAgentNode, Flow
from agent.flow.stepper import EventDoesNotFit, FlowServices, FlowStepper
from agent.live.after_call import AfterCall
from agent.live.continuations import Continuations
from agent.live.tokens import TokenCodec
from agent.live.twilio_rest import TwilioRest

_ANSWERED = {"completed", "answered"}
FAILOVER_MESSAGE = AgentMessages().technical_problem  # the English line: the call's language gives its own
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
    on_stream: Callable[[Call, AiAgentNode], None] | None = None  # a media stream is about to come: start early
    shared: SharedState = field(default_factory=MemoryState)  # calls in progress, outcomes written (all replicas)
    on_step: list[Callable[[Call, act.Step], Any]] = field(default_factory=list)  # watchers of the stepper's actions

    @property
    def states(self) -> Continuations:
        """Where a call's state waits between Twilio's requests (in ``shared``, whichever store that is now)."""
        return Continuations(self.codec, self.shared, self.settings.token_ttl_s)

    @property
    def stepper(self) -> FlowStepper:
        services = FlowServices(
            self.registry, self.settings, self.base_dir, recording_links=self._recording_links,
            first_outcome=self._first_outcome, on_outcome=[self._outcome_written], on_step=self.on_step,
        )
        return FlowStepper(self.flow, services, model=self.realtime)

    # -- entry points -------------------------------------------------------------------------
    async def incoming(self, form: dict[str, str]) -> str:
        """TwiML for a new call (the voice webhook)."""
        call = Call(call_id=form.get("CallSid", ""), caller_number=form.get("From") or None, called_number=form.get("To") or None)
        step = await self.stepper.start(call)
        return await self.track(call, str(await self.render(call, step)))

    async def resume(self, call: Call, event: str, form: dict[str, str]) -> str:
        """TwiML after Twilio reports what happened at the node ``call.node`` (an action URL)."""
        call = await self._freshest(call)
        try:
            step = await self.stepper.handle(call, self._event(call, event, form))
        except EventDoesNotFit:  # the event is outside the sealed token: not this node's
            logger.warning("continuation {!r} does not fit node {}; ending the call", event[:20], call.node)
            response = VoiceResponse()
            response.hangup()
            return str(response)
        return await self.track(call, str(await self.render(call, step)))

    def _event(self, call: Call, event: str, form: dict[str, str]) -> act.Event:
        """The stepper's event for Twilio's request to the continuation ``event``."""
        if event in ("ivr", "pin"):
            return act.Pressed(form.get("Digits", ""))
        if event == "vm":
            duration = form.get("RecordingDuration") or "0"
            return act.Recorded(url=form.get("RecordingUrl") or None, seconds=int(duration) if duration.isdigit() else 0)
        if event == "dial":
            call_event(call.call_id, "dial_result", status=form.get("DialCallStatus"), bridged=form.get("DialBridged"))
            # An engineer who passed (or their voicemail) hangs up in the whisper: never bridged.
            return act.DialEnded(form.get("DialCallStatus") in _ANSWERED and form.get("DialBridged", "true") != "false")
        if event == "agent":
            return act.ModelDecided(call.decided) if call.decided is not None else act.ModelFailed()
        if event == "gather":
            heard = form.get("SpeechResult") or form.get("Digits") or ""
            if not heard and call.dialogue is None and self.realtime:
                # The <Redirect> after <Connect>: the media stream ended without the agent's decision reaching
                # Twilio (the model failed, the server holding the stream died, or telling Twilio failed).
                return act.ModelDecided(call.decided) if call.decided is not None else act.ModelFailed()
            return act.Heard(heard) if heard else act.Silence()
        raise EventDoesNotFit(f"no continuation {event[:20]!r}")

    async def _freshest(self, call: Call) -> Call:
        """``call``, or the later state a media stream at the same node kept after each turn.

        A URL sealed when the stream began (the ``<Redirect>`` after
        ``<Connect>``, followed when the server holding the stream died, or
        when telling Twilio about a decision failed) then carries on from the
        stream's last turn, not from the start of the node.
        """
        latest = await self.states.latest(call.call_id)
        if latest is not None and latest.streaming and latest.seq > call.seq and latest.node == call.node:
            call = latest
        call.streaming = False
        return call

    async def decided_url(self, call: Call, decision: Decision) -> str:
        """Where Twilio fetches the branch the AI agent chose (a media stream's redirect).

        By ``Url=``, not inline ``Twiml=``: whatever the flow and the
        conversation, the redirect stays within Twilio's limits.
        """
        call.decided = decision.carried()
        return await self._action(call, "agent")

    async def failover_url(self, call: Call) -> str:
        """Where Twilio fetches the deterministic mode taking over a conversation the model dropped."""
        call.dialogue = None
        return await self._action(call, "gather")

    async def rescue(self, call: Call | None) -> str:
        """TwiML when handling a webhook failed: an apology, then a person if the flow names one."""
        stepper = self.stepper
        language, lines = stepper.lines(call) if call is not None else (self.flow.language, messages_for(None, self.flow.language))
        apology = act.Say(lines.something_went_wrong, language)
        target = next((n.fallback for n in self.flow.ai_nodes().values() if n.fallback), None)
        if call is not None and target is not None and target != call.node:
            try:
                return str(await self.render(call, await stepper.goto(call, target, [apology])))
            except Exception:
                logger.exception("rescue of call {} failed too", call.call_id)
        response = VoiceResponse()
        response.say(apology.text, **self.voice(language))
        if self.settings.emergency_number:
            response.dial(self.settings.emergency_number)
        response.hangup()
        return str(response)

    async def whisper(self, call: Call, keys: str | None = None) -> str:
        """What the engineer hears before being connected, and their choice (:meth:`FlowStepper.whisper`), as TwiML."""
        return str(await self.render(call, act.Step(self.stepper.whisper(call, keys))))

    # -- rendering ----------------------------------------------------------------------------
    async def render(self, call: Call, step: act.Step) -> VoiceResponse:
        """The TwiML of one step's actions; a waiting action's URL carries the call's state."""
        response = VoiceResponse()
        for action in step.actions:
            if isinstance(action, act.Say):
                response.say(action.text, **self.voice(action.language))
            elif isinstance(action, act.Play):
                response.play(action.url)
            elif isinstance(action, act.StartRecording):
                response.start().recording(channels="dual", track="both")
            elif isinstance(action, act.AlertOpened):
                if action.failed:
                    logger.warning("call {}: {}", call.call_id, action.failed)
            elif isinstance(action, act.AskKeys):
                whisper = action.purpose == "whisper"  # the engineer's leg: no key goes on to the next actions
                url = await (self._url("/twilio/whisper", call) if whisper else self._action(call, action.purpose))
                gather = Gather(finish_on_key=action.finish_on_key, num_digits=action.max_digits, action=url, method="POST", timeout=action.timeout_s)
                gather.say(action.prompt, **self.voice(action.language))
                response.append(gather)
                if not whisper:
                    response.redirect(url, method="POST")  # no key: the same continuation, with no digits
            elif isinstance(action, act.Record):
                url = await self._action(call, "vm")
                response.say(action.prompt, **self.voice(action.language))
                response.record(action=url, method="POST", max_length=action.max_seconds, play_beep=True, timeout=5, trim="trim-silence")
                response.redirect(url, method="POST")
            elif isinstance(action, act.Dial):
                dial = Dial(action=await self._action(call, "dial"), method="POST", timeout=action.ring_timeout_s, answer_on_bridge=True)
                whisper = await self._url("/twilio/whisper", call) if action.whisper is not None or action.whisper_accept else None
                for _, number in action.people:
                    dial.number(number, url=whisper, method="POST")
                response.append(dial)
            elif isinstance(action, act.Listen):
                url = await self._action(call, "gather")
                gather = Gather(
                    input="speech dtmf", action=url, method="POST", speech_timeout="auto", timeout=action.timeout_s,
                    language=twilio_language(action.language), finish_on_key="#",
                )
                for line in action.lines:
                    gather.say(line, **self.voice(action.language))
                response.append(gather)
                response.redirect(url, method="POST")  # nothing heard: a silent turn
            elif isinstance(action, act.Converse):
                await self._stream(call, action, response)
            elif isinstance(action, act.Hangup):
                response.hangup()
        return response

    async def _stream(self, call: Call, action: act.Converse, response: VoiceResponse) -> None:
        connect = Connect()
        stream = connect.stream(url=self._ws_url("/twilio/media"))
        stream.parameter(name="token", value=await self.states.ref(call))
        response.append(connect)
        node = self.flow.nodes[action.node_id]
        if self.on_stream is not None and isinstance(node, AiAgentNode):
            self.on_stream(call, node)
        # If the stream ends without the agent deciding (a crash, a lost replica), the call goes on here.
        response.redirect(await self._action(call, "gather"), method="POST")

    # -- the call's end -----------------------------------------------------------------------
    async def _first_outcome(self, call: Call) -> bool:
        """Whether this is the first outcome of the call, on any replica (then its latest state is dropped)."""
        if not call.call_id:
            return True
        if not await self.shared.first("outcome:" + call.call_id, self.settings.token_ttl_s):
            logger.info("call {} already has its outcome; not writing another", call.call_id)
            return False
        await self.states.forget(call.call_id)
        return True

    def _outcome_written(self, call: Call, outcome: Outcome) -> None:
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        opened = [a for a in call.alerts if a.alert.receipt is not None]
        if self.flow.after_call.transcribe and opened and self.rest is not None and self.settings.openai_api_key:
            after = AfterCall(self.flow, self.registry, self.settings, self._context(), self.rest)
            self.spawn(after.transcribe_into_alerts(call.call_id, opened))

    async def finish(self, call: Call, reason: str) -> None:
        """The call ends here: one outcome record (metrics, the call_ended hook), then after-call work.

        Exactly one per call, whoever ends it first (the flow, a stream that
        lost its caller, Twilio's status callback), on any replica.
        """
        await self.stepper.finish(call, reason)

    async def _recording_links(self, call: Call) -> list[AlertLink]:
        """Links to the call's recordings so far (the whole-call one grows until the call ends)."""
        if self.rest is None:
            return []
        try:
            recordings = await asyncio.wait_for(self.rest.recordings(call.call_id), self.settings.rest_timeout_s)
        except Exception as exc:
            logger.warning("could not list the recordings of call {}: {!r}", call.call_id, exc)
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

    def _context(self) -> PluginContext:
        return PluginContext(settings=self.settings, base_dir=self.base_dir)

    async def facts(self, call: Call, node: AiAgentNode | None = None) -> list[Fact]:
        """What is going on for ``node``'s sources (None: every AI node's), leaving ``call`` as it is."""
        probe = call.model_copy(update={"timings_ms": {}})
        await self.stepper.enrich(probe, node)
        return probe.facts

    async def track(self, call: Call, twiml: str) -> str:
        """``twiml`` goes to Twilio; while it waits for the caller, remember the call's latest call.

        Twilio reports a hang-up during a ``<Gather>`` (or a ``<Say>``, or a
        dial whose action never comes) only through the status callback, which
        carries no token: :meth:`call_gone` finds the call here.
        """
        if call.call_id and not ends_flow(twiml):
            await self.states.checkpoint(call)
        return twiml

    async def streaming(self, call: Call) -> None:
        """A media stream took the call (or had a turn): keep what it knows, on every replica."""
        call.streaming = True
        await self.states.checkpoint(call)

    async def call_gone(self, call_sid: str) -> None:
        """Twilio's status callback says the call is over: write its outcome unless the flow (or a stream) did."""
        call = await self.states.latest(call_sid, remove=True) if call_sid else None
        if call is None:
            return
        logger.info("call {} hung up at node {}", call_sid, call.node)
        if call.streaming:  # its handler, if alive, knows more: it goes first; a dead one leaves it to us
            self.spawn(self._finish_later(call, "caller_hung_up", STREAM_GRACE_S))
            return
        await self.finish(call, "caller_hung_up")

    async def _finish_later(self, call: Call, reason: str, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await self.finish(call, reason)

    # -- helpers ------------------------------------------------------------------------------
    def time_left(self, call: Call, node: AiAgentNode) -> float:
        """Seconds the AI node may still talk: its own ``max_duration_s``, within the call's ``max_call_seconds``."""
        return self.stepper.time_left(call, node)

    def voice(self, language: str | None = None) -> dict[str, str]:
        return {"language": twilio_language(language or self.flow.language)}

    def lines_of(self, call: Call) -> tuple[str, AgentMessages]:
        """The call's language and the fixed lines a caller hears in it (agent.flow.i18n)."""
        return self.stepper.lines(call)

    async def _url(self, path: str, call: Call, **query: str) -> str:
        return f"{self.public_url}{path}?" + urlencode({"t": await self.states.ref(call), **query})

    async def _action(self, call: Call, event: str) -> str:
        return await self._url("/twilio/continue", call, e=event)

    def _ws_url(self, path: str) -> str:
        base = self.public_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return base + path


def ends_flow(twiml: str) -> bool:
    """TwiML that hangs up without waiting for anything: the flow wrote its outcome when rendering it."""
    return "<Hangup" in twiml and not any(verb in twiml for verb in _WAITING_VERBS)
