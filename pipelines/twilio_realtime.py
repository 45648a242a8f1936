"""The per-call pipeline of a live AI agent node: Twilio media in, realtime model, tools, Twilio media out.

    Twilio WS -> transport in            Pipecat's websocket input + SafeTwilioSerializer: CallerAudioFrame,
                                         TwilioMarkFrame, InputDTMFFrame, TwilioStopFrame
      -> BargeInDetector  (VAD)          local Silero while the bot is heard -> VADUserStartedSpeakingFrame
      -> the node's ModelProcessor       the model, from the node's backend (agent/media/backends; e.g.
                                         openai_realtime: audio/pcmu both ways); its events as frames;
                                         barge-in; hand-over line; fail-over
      -> ToolHandlers                    FunctionCallInProgressFrame -> ToolBox -> FunctionCallResultFrame,
                                         CallDecidedFrame; SilenceFrame counted per question (no-input),
                                         past max_no_input and HandOverFrame -> the fallback's decision
      -> TwilioMediaOutput (transport out) BotAudioFrame -> media + marks on the socket; clear on
                                         interruption; BotStarted/StoppedSpeakingFrame, PlaybackCutFrame
    side processors (what they push upstream reaches the model):
      -> ReplyLatencyMeter               (with on_reply_latency) end of caller turn -> first bot audio
      -> KeypadCollector                 key presses -> KeypadEntryFrame
      -> CallSupervisor                  speaker tracking, silence re-prompts, max duration
      -> TranscriptKeeper                the call's transcript; checkpoint on every turn and tool answer

Every low-rate event (speech start/stop, transcripts, tool calls and answers,
decisions, DTMF, playback marks and start/stop, barge-in cuts, re-prompts,
hand-overs) is a frame between these processors, so a processor of your own
(``media_handler(processors=...)``) sees them. The audio takes the same
path, as frames (caller audio: transport in -> VAD -> model; bot audio:
model -> tool handlers -> transport out), on a fast lane: our processors run
in Pipecat's direct mode (no queue hop), and take audio frames in
``queue_frame`` with one call each, without Pipecat's per-frame hooks; a
processor of yours on the lane gets them the usual way (the ``benchmarks/``
measure the lane). The side processors run in direct mode too: queued
(a task hop per frame and processor) they cost ~0.1 CPU s per call-minute
more in the load benchmark, for no audible gain. There is no Pipecat output transport: Twilio paces the
audio itself, and transport out writes it as it comes.

When the agent decides, the live call is redirected (Twilio REST, ``Url=``)
to a continuation that renders the chosen branch from what was gathered;
Twilio then ends the stream. When the model fails, the call is redirected to
the deterministic mode (the deterministic engine over ``<Gather>``) with the same
fields, after a short apology. After every turn the call's latest state is
kept in the shared store, so if this process dies mid-call, the ``<Redirect>``
Twilio follows reaches another replica that carries on from that turn.

This module takes no server object: the server passes callbacks
(``on_reply_latency``, ``on_model_error``) for its metrics.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from fastapi import WebSocket
from loguru import logger
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from pipecat.workers.runner import WorkerRunner

from agent.conversation.prompt import build_instructions
from agent.conversation.session import Decision
from agent.conversation.tools import ToolBox
from agent.core.call import Call
from agent.core.events import call_event
from agent.flow.models import AiAgentNode
from agent.live.runner import LiveFlow
from agent.live.tokens import TokenError
from agent.live.twilio_rest import TwilioRest, TwilioRestError, UpdateResult
from agent.media.backends.base import ModelRequest
from agent.media.backends.choice import model_of
from agent.media.frames import ModelInstructionsFrame
from agent.media.processors.barge_in import BargeInDetector
from agent.media.processors.keypad import KeypadCollector
from agent.media.processors.reply_latency import ReplyLatencyMeter
from agent.media.processors.supervisor import CallSupervisor
from agent.media.processors.tool_handlers import ToolHandlers
from agent.media.processors.transcript_keeper import TranscriptKeeper
from agent.media.processors.twilio_output import TwilioMediaOutput
from agent.media.processors.twilio_sender import TwilioMediaSender
from agent.media.processors.twilio_serializer import SafeTwilioSerializer
from agent.media.vad import SileroModel

START_TIMEOUT_S = 5.0
EARLY_START_TTL_S = 15.0
MAX_EARLY_STARTS = 1000

# Given the call's processors in pipeline order, the processors to run (yours inserted where you want them).
ArrangeProcessors = Callable[[list[FrameProcessor]], list[FrameProcessor]]


async def read_start(websocket: WebSocket) -> dict:
    """Read Twilio's ``connected`` and ``start`` messages; the ``start`` body."""
    for _ in range(4):
        message = json.loads(await asyncio.wait_for(websocket.receive_text(), START_TIMEOUT_S))
        if isinstance(message, dict) and message.get("event") == "start":
            return message.get("start") or {}
    raise ValueError("no start message from Twilio")


class EarlyStart:
    """The model connection (what the node's backend starts early, if anything) and enrichment of a call,
    started while Twilio is still opening the media stream.

    Begun when the webhook answers with ``<Connect><Stream>``, taken by the
    stream when it arrives here; if it goes to another replica (or never
    comes), what was started is closed after ``EARLY_START_TTL_S``.
    """

    def __init__(self) -> None:
        self._calls: dict[str, tuple[asyncio.Future | None, asyncio.Task, asyncio.TimerHandle]] = {}

    def begin(self, live: LiveFlow, state: Call, node: AiAgentNode) -> None:
        if state.call_id in self._calls or len(self._calls) >= MAX_EARLY_STARTS:
            return
        try:
            chosen = model_of(node, live.registry, live.settings)
            connection = chosen.backend.connect_early(chosen.options)
        except Exception:  # noqa: BLE001 - only a head start: the call connects when its stream arrives
            logger.exception("the model backend could not start early for call {}", state.call_id)
            connection = None
        facts = asyncio.create_task(live.facts(state, node))  # reads the state only
        expiry = asyncio.get_running_loop().call_later(EARLY_START_TTL_S, self._expire, state.call_id)
        self._calls[state.call_id] = (connection, facts, expiry)

    def take(self, call_sid: str) -> tuple[asyncio.Future | None, asyncio.Task | None]:
        """The connection and facts started for ``call_sid`` (None, None when nothing was)."""
        entry = self._calls.pop(call_sid, None)
        if entry is None:
            return None, None
        entry[2].cancel()
        return entry[0], entry[1]

    def _expire(self, call_sid: str) -> None:
        connection, facts = self.take(call_sid)
        if facts is not None:
            facts.cancel()
        if connection is not None:
            connection.add_done_callback(_close_unused)


def _close_unused(connection: asyncio.Future) -> None:
    if connection.cancelled() or connection.exception() is not None:
        return
    close = getattr(connection.result(), "close", None)  # what a backend started early: closed if it can be
    if close is None:
        return
    task = asyncio.ensure_future(close())
    task.add_done_callback(lambda t: t.cancelled() or t.exception())  # a connection already gone is fine


def media_handler(
    rest: TwilioRest | None = None, *, early: EarlyStart | None = None,
    on_reply_latency: Callable[[float], None] | None = None, on_model_error: Callable[[str], None] | None = None,
    processors: ArrangeProcessors | None = None,
):
    """The router's media-stream handler, sharing one Twilio REST client across calls (default: the flow's own).

    ``on_reply_latency(seconds)``: each reply's voice-to-voice delay;
    ``on_model_error(kind)``: each model failure (``connect``, ``connection_lost``,
    ``error_event``, ``no_answer``, ...); ``processors``: given each call's
    processors in pipeline order, returns the list to run, e.g. with a
    processor of your own inserted (it sees every frame passing there).
    """

    async def handle(websocket: WebSocket, live: LiveFlow) -> None:
        client = rest if rest is not None else live.rest
        if client is None:
            raise RuntimeError("no Twilio REST client: pass one to media_handler, or build the LiveFlow with one")
        await handle_media_stream(
            websocket, live, client, early=early,
            hooks=CallHooks(on_reply_latency=on_reply_latency, on_model_error=on_model_error, processors=processors),
        )

    return handle


@dataclass(frozen=True)
class CallHooks:
    """What the embedding server (or you) hears of each call, and adds to its pipeline (see :func:`media_handler`)."""

    on_reply_latency: Callable[[float], None] | None = None
    on_model_error: Callable[[str], None] | None = None
    processors: ArrangeProcessors | None = None


async def handle_media_stream(
    websocket: WebSocket, live: LiveFlow, rest: TwilioRest, *, early: EarlyStart | None = None, hooks: CallHooks | None = None,
) -> None:
    """Run one AI agent node over a Twilio media stream until the call moves on."""
    await websocket.accept()
    try:
        start = await read_start(websocket)
        state = await live.states.open(str((start.get("customParameters") or {}).get("token", "")), start.get("callSid"))
    except (TokenError, ValueError, TimeoutError, json.JSONDecodeError) as exc:
        logger.warning("refused a media stream: {}", exc)
        await websocket.close(code=1008)
        return
    node = live.flow.nodes.get(state.node)
    if not isinstance(node, AiAgentNode):
        await websocket.close(code=1008)
        return
    connection, facts = early.take(state.call_id) if early is not None else (None, None)
    await live.streaming(state)
    await RealtimeCall(websocket, live, state, node, str(start.get("streamSid", "")), rest, hooks, connection, facts).run()


class RealtimeCall:
    """One AI node conversation on one media stream."""

    def __init__(
        self, websocket: WebSocket, live: LiveFlow, state: Call, node: AiAgentNode, stream_sid: str,
        rest: TwilioRest, hooks: CallHooks | None = None,
        connection: asyncio.Future | None = None, facts: asyncio.Task | None = None,
    ) -> None:
        self._early_facts = facts
        self.live, self.state, self.node, self.rest = live, state, node, rest
        self.hooks = hooks or CallHooks()
        settings = live.settings
        self.call = state  # the one call state: the stream works on it, checkpoints seal it
        self.ctx = live.stepper.session(self.call)  # what the AI node knows, as the stepper builds it for every mode
        self.tools = ToolBox(self.ctx)
        self._finished = asyncio.Event()
        self._moved_on = False
        self._caller_left = False  # the stream ended from Twilio's side before the call moved on
        self._checkpoint: asyncio.Task | None = None
        self._changed = False  # a turn since the running checkpoint started
        self._redirect_task: asyncio.Task[UpdateResult | None] | None = None
        chosen = model_of(node, live.registry, settings)
        self.transport = FastAPIWebsocketTransport(
            websocket,
            FastAPIWebsocketParams(
                audio_in_enabled=True, audio_out_enabled=False, add_wav_header=False,  # bot audio: TwilioMediaOutput
                serializer=SafeTwilioSerializer(stream_sid, state.call_id),
            ),
        )
        self.model = chosen.backend.processor(ModelRequest(
            call_id=state.call_id, node=node, session=self.ctx, tools=self.tools,
            instructions=build_instructions(self.ctx, None, ZoneInfo(live.flow.timezone)), settings=settings,
            options=chosen.options, on_decision=self._decided, on_failure=self._failed, preconnected=connection,
        ))
        self.supervisor = CallSupervisor(
            reprompt_after_s=node.silence_reprompt_s,
            max_duration_s=live.time_left(state, node), silence_end_s=node.silence_end_s,
            answer_timeout_s=self.model.answer_timeout_s, on_no_answer=self._no_answer, call_id=state.call_id,
        )
        processors: list[FrameProcessor] = [
            self.transport.input(),
            *([BargeInDetector(SileroModel.shared().detector())] if settings.local_vad else []),
            self.model,
            ToolHandlers(self.tools),
            TwilioMediaOutput(TwilioMediaSender(websocket.send_text, stream_sid)),
            *([ReplyLatencyMeter(self.hooks.on_reply_latency)] if self.hooks.on_reply_latency else []),
            KeypadCollector(),
            self.supervisor,
            TranscriptKeeper(self.call, on_change=self._keep_soon),
        ]
        if self.hooks.processors is not None:
            processors = self.hooks.processors(processors)
        self.worker = PipelineWorker(
            Pipeline(processors),
            params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000, enable_metrics=False),
            enable_rtvi=False, enable_turn_tracking=False, idle_timeout_secs=None, check_dangling_tasks=False,
        )

        @self.transport.event_handler("on_client_disconnected")
        async def _gone(transport, client) -> None:
            if not self._moved_on:
                self._caller_left = True
            await self.worker.cancel()

    async def run(self) -> None:
        self.started = time.monotonic()
        enrichment = asyncio.create_task(self._enrich())
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(self.worker)
        try:
            await runner.run()
        finally:
            enrichment.cancel()
            await asyncio.gather(enrichment, return_exceptions=True)
            await self._after_stream()

    async def _after_stream(self) -> None:
        """The stream is over: if the caller hung up before the call moved on, write the outcome here.

        Nobody else would: Twilio runs no more TwiML for a call that ended. A
        redirect still in flight is awaited first (it is never cancelled with
        the pipeline), so a call Twilio reports gone counts as hung up too.
        """
        result: UpdateResult | None = None
        if self._redirect_task is not None:
            try:
                result = await self._redirect_task
            except Exception:  # noqa: BLE001 - the stream is over either way; logged
                logger.exception("redirect of call {} failed", self.state.call_id)
        if self._checkpoint is not None:
            await asyncio.gather(self._checkpoint, return_exceptions=True)
        if not (self._caller_left or result is UpdateResult.GONE):
            return
        logger.info("call {} hung up during the AI agent node", self.state.call_id)
        try:
            await self.live.finish(self.state, "caller_hung_up")
        except Exception:  # noqa: BLE001 - a failing outcome hook must not break the handler
            logger.exception("outcome of call {} failed", self.state.call_id)

    async def _enrich(self) -> None:
        """Facts reach the model when ready; the greeting does not wait for them."""
        facts = await (self._early_facts or self.live.facts(self.state, self.node))
        self.call.facts = facts
        instructions = build_instructions(self.ctx, facts, ZoneInfo(self.live.flow.timezone))
        await self.worker.queue_frame(ModelInstructionsFrame(instructions=instructions))  # sent once the session is up

    def _keep_soon(self) -> None:
        """A turn or a tool call: keep the call's latest state (one write at a time, the last one wins)."""
        if self._moved_on:
            return
        if self._checkpoint is not None and not self._checkpoint.done():
            self._changed = True
            return
        self._checkpoint = asyncio.create_task(self._keep_latest(), name=f"checkpoint-{self.state.call_id}")

    async def _keep_latest(self) -> None:
        self._changed = True
        while self._changed and not self._moved_on:
            self._changed = False
            try:
                await self.live.streaming(self.state)
            except Exception:  # noqa: BLE001 - the conversation goes on; only a later take-over would miss it
                logger.exception("could not keep the latest state of call {}", self.state.call_id)

    async def _decided(self, decision: Decision) -> None:
        """The agent chose a branch: send the live call there (the line it still has to say, if any, with it)."""
        if self._moved_on:
            return
        url = await self.live.decided_url(self.state, decision)
        await self.live.streaming(self.state)  # should the redirect fail, Twilio's own <Redirect> still finds the decision
        await self._redirect(url, f"branch {decision.target or 'end'} ({decision.exit})")

    async def _failed(self, kind: str, reason: str) -> None:
        """The model is gone: continue in the deterministic mode with what was gathered.

        If it had already chosen a branch, the call goes there, and the hand-over
        line it may not have finished is said by Twilio.
        """
        if self.hooks.on_model_error is not None:
            self.hooks.on_model_error(kind)
        if self.model.decision is not None:
            await self._decided(self.model.decision)
            return
        await self._redirect(await self.live.failover_url(self.state), f"deterministic mode after: {reason}")

    async def _redirect(self, url: str, why: str) -> None:
        if self._moved_on:
            return
        self._moved_on = True
        if self._checkpoint is not None:  # a late write of the stream's state must not land after the branch's own
            await asyncio.gather(self._checkpoint, return_exceptions=True)
        call_event(self.state.call_id, "moves_on", why=why)
        # Its own task: a stream that closes meanwhile (the caller hangs up) must not cancel the redirect.
        self._redirect_task = asyncio.create_task(self._update(url), name=f"redirect-{self.state.call_id}")
        await asyncio.shield(self._redirect_task)

    async def _update(self, url: str) -> UpdateResult | None:
        """Send the call to ``url``; None when Twilio could not be told (the stream is closed instead)."""
        try:
            result = await self.rest.redirect(self.state.call_id, url)
        except TwilioRestError as exc:
            # Closing the stream makes Twilio run the <Redirect> after <Connect>: the call still goes on.
            logger.error("redirect of call {} failed ({}); closing the stream", self.state.call_id, exc)
            await self.worker.cancel()
            return None
        if result is UpdateResult.GONE:
            logger.info("call {} had already ended", self.state.call_id)
            await self.worker.cancel()
        return result

    async def _no_answer(self, reason: str) -> None:
        """The model was asked to speak (a re-prompt, the hand-over line) and said nothing."""
        if not self._moved_on:
            await self.model.fail("no_answer", reason)

