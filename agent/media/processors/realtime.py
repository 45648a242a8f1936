"""The realtime model of a live call: OpenAI Realtime over WebSocket, 8 kHz mu-law straight through.

Why not Pipecat's ``OpenAIRealtimeLLMService`` (protocols.md §2): it resamples
to 24 kHz and back (with ~140 ms buffering), one unexpected event kills its
receive loop, it never notices a dead socket, and it truncates by wall clock
rather than by what Twilio played. This processor talks to the model and
nothing else; its neighbours do the rest (``pipelines/twilio_realtime.py``):

* caller audio (:class:`CallerAudioFrame`) goes to the model as it came
  (``audio/pcmu``); the model's audio comes back as :class:`BotAudioFrame`
  for transport out, which knows what the caller has heard of it;
* the model's events become frames: ``UserStarted/StoppedSpeakingFrame``,
  ``TranscriptionFrame`` (caller), ``TTSTextFrame`` (bot),
  ``LLMFullResponseStart/EndFrame``, ``FunctionCallInProgressFrame`` (for the
  tool handlers, whose ``FunctionCallResultFrame`` comes back upstream);
* barge-in: when the caller speaks over the bot (the model's
  ``speech_started``, or the local VAD's ``VADUserStartedSpeakingFrame``), it
  broadcasts an ``InterruptionFrame``; transport out clears Twilio and answers
  with a :class:`PlaybackCutFrame`, and the model's item is truncated at what
  the caller heard;
* a :class:`CallDecidedFrame` (a tool chose a branch, or the supervisor ended
  the conversation) has the hand-over line said; once the caller has heard it
  (``BotStoppedSpeakingFrame``), ``on_decision`` is called, once;
* events are read as plain JSON (:class:`EventDecoder`); anything unknown or
  malformed is counted and skipped; a lost connection, an error event, too
  much garbage or no answer in time calls ``on_failure`` once
  (:class:`ModelLink`), so the call can carry on without the model.

Its parts, each with one job: :class:`ModelLink` (the session's socket and its
failure), :class:`Responses` (what the model was asked and is answering),
and, shared by every backend (``agent/media/backends/base.py``),
:class:`HandOver` (the chosen branch and its last line) and the frame
dispatch of :class:`ModelProcessor`.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from pipecat.frames.frames import (
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    InputAudioRawFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    StartFrame,
    TranscriptionFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)

from agent.conversation.realtime_client import (  # noqa: F401  (SAY_LEAD, prepare_realtime, RealtimeConfig: the names importers use)
    BENIGN_ERRORS,
    MAX_EVENT_BYTES,
    SAY_LEAD,
    BadEvent,
    EventDecoder,
    RealtimeConfig,
    RealtimeConnection,
    error_code,
    prepare_realtime,
    say_exactly,
    tool_output,
    user_text,
)
from agent.conversation.session import Decision
from agent.core.events import call_event
from agent.media import mulaw
from agent.media.backends.base import FailsOnce, HandOver, ModelProcessor
from agent.media.frames import (
    BotAudioEndFrame,
    BotAudioFrame,
    CallDecidedFrame,
    CallerAudioFrame,
    PlaybackCutFrame,
)

WATCHDOG_TICK_S = 0.5  # the answer timeout is seconds long; fewer wake-ups per call
MAX_TRANSCRIPT_CHARS = 2000  # per caller or bot line kept in the call's transcript
# What a handler raises on an event with missing or wrongly typed fields (binascii.Error is a ValueError).
MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError)
REPROMPT = "The caller has been silent for a while. Briefly ask whether they are still there, and repeat your last question."


class ModelLink(FailsOnce):
    """The call's session with the model: opened (or taken from the early start), sent on, closed; its failure reported once.

    ``on_failure(kind, reason)``: ``kind`` a fixed label (metrics), ``reason`` the detail (logs).
    """

    failing_label = "realtime model"

    def __init__(
        self, config: RealtimeConfig, *, on_failure: Callable[[str, str], Awaitable[None]], call_id: str | None = None,
        preconnected: asyncio.Future[RealtimeConnection] | None = None,
    ) -> None:
        self._config = config
        self._on_failure = on_failure
        self._call_id = call_id
        self._preconnected = preconnected  # opened while Twilio was still setting up the stream
        self.conn: RealtimeConnection | None = None
        self.failed = False
        self.closing = False  # the stream is ending: nothing is a failure any more

    @property
    def usable(self) -> bool:
        return self.conn is not None and not self.failed

    async def connect(self) -> None:
        if self._preconnected is not None:
            try:
                self.conn = await self._preconnected
            except Exception as exc:  # the early attempt failed: one more, now
                logger.info("the early model connection failed ({}); connecting again", type(exc).__name__)
        if self.conn is None:
            self.conn = await RealtimeConnection.open(self._config.endpoint)

    async def send(self, event: dict[str, Any]) -> None:
        try:
            await self.conn.send(event)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - a socket gone (or never there)
            await self._lost(exc)

    async def append_audio(self, payload: str) -> None:
        try:
            await self.conn.append_audio(payload)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001
            await self._lost(exc)

    async def _lost(self, exc: Exception) -> None:
        if not self.closing:
            await self.fail("connection_lost", f"lost the realtime connection while sending ({type(exc).__name__})")

    async def close(self) -> None:
        self.closing = True
        early = self._preconnected
        if self.conn is None and early is not None:  # opened early, never used: close it too
            if not early.done():
                early.cancel()
            elif not early.cancelled() and early.exception() is None:
                self.conn = early.result()
        if self.conn is not None:
            await self.conn.close()
            self.conn = None


@dataclass
class Responses:
    """What the model is answering: the response in progress, the tool calls it waits on, how long it is taking."""

    active: bool = False
    audio: bool = False  # the latest response had audio
    awaiting_since: float | None = None  # asked to answer (or the caller stopped), no response yet
    calls: dict[str, Any] = field(default_factory=dict)  # tool calls without an answer yet: key -> call_id
    outputs_sent: bool = False  # tool answers the model has not been asked to respond to yet
    skip_done: bool = False  # the response cancelled for the hand-over line: its response.done is not the line's

    def asked(self) -> None:
        self.awaiting_since = self.awaiting_since or time.monotonic()

    def overdue(self, timeout_s: float) -> bool:
        return self.awaiting_since is not None and time.monotonic() - self.awaiting_since > timeout_s


class OpenAIRealtimeProcessor(ModelProcessor):
    """The realtime model between the VAD and the tool handlers (see the module's doc); the ``openai_realtime`` backend's processor."""

    def __init__(
        self,
        config: RealtimeConfig,
        *,
        on_decision: Callable[[Decision], Awaitable[None]],
        on_failure: Callable[[str, str], Awaitable[None]],
        call_id: str | None = None,
        preconnected: asyncio.Future[RealtimeConnection] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(enable_direct_mode=True, **kwargs)
        self._config = config
        self.answer_timeout_s = config.answer_timeout_s
        self._call_id = call_id  # the call event log's key
        self.connection = ModelLink(config, on_failure=on_failure, call_id=call_id, preconnected=preconnected)
        self.responses = Responses()
        self.handover = HandOver(on_decision, call_id)
        self._events = EventDecoder(self._handlers)
        self._bot_heard = False  # between transport out's BotStarted- and BotStoppedSpeakingFrame
        self._started = False  # session configured and greeting asked for
        self._instructions: str | None = None  # to send once started
        self._reader: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def bad_events(self) -> int:
        """Server events skipped as malformed so far."""
        return self._events.bad_events

    async def fail(self, kind: str, reason: str) -> None:
        """The call cannot go on with the model (e.g. it stalled): report it, once."""
        await self.connection.fail(kind, reason)

    # -- the frame hooks (ModelProcessor dispatches the frames) ----------------------------------------
    async def _caller_audio(self, frame: CallerAudioFrame) -> None:
        if self.connection.usable:
            await self.connection.append_audio(frame.payload)

    async def _pcm_audio(self, frame: InputAudioRawFrame) -> None:
        if self.connection.usable:
            await self.connection.append_audio(base64.b64encode(mulaw.encode(frame.audio)).decode())

    async def _start(self, frame: StartFrame) -> None:
        self._watchdog = self.create_task(self._connect_and_watch(), "realtime-connect")

    def _stream_ending(self) -> None:
        self.connection.closing = True

    # -- connection ------------------------------------------------------------------------------
    async def _connect_and_watch(self) -> None:
        try:
            await asyncio.wait_for(self.connection.connect(), self._config.connect_timeout_s)
        except Exception as exc:  # refused, unreachable, slow: the call goes on without the model
            await self.connection.fail("connect", f"could not connect to the realtime model ({type(exc).__name__}: {exc})")
            return
        await self.connection.send({"type": "session.update", "session": self._config.session()})
        await self.connection.send(self._config.greet())
        self.responses.awaiting_since = time.monotonic()
        self._reader = self.create_task(self._read(), "realtime-reader")
        self._started = True
        if self._instructions is not None:
            await self._instruct(self._instructions)
        while not self.connection.closing and not self.connection.failed:
            await asyncio.sleep(WATCHDOG_TICK_S)
            if self.responses.overdue(self._config.answer_timeout_s):
                await self.connection.fail("no_answer", f"the model did not answer within {self._config.answer_timeout_s:.0f} s")

    async def _close(self) -> None:
        self.connection.closing = True
        for task in (self._reader, self._watchdog):
            if task is not None and not task.done():
                await self.cancel_task(task)
        await self.connection.close()

    async def _read(self) -> None:
        try:
            while True:
                await self.receive(await self.connection.conn.recv())  # type: ignore[union-attr]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self.connection.fail("connection_lost", f"lost the realtime connection ({type(exc).__name__})")

    async def receive(self, raw: str | bytes) -> None:
        """Handle one server event; a malformed or oversized one is counted and skipped, never raised."""
        event: dict[str, Any] | None = None
        try:
            event = self._events.decode(raw)
            if event is None:
                return
            await self._handlers[event["type"]](self, event)
        except BadEvent as exc:
            await self._bad_event(str(exc))
        except MALFORMED as exc:
            kind = event["type"] if event is not None else "an event"
            await self._bad_event(f"{kind} without the expected fields ({type(exc).__name__}: {str(exc)[:200]})")

    async def _bad_event(self, why: str) -> None:
        if self._events.bad(why):
            await self.connection.fail("garbage", "the model sends garbage")

    # -- the model's events ----------------------------------------------------------------------
    async def _on_response_created(self, event: dict[str, Any]) -> None:
        self.responses.active = True
        self.responses.audio = False
        self.responses.awaiting_since = None
        await self.push_frame(LLMFullResponseStartFrame())

    async def _on_audio_delta(self, event: dict[str, Any]) -> None:
        item, payload = event["item_id"], event["delta"]
        if not isinstance(item, str):
            raise TypeError("item_id is not text")
        if not isinstance(payload, str):
            return
        self.responses.audio = True
        await self.push_frame(BotAudioFrame(payload=payload, item_id=item))

    async def _on_audio_done(self, event: dict[str, Any]) -> None:
        item = event.get("item_id")
        await self.push_frame(BotAudioEndFrame(item_id=item if isinstance(item, str) else ""))

    async def _on_response_done(self, event: dict[str, Any]) -> None:
        responses = self.responses
        responses.active = False
        response = event.get("response") or {}
        if response.get("status") == "failed":
            error = (response.get("status_details") or {}).get("error") or {}
            await self.connection.fail("response_failed", f"response failed ({error.get('code') or error.get('type') or 'unknown'})")
            return
        if responses.skip_done:
            responses.skip_done = False
            return
        await self.push_frame(LLMFullResponseEndFrame())
        await self._after_response()

    async def _after_response(self) -> None:
        """The model's response is over and every tool call in it answered: ask for what comes next."""
        responses, handover = self.responses, self.handover
        if responses.calls:
            return  # the tool answers come later
        if responses.outputs_sent:  # the model answers tool results only when asked
            responses.outputs_sent = False
            if handover.decision is None:
                await self._ask()
            elif not handover.line_asked:
                handover.line_asked = True
                await self._say(handover.decision.say or "Thank you.")
            responses.awaiting_since = time.monotonic()
            return
        if handover.decision is not None and handover.line_asked and not handover.awaiting_playback:
            # The hand-over line was spoken: move on once Twilio has played it (its last mark may
            # already be back: the model's response.done can trail the audio by longer than it plays).
            if responses.audio:
                await self.push_frame(BotAudioEndFrame())
                if self._bot_heard:
                    handover.awaiting_playback = True
                    return
            await handover.deliver(heard=responses.audio)

    async def _on_speech_started(self, event: dict[str, Any]) -> None:
        await self.push_frame(UserStartedSpeakingFrame())
        await self._barge_in()

    async def _on_speech_stopped(self, event: dict[str, Any]) -> None:
        await self.push_frame(UserStoppedSpeakingFrame())
        self.responses.awaiting_since = time.monotonic()

    async def _on_caller_transcript(self, event: dict[str, Any]) -> None:
        text = str(event.get("transcript") or "").strip()
        if text:
            await self.push_frame(TranscriptionFrame(text=text[:MAX_TRANSCRIPT_CHARS], user_id="caller", timestamp=str(time.time())))

    async def _on_bot_transcript(self, event: dict[str, Any]) -> None:
        text = str(event.get("transcript") or "").strip()
        if text:
            await self.push_frame(TTSTextFrame(text=text[:MAX_TRANSCRIPT_CHARS], text_type="sentence"))

    async def _on_function_call(self, event: dict[str, Any]) -> None:
        """For the tool handlers; the follow-up response is asked for once the model's response is done."""
        call_id, name = event["call_id"], str(event["name"])
        key = str(call_id)
        self.responses.calls[key] = call_id
        await self.push_frame(FunctionCallInProgressFrame(function_name=name, tool_call_id=key, arguments=event.get("arguments") or "{}"))

    async def _on_error(self, event: dict[str, Any]) -> None:
        code = error_code(event)
        if code in BENIGN_ERRORS:
            logger.debug("realtime model: {}", code)
            return
        error = event.get("error") or {}
        await self.connection.fail("error_event", f"error event {code}: {str(error.get('message', ''))[:200]}")

    _handlers: dict[str, Callable[[OpenAIRealtimeProcessor, dict[str, Any]], Awaitable[None]]] = {
        "response.created": _on_response_created,
        "response.output_audio.delta": _on_audio_delta,
        "response.output_audio.done": _on_audio_done,
        "response.done": _on_response_done,
        "input_audio_buffer.speech_started": _on_speech_started,
        "input_audio_buffer.speech_stopped": _on_speech_stopped,
        "conversation.item.input_audio_transcription.completed": _on_caller_transcript,
        "response.output_audio_transcript.done": _on_bot_transcript,
        "response.function_call_arguments.done": _on_function_call,
        "error": _on_error,
    }

    # -- the rest of the pipeline's events -------------------------------------------------------
    async def _ask(self, instructions: str | None = None) -> None:
        """``response.create``; the answer watchdog runs until the response starts."""
        await self.connection.send({"type": "response.create", **({"response": {"instructions": instructions}} if instructions else {})})
        self.responses.asked()

    async def _say(self, text: str) -> None:
        await self.connection.send(say_exactly(text))
        self.responses.asked()

    async def _barge_in(self) -> None:
        """The caller talks over the bot: interrupt (transport out clears Twilio and says what was heard)."""
        if self._bot_heard and self.handover.decision is None:
            await self.broadcast_interruption()

    async def _cut(self, cut: PlaybackCutFrame) -> None:
        """Transport out cut the bot off: the model's item is cut at what the caller heard."""
        call_event(self._call_id, "barge_in", heard_ms=cut.heard_ms, sent_ms=cut.sent_ms)
        if not self.connection.usable:
            return
        if self.responses.active:
            await self.connection.send({"type": "response.cancel"})
        await self.connection.send({"type": "conversation.item.truncate", "item_id": cut.item_id, "content_index": 0, "audio_end_ms": cut.heard_ms})

    async def _tool_answered(self, frame: FunctionCallResultFrame) -> None:
        call_id = self.responses.calls.pop(frame.tool_call_id, frame.tool_call_id)
        await self.connection.send(tool_output(call_id, frame.result))
        self.responses.outputs_sent = True
        if not self.responses.active:  # the response ended before this answer came (a slow processor in between)
            await self._after_response()

    async def _decided(self, frame: CallDecidedFrame) -> None:
        if self.handover.decision is not None:
            return
        self.handover.decision = frame.decision
        if not frame.now:
            return  # the line is asked for after the response with the tool call
        if not self.connection.usable:
            await self.handover.deliver(heard=False)
            return
        self.handover.line_asked = True
        if self.responses.active:
            self.responses.skip_done = True
            await self.connection.send({"type": "response.cancel"})
        await self._say(frame.decision.say)

    async def _keyed(self, digits: str) -> None:
        if self.connection.conn is None:
            return
        await self.push_frame(TranscriptionFrame(text=f"(keys {digits})", user_id="caller", timestamp=str(time.time())))
        await self.connection.send(user_text(f"I keyed in on my phone: {digits}"))
        if not self.responses.active:
            await self._ask()

    async def _reprompt(self) -> None:
        if self.connection.conn is None or self.responses.active or self.handover.decision is not None:
            return
        await self._ask(REPROMPT)

    async def _instruct(self, instructions: str) -> None:
        """New instructions (the facts are ready): now if the session is up, else right after it is."""
        if not self._started:
            self._instructions = instructions
            return
        self._instructions = None
        if self.connection.usable:
            await self.connection.send({"type": "session.update", "session": {"type": "realtime", "instructions": instructions}})
