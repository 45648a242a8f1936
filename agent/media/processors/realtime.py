"""Our OpenAI Realtime processor: 8 kHz mu-law straight through, tolerant of the model, fails over.

Why not Pipecat's ``OpenAIRealtimeLLMService`` (protocols.md §2): it resamples
to 24 kHz and back (with ~140 ms buffering), one unexpected event kills its
receive loop, it never notices a dead socket, and it truncates by wall clock
rather than by what Twilio played. Here:

* audio goes to the model as ``audio/pcmu`` and comes back as ``audio/pcmu``;
  the only conversion is a table look-up to the pipeline's 8 kHz PCM;
* events are read as plain JSON and dispatched by type; anything unknown or
  malformed is counted and skipped;
* bot audio goes to Twilio as it comes (:class:`TwilioMediaSender`, no
  frames), and every ~200 ms of it is followed by a Twilio ``mark``, so what
  the caller heard is known, and barge-in truncates the model's item there;
  the pipeline hears only when the bot starts and stops being heard;
* while bot audio plays, a local voice detector (Silero, shared) listens for
  the caller, so barge-in does not wait for the model's own VAD;
* a lost connection, an error event, or no answer in time calls
  ``on_failure`` once, so the call can carry on without the model;
* tool calls go through :class:`agent.conversation.tools.ToolBox`, the same contract the
  offline engine uses; when a tool decides, the handover line is spoken and,
  once Twilio reports it played, ``on_decision`` is called.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from loguru import logger
from openai import AsyncOpenAI
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    StartFrame,
    TranscriptionFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.media import mulaw
from agent.conversation.session import Decision
from agent.media.frames import (
    BotPlaybackFrame,
    CallerAudioFrame,
    HandOverFrame,
    SilenceFrame,
    TwilioMarkFrame,
    ToolCalledFrame,
    TwilioStopFrame,
)
from agent.core.events import call_event
from agent.core.http_client import http_client, ssl_context
from agent.media.processors.twilio_sender import TwilioMediaSender
from agent.conversation.tools import ToolBox
from agent.media.vad import SpeechDetector

MARK_EVERY_MS = 200
# Fixed lines are spoken in the conversation's language, which may not be the flow's.
SAY_LEAD = "Say this to the caller, in the language you are speaking with them: "
BENIGN_ERRORS = {
    "conversation_already_has_active_response",
    "response_cancel_not_active",
    "input_audio_buffer_commit_empty",
}
MAX_BAD_EVENTS = 20
_LEADING_TYPE = re.compile(rb'\s*\{\s*"type"\s*:\s*"([a-z_.]{1,80})"')
WATCHDOG_TICK_S = 0.5  # the answer timeout is seconds long; fewer wake-ups per call
# Server events of the GA protocol we do not need (protocols.md); any other type is new to us and logged once per call.
IGNORED_EVENTS = frozenset({
    "session.created", "session.updated", "conversation.created", "conversation.item.created", "conversation.item.added",
    "conversation.item.done", "conversation.item.retrieved", "conversation.item.truncated", "conversation.item.deleted",
    "conversation.item.input_audio_transcription.delta", "conversation.item.input_audio_transcription.segment",
    "conversation.item.input_audio_transcription.failed", "input_audio_buffer.committed", "input_audio_buffer.cleared",
    "input_audio_buffer.timeout_triggered", "output_audio_buffer.started", "output_audio_buffer.stopped",
    "output_audio_buffer.cleared", "response.output_item.added", "response.output_item.done",
    "response.content_part.added", "response.content_part.done", "response.output_audio_transcript.delta",
    "response.output_text.delta", "response.output_text.done", "response.function_call_arguments.delta",
    "rate_limits.updated", "transcription_session.updated",
})
_IGNORED_BYTES = frozenset(kind.encode() for kind in IGNORED_EVENTS)
# An audio delta is a few KB; a larger event is skipped unparsed (the websockets client refuses over 1 MiB too).
MAX_EVENT_BYTES = 1024 * 1024
MAX_TRANSCRIPT_CHARS = 2000  # per caller or bot line kept in the call's transcript
# What a handler raises on an event with missing or wrongly typed fields (binascii.Error is a ValueError).
MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError)


@dataclass
class RealtimeConfig:
    """How to reach the model and what to tell it."""

    url: str
    model: str
    api_key: str
    instructions: str
    tools: list[dict[str, Any]]
    greeting: str
    voice: str = "marin"
    speed: float = 1.0
    language: str = "en"
    transcription_model: str = "gpt-4o-transcribe"
    turn_detection: dict[str, Any] = field(default_factory=lambda: {"type": "server_vad", "silence_duration_ms": 500})
    connect_timeout_s: float = 3.0
    answer_timeout_s: float = 6.0
    dtmf_idle_s: float = 1.5

    @staticmethod
    def turn_detection_from(settings: Any) -> dict[str, Any]:
        """The session's ``turn_detection`` from the settings."""
        if settings.turn_detection == "semantic_vad":
            return {"type": "semantic_vad", "eagerness": settings.vad_eagerness}
        return {
            "type": "server_vad", "threshold": settings.vad_threshold,
            "silence_duration_ms": settings.vad_silence_ms, "prefix_padding_ms": settings.vad_prefix_ms,
        }

    def session(self) -> dict[str, Any]:
        return {
            "type": "realtime",
            "model": self.model,
            "output_modalities": ["audio"],
            "instructions": self.instructions,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "transcription": {"model": self.transcription_model, "language": self.language},
                    "turn_detection": {**self.turn_detection, "create_response": True, "interrupt_response": True},
                },
                "output": {"format": {"type": "audio/pcmu"}, "voice": self.voice, "speed": self.speed},
            },
            "tools": self.tools,
            "tool_choice": "auto",
        }


def _websocket_base(url: str) -> str:
    base = url.rstrip("/")
    return base[: -len("/realtime")] if base.endswith("/realtime") else base


def prepare_realtime(url: str, api_key: str) -> None:
    """At start-up: the client, its TLS context and the SDK's realtime modules (a slow first import),
    so that no call pays for them on the event loop."""
    _ = realtime_client(api_key, _websocket_base(url)).realtime
    ssl_context()


async def open_connection(url: str, model: str, api_key: str) -> tuple[Any, Any]:
    """A connection to the realtime model: ``(manager, connection)``; leave it with ``manager.__aexit__``."""
    base = _websocket_base(url)
    options = {"ssl": ssl_context()} if base.startswith("wss://") else {}
    manager = realtime_client(api_key, base).realtime.connect(
        model=model, max_retries=0, websocket_connection_options=options,
    )
    return manager, await manager.__aenter__()


@functools.lru_cache(maxsize=8)
def realtime_client(api_key: str, websocket_base_url: str) -> AsyncOpenAI:
    """One client per process and key: building one costs ~50 ms of blocking TLS set-up on the event loop."""
    return AsyncOpenAI(api_key=api_key, websocket_base_url=websocket_base_url, max_retries=0, http_client=http_client())


def tool_outcome(result: dict[str, Any]) -> dict[str, Any]:
    """What a tool's answer says, for the event log: refused or not, and the *names* of the fields it saved."""
    names = {key: ",".join(sorted(result[key])) for key in ("saved", "invalid") if isinstance(result.get(key), dict) and result[key]}
    return {"refused": "error" in result, **names}


class OpenAIRealtimeProcessor(FrameProcessor):
    """Bridges the call's audio to the realtime model and the model's actions to the flow."""

    def __init__(
        self,
        config: RealtimeConfig,
        tools: ToolBox,
        *,
        twilio: TwilioMediaSender,
        on_decision: Callable[[Decision], Awaitable[None]],
        on_failure: Callable[[str, str], Awaitable[None]],
        on_reply_latency: Callable[[float], None] | None = None,
        detector: SpeechDetector | None = None,
        preconnected: asyncio.Future[tuple[Any, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._preconnected = preconnected  # opened while Twilio was still setting up the stream
        self._detector = detector
        self._detector_used = False
        self._on_reply_latency = on_reply_latency
        self._speech_stopped_at: float | None = None
        self._config = config
        self._tools = tools
        self._call_id = tools.ctx.call.call_id  # the call event log's key
        self._twilio = twilio
        self._on_decision = on_decision
        self._on_failure = on_failure
        self._conn: Any = None
        self._send_text: Callable[[str], Awaitable[None]] | None = None  # the socket's own send, once connected
        self._manager: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._closing = False
        self._failed = False
        self._bad_events = 0
        self._unknown_events: set[str] = set()
        # playback bookkeeping, per assistant item
        self._item: str | None = None
        self._sent_ms: dict[str, int] = {}
        self._played_ms: dict[str, int] = {}
        self._unmarked_ms = 0
        self._mark_no = 0
        self._marks: dict[str, tuple[str, int]] = {}
        self._truncated: set[str] = set()
        self._response_active = False
        self._response_audio = False
        self._tool_outputs_pending = False
        self._skip_done = False
        self._last_mark: str | None = None
        self._awaiting_answer_since: float | None = None
        self._decision: Decision | None = None
        self._handover_mark: str | None = None
        self._handover_sent = False
        self._decision_delivered = False
        self._digits = ""
        self._digits_task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    # -- pipeline side ---------------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, CallerAudioFrame):
            await self.caller_audio(frame.payload, frame.mulaw)
            return  # nothing downstream needs the caller's audio
        if isinstance(frame, InputAudioRawFrame):  # PCM from another transport
            if self._conn is not None and not self._failed:
                payload = base64.b64encode(mulaw.encode(frame.audio)).decode()
                await self._send_raw('{"type":"input_audio_buffer.append","audio":"' + payload + '"}')
            if self._detector is not None:
                await self._listen(frame.audio, self._detector.feed)
            return
        if isinstance(frame, TwilioMarkFrame):
            await self.mark_played(frame.mark)
        elif isinstance(frame, InputDTMFFrame):
            self._key_pressed(str(frame.button.value))
        elif isinstance(frame, SilenceFrame):
            await self._reprompt(frame)
            return
        elif isinstance(frame, HandOverFrame):
            await self._hand_over(frame.reason)
            return
        elif isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            self._watchdog = self.create_task(self._connect_and_watch(), "realtime-connect")
            return
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._close()
        elif isinstance(frame, TwilioStopFrame):
            self._closing = True
        await self.push_frame(frame, direction)

    async def caller_audio(self, payload: str, audio: bytes) -> None:
        """The hot path, 50 times a second: Twilio's base64 mu-law to the model untouched, and barge-in.

        Called for :class:`CallerAudioFrame` frames, or directly by the
        serializer (its ``sink``: no frame at all).
        """
        if self._conn is not None and not self._failed:
            await self._send_raw('{"type":"input_audio_buffer.append","audio":"' + payload + '"}')
        if self._detector is not None:
            await self._listen(audio, self._detector.feed_mulaw)

    async def _listen(self, audio: bytes, feed: Callable[[bytes], bool]) -> None:
        """Barge-in: the local detector hears the caller only while bot audio is playing."""
        playing = self._bot_playing()
        if playing:
            if feed(audio):
                await self._barge_in()
        elif self._detector_used:
            self._detector.reset()
        self._detector_used = playing

    # -- connection ------------------------------------------------------------------------------
    async def _connect_and_watch(self) -> None:
        try:
            await asyncio.wait_for(self._connect(), self._config.connect_timeout_s)
        except Exception as exc:  # refused, unreachable, slow: the call goes on without the model
            await self._fail("connect", f"could not connect to the realtime model ({type(exc).__name__}: {exc})")
            return
        while not self._closing and not self._failed:
            await asyncio.sleep(WATCHDOG_TICK_S)
            since = self._awaiting_answer_since
            if since is not None and time.monotonic() - since > self._config.answer_timeout_s:
                await self._fail("no_answer", f"the model did not answer within {self._config.answer_timeout_s:.0f} s")

    async def _connect(self) -> None:
        if self._preconnected is not None:
            try:
                self._manager, self._conn = await self._preconnected
            except Exception as exc:  # the early attempt failed: one more, now
                logger.info("the early model connection failed ({}); connecting again", type(exc).__name__)
        if self._conn is None:
            self._manager, self._conn = await open_connection(self._config.url, self._config.model, self._config.api_key)
        # The SDK's send path (a send queue for reconnects, locks, task look-ups) costs more than the write
        # itself at 50 appends a second; we never reconnect (max_retries=0), so send on its socket directly.
        socket = getattr(self._conn, "_connection", None)
        self._send_text = socket.send if callable(getattr(socket, "send", None)) else None
        await self._send({"type": "session.update", "session": self._config.session()})
        await self._send({
            "type": "response.create",
            "response": {"instructions": f"Greet the caller with exactly these words: {self._config.greeting}"},
        })
        self._awaiting_answer_since = time.monotonic()
        self._reader = self.create_task(self._read(), "realtime-reader")
        self.connected.set()

    async def _close(self) -> None:
        self._closing = True
        for task in (self._reader, self._watchdog, self._digits_task):
            if task is not None and not task.done():
                await self.cancel_task(task)
        early = self._preconnected
        if self._manager is None and early is not None:  # opened early, never used: close it too
            if not early.done():
                early.cancel()
            elif not early.cancelled() and early.exception() is None:
                self._manager, self._conn = early.result()
        if self._manager is not None:
            try:
                await self._manager.__aexit__(None, None, None)
            except Exception:  # already gone
                pass
            self._manager = self._conn = self._send_text = None

    async def _send(self, event: dict[str, Any]) -> None:
        await self._send_raw(json.dumps(event))

    async def _send_raw(self, text: str) -> None:
        try:
            await (self._send_text or self._conn.send_raw)(text)
        except Exception as exc:
            if not self._closing:
                await self._fail("connection_lost", f"lost the realtime connection while sending ({type(exc).__name__})")

    async def _fail(self, kind: str, reason: str) -> None:
        """Report the model gone, once; ``kind`` is a fixed label (metrics), ``reason`` the detail (logs)."""
        if self._failed or self._closing:
            return
        self._failed = True
        logger.warning("realtime model failed: {}", reason)
        call_event(self._call_id, "model_error", kind=kind, reason=reason[:200])
        await self._on_failure(kind, reason)

    # -- model side ------------------------------------------------------------------------------
    async def _read(self) -> None:
        try:
            while True:
                await self._dispatch(await self._conn.recv_bytes())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._fail("connection_lost", f"lost the realtime connection ({type(exc).__name__})")

    async def _dispatch(self, raw: str | bytes) -> None:
        """Handle one server event; a malformed or oversized one is counted and skipped, never raised."""
        if len(raw) > MAX_EVENT_BYTES:
            await self._bad_event(f"oversized event ({len(raw)} bytes)")
            return
        leading = _LEADING_TYPE.match(raw if isinstance(raw, bytes) else raw.encode()[:96])
        if leading is not None and leading.group(1) in _IGNORED_BYTES:
            return  # most events are transcript deltas and the like: not even parsed
        try:
            event = json.loads(raw)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            await self._bad_event("not a JSON event")
            return
        kind = event.get("type") if isinstance(event, dict) else None
        if not isinstance(kind, str):
            await self._bad_event("not a JSON event")
            return
        handler = self._handlers.get(kind)
        if handler is None:
            if kind not in IGNORED_EVENTS and kind not in self._unknown_events and len(self._unknown_events) < 50:
                self._unknown_events.add(kind)
                logger.info("ignoring realtime event type {!r}, new to this agent", kind[:80])
            return
        try:
            await handler(self, event)
        except MALFORMED as exc:
            await self._bad_event(f"{kind} without the expected fields ({type(exc).__name__}: {str(exc)[:200]})")

    async def _bad_event(self, why: str) -> None:
        self._bad_events += 1
        logger.warning("skipped a realtime event: {}", why)
        if self._bad_events > MAX_BAD_EVENTS:
            await self._fail("garbage", "the model sends garbage")

    async def _on_response_created(self, event: dict[str, Any]) -> None:
        self._response_active = True
        self._response_audio = False
        self._awaiting_answer_since = None

    async def _on_audio_delta(self, event: dict[str, Any]) -> None:
        item = event["item_id"]
        payload = event["delta"]
        if not isinstance(payload, str) or item in self._truncated:
            return
        starting = item != self._item or not self._audio_unplayed()
        self._item = item
        self._response_audio = True
        if self._speech_stopped_at is not None:  # voice to voice: caller's end of turn to our first reply audio
            if self._on_reply_latency is not None:
                self._on_reply_latency(time.monotonic() - self._speech_stopped_at)
            self._speech_stopped_at = None
        ms = len(payload) * 3 // 4 // 8  # base64 length -> mu-law bytes -> ms at 8 kHz
        self._sent_ms[item] = self._sent_ms.get(item, 0) + ms
        await self._twilio.media(payload)
        self._unmarked_ms += ms
        if starting:
            await self.push_frame(BotPlaybackFrame(playing=True))
        if self._unmarked_ms >= MARK_EVERY_MS:
            await self._push_mark(item)

    async def _push_mark(self, item: str) -> str:
        self._mark_no += 1
        name = f"m{self._mark_no}"
        self._marks[name] = (item, self._sent_ms.get(item, 0))
        self._last_mark = name
        self._unmarked_ms = 0
        await self._twilio.mark(name)
        return name

    async def mark_played(self, name: str) -> None:
        """Twilio echoed mark ``name``: the audio before it was heard (or cleared)."""
        item, ms = self._marks.pop(name, (None, 0))
        if item is not None:
            if item not in self._truncated:
                self._played_ms[item] = max(self._played_ms.get(item, 0), ms)
            if not self._audio_unplayed():
                await self.push_frame(BotPlaybackFrame(playing=False))
        if name == self._handover_mark:
            await self._deliver_decision(heard=True)

    async def _on_audio_done(self, event: dict[str, Any]) -> None:
        item = event.get("item_id") or self._item
        if item and self._unmarked_ms:
            await self._push_mark(item)

    async def _on_response_done(self, event: dict[str, Any]) -> None:
        self._response_active = False
        response = event.get("response") or {}
        if response.get("status") == "failed":
            error = (response.get("status_details") or {}).get("error") or {}
            await self._fail("response_failed", f"response failed ({error.get('code') or error.get('type') or 'unknown'})")
            return
        if self._skip_done:
            self._skip_done = False
            return
        if self._tool_outputs_pending:  # the model answers tool results only when asked
            self._tool_outputs_pending = False
            if self._decision is None:
                await self._ask_for_response()
            elif not self._handover_sent:
                self._handover_sent = True
                await self._say_exactly(self._decision.say or "Thank you.")
            self._awaiting_answer_since = time.monotonic()
            return
        if self._decision is not None and self._handover_sent and self._handover_mark is None:
            # The handover line was spoken: move on once Twilio has played it (its last mark may
            # already be back: the model's response.done can trail the audio by longer than it plays).
            if self._response_audio:
                if self._item and self._unmarked_ms:
                    await self._push_mark(self._item)
                if self._last_mark in self._marks:
                    self._handover_mark = self._last_mark
                    return
            await self._deliver_decision(heard=self._response_audio)

    async def _deliver_decision(self, *, heard: bool) -> None:
        """``on_decision``, once; a hand-over line the caller ``heard`` is not handed on to be said again."""
        if self._decision is None or self._decision_delivered:
            return
        self._decision_delivered = True
        self._handover_mark = None
        decision = self._decision
        call_event(self._call_id, "decided", exit=decision.exit, branch=decision.target, reason=decision.reason, line_heard=heard)
        await self._on_decision(replace(self._decision, say="") if heard else self._decision)

    @property
    def decision(self) -> Decision | None:
        """The branch the conversation chose, once a tool or a hand-over rule decided (delivered or not)."""
        return self._decision

    async def _say_exactly(self, text: str) -> None:
        await self._ask_for_response(f"{SAY_LEAD}{text}")

    async def _ask_for_response(self, instructions: str | None = None) -> None:
        """``response.create``; the answer watchdog runs until the response starts."""
        event: dict[str, Any] = {"type": "response.create"}
        if instructions:
            event["response"] = {"instructions": instructions}
        await self._send(event)
        self._awaiting_answer_since = self._awaiting_answer_since or time.monotonic()

    async def _on_speech_started(self, event: dict[str, Any]) -> None:
        await self.push_frame(UserStartedSpeakingFrame())
        await self._barge_in()

    def _audio_unplayed(self) -> bool:
        """Some bot audio sent to Twilio was not reported played yet."""
        return self._unmarked_ms > 0 or bool(self._marks)

    def _bot_playing(self) -> bool:
        """Bot audio of the current reply was sent that Twilio has not reported played (and may still be cut)."""
        item = self._item
        if item is None or item in self._truncated or self._decision is not None:
            return False
        return self._sent_ms.get(item, 0) > self._played_ms.get(item, 0)

    async def _barge_in(self) -> None:
        """The caller talks over the bot: stop the audio, clear Twilio, cut the model's item at what was heard."""
        if not self._bot_playing():
            return
        item = self._item
        assert item is not None
        played = self._played_ms.get(item, 0)
        call_event(self._call_id, "barge_in", heard_ms=played, sent_ms=self._sent_ms.get(item, 0))
        self._truncated.add(item)
        # Twilio drops the audio it holds and echoes its marks, which no longer count.
        self._marks = {n: v for n, v in self._marks.items() if v[0] != item}
        self._unmarked_ms = 0
        await self._twilio.clear()
        await self.broadcast_interruption()
        if self._response_active:
            await self._send({"type": "response.cancel"})
        await self._send({"type": "conversation.item.truncate", "item_id": item, "content_index": 0, "audio_end_ms": played})
        if not self._audio_unplayed():
            await self.push_frame(BotPlaybackFrame(playing=False))

    async def _on_speech_stopped(self, event: dict[str, Any]) -> None:
        await self.push_frame(UserStoppedSpeakingFrame())
        self._awaiting_answer_since = self._speech_stopped_at = time.monotonic()

    async def _on_caller_transcript(self, event: dict[str, Any]) -> None:
        text = str(event.get("transcript") or "").strip()
        if text:
            await self.push_frame(TranscriptionFrame(text=text[:MAX_TRANSCRIPT_CHARS], user_id="caller", timestamp=str(time.time())))

    async def _on_bot_transcript(self, event: dict[str, Any]) -> None:
        text = str(event.get("transcript") or "").strip()
        if text:
            await self.push_frame(TTSTextFrame(text=text[:MAX_TRANSCRIPT_CHARS], text_type="sentence"))

    async def _on_function_call(self, event: dict[str, Any]) -> None:
        """Run the tool now; the follow-up response is asked for once the model's response is done."""
        result = await self._tools.call(str(event["name"]), event.get("arguments") or "{}")
        call_event(self._call_id, "tool", name=str(event["name"])[:40], **tool_outcome(result))
        await self._send({
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": event["call_id"], "output": json.dumps(result)},
        })
        self._tool_outputs_pending = True
        if self._decision is None and self._tools.ctx.decision is not None:
            self._decision = self._tools.ctx.decision
        await self.push_frame(ToolCalledFrame(name=str(event["name"])))

    async def _on_error(self, event: dict[str, Any]) -> None:
        error = event.get("error") or {}
        code = error.get("code") or error.get("type") or "unknown"
        if code in BENIGN_ERRORS:
            logger.debug("realtime model: {}", code)
            return
        await self._fail("error_event", f"error event {code}: {str(error.get('message', ''))[:200]}")

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

    # -- flow side -------------------------------------------------------------------------------
    def _key_pressed(self, key: str) -> None:
        if key == "#":
            self._flush_digits_soon(0)
            return
        self._digits += key
        self._flush_digits_soon(self._config.dtmf_idle_s)

    def _flush_digits_soon(self, delay: float) -> None:
        if self._digits_task is not None and not self._digits_task.done():
            self._digits_task.cancel()
        self._digits_task = self.create_task(self._flush_digits(delay), "dtmf")

    async def _flush_digits(self, delay: float) -> None:
        await asyncio.sleep(delay)
        digits, self._digits = self._digits, ""
        if not digits or self._conn is None:
            return
        await self.push_frame(TranscriptionFrame(text=f"(keys {digits})", user_id="caller", timestamp=str(time.time())))
        await self._send({
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"I keyed in on my phone: {digits}"}]},
        })
        if not self._response_active:
            await self._ask_for_response()

    async def _reprompt(self, frame: SilenceFrame) -> None:
        if self._conn is None or self._response_active or self._decision is not None:
            return
        await self._ask_for_response(
            "The caller has been silent for a while. Briefly ask whether they are still there, and repeat your last question."
        )

    async def _hand_over(self, reason: str) -> None:
        if self._decision is not None:
            return
        decision = self._tools.ctx.fallback(reason)  # type: ignore[arg-type]
        self._decision = decision
        if self._conn is None or self._failed:
            await self._deliver_decision(heard=False)
            return
        self._handover_sent = True
        if self._response_active:
            self._skip_done = True
            await self._send({"type": "response.cancel"})
        await self._say_exactly(decision.say)


