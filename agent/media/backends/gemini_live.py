"""The ``gemini_live`` backend: Google's Gemini Live API (speech to speech over one WebSocket per call).

Options (an AI node's ``model:`` block; all optional; the key is a setting,
``VOICE_AGENT_GEMINI_API_KEY``, never in the flow)::

    model: {backend: gemini_live}
    model: {backend: gemini_live, model: gemini-2.5-flash-native-audio-preview-12-2025, voice: Kore, language: de-DE}

Why not Pipecat's ``GeminiLiveLLMService`` (pipecat 1.14,
``pipecat/services/google/gemini_live/llm.py``), wrapped: it cannot keep this
project's rules. A refused connection is raised inside its connection task
(``_connection_task_handler``, the ``async with ...live.connect`` is outside
any ``try``), where Pipecat's task manager only logs it
(``utils/asyncio/task_manager.py``), so no error reaches the pipeline and the
call goes deaf instead of failing over; a lost one is reconnected up to three times with the
context replayed (``_handle_connection_error``, ``MAX_CONSECUTIVE_FAILURES``)
instead of handing the call to the deterministic mode at once; new
instructions (the facts, which arrive after the greeting) are stored and
never sent (``_update_settings``: "Settings are stored but not applied to the
active connection"); tool calls go through its own function registry and
context aggregator rather than our ``ToolHandlers``; and its audio leaves as
24 kHz ``TTSAudioRawFrame`` that transport out would have to resample anyway.
Nor through the ``google-genai`` SDK's ``AsyncSession``: it validates every
message with pydantic (~70 us to send and ~120 us to parse one 20 ms audio
chunk, against ~8 us for the JSON; measured with google-genai 2.34), and it
rewrites the base URL's scheme to ``wss`` (``_api_client._websocket_base_url``),
so no plain-WebSocket proxy or local fake can stand in. So this backend
speaks the protocol itself, as the SDK writes it (``google/genai/live.py``,
``_live_converters.py``; the tests check our messages against the SDK's own
converters), over the project's one WebSocket client
(:class:`~agent.conversation.realtime_client.RealtimeConnection`):

* connect to ``{base}/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent``
  with the key in ``x-goog-api-key`` (``live.py`` ``AsyncLive.connect``; the
  header set by ``_api_client.py``), send ``setup`` (model, audio output and
  voice, system instruction, tools as function declarations, both
  transcriptions, server VAD), wait for ``setupComplete``;
* caller audio: 8 kHz mu-law -> PCM16 -> 16 kHz (:class:`~agent.media.resample.Upsampler`,
  a polyphase FIR with ~1.5 ms delay) -> ``realtimeInput.audio`` (``audio/pcm;rate=16000``,
  the documented input rate); the model's ``serverContent.modelTurn`` audio
  (``audio/pcm;rate=24000``) -> 8 kHz (:class:`~agent.media.resample.Downsampler`,
  ~1.3 ms) -> mu-law :class:`BotAudioFrame`, one reply item per model turn;
* what the model is told to say (greeting, hand-over line, re-prompt) and the
  caller's keys go as ``realtimeInput.text`` (the SDK warns against mixing
  ``clientContent`` into a realtime conversation, ``live.py``
  ``send_client_content``); the one ``clientContent`` is the barge-in note
  below, which the model must take in without answering (``turnComplete:
  false``, which realtime text cannot say); new instructions as ``contextUpdate``;
* ``toolCall`` -> ``FunctionCallInProgressFrame`` for the tool handlers;
  their ``FunctionCallResultFrame`` -> ``toolResponse`` (the model answers it
  by itself: there is no ``response.create``); a chosen branch's hand-over
  line rides in that answer, and ``on_decision`` follows once it was heard;
* barge-in: the server's ``interrupted`` (its VAD), or the local VAD while the
  bot is heard, broadcasts an ``InterruptionFrame``; the rest of that reply is
  dropped. The protocol has no truncation (see :attr:`GeminiLiveBackend.limits`),
  so the model is told, as a note, what the caller heard;
* failure, once: refused or slow connection or setup, a closed socket,
  ``goAway`` (the session ends soon; sessions are not resumed), garbage, or no
  answer in time.

Not supported: Vertex AI's Live endpoints (OAuth, regional project URLs):
only the Gemini Developer API with an API key, or a proxy speaking it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import numpy as np
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
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from agent.conversation.realtime_client import SAY_LEAD, RealtimeConnection, RealtimeEndpoint
from agent.core.events import call_event
from agent.core.settings import PluginSettings
from agent.media import mulaw
from agent.media.backends.base import BackendOptions, FailsOnce, HandOver, ModelBackend, ModelProcessor, ModelRequest
from agent.media.frames import (
    BotAudioEndFrame,
    BotAudioFrame,
    CallDecidedFrame,
    CallerAudioFrame,
    PlaybackCutFrame,
)
from agent.media.processors.realtime import MAX_TRANSCRIPT_CHARS, REPROMPT, WATCHDOG_TICK_S
from agent.media.resample import Downsampler, Upsampler

if TYPE_CHECKING:
    from agent.flow.models import AiAgentNode

DEFAULT_BASE_URL = "wss://generativelanguage.googleapis.com"  # google/genai/_api_client.py (https -> wss)
DEFAULT_API_VERSION = "v1beta"  # the SDK's default for the Gemini Developer API
DEFAULT_MODEL = "gemini-3.8-live"  # Pipecat 1.14's default (GeminiLiveLLMService: "models/gemini-3.8-live")
DEFAULT_VOICE = "Charon"  # Pipecat 1.14's default prebuilt voice
INPUT_RATE = 16000  # Live API input audio: 16-bit PCM, 16 kHz, little-endian
OUTPUT_MIME = "audio/pcm;rate=24000"  # what the model sends (Pipecat's _handle_msg_model_turn expects exactly this)
QUIET_ENERGY = 131.0**2  # mean square of a frame below -48 dBFS: line noise, not speech (agent/media/vad.py's level)
MAX_MESSAGE_BYTES = 1024 * 1024
MAX_BAD_MESSAGES = 20
# A note, not the caller's words: realtime text reaches the model as the user's turn.
NOTE = "(A note from the system, not words of the caller.) "
# Gemini's locale codes for the plain languages flows use (Pipecat's language_to_gemini_language table).
LOCALES = {
    "ar": "ar-XA", "bn": "bn-IN", "de": "de-DE", "en": "en-US", "es": "es-ES", "fr": "fr-FR", "gu": "gu-IN",
    "hi": "hi-IN", "id": "id-ID", "it": "it-IT", "ja": "ja-JP", "kn": "kn-IN", "ko": "ko-KR", "ml": "ml-IN",
    "mr": "mr-IN", "nl": "nl-NL", "pl": "pl-PL", "pt": "pt-BR", "ru": "ru-RU", "ta": "ta-IN", "te": "te-IN",
    "th": "th-TH", "tr": "tr-TR", "vi": "vi-VN", "zh": "cmn-CN",
}


class GeminiLiveSettings(PluginSettings):
    """The Gemini API key and where the Live API is (a proxy or a test fake can stand in)."""

    model_config = SettingsConfigDict(env_prefix="VOICE_AGENT_GEMINI_")
    title: ClassVar[str | None] = "Gemini Live"

    api_key: SecretStr | None = Field(None, description="Gemini API key (Google AI Studio)")
    base_url: str = Field(DEFAULT_BASE_URL, description="Live API WebSocket base URL (wss://; ws:// only for a local server).")
    api_version: str = Field(DEFAULT_API_VERSION, description="Live API version in the WebSocket path.")


class GeminiLiveOptions(BackendOptions):
    """The node's model, voice and language on Gemini Live."""

    model: str = Field(DEFAULT_MODEL, description="A Live API model with native audio, e.g. gemini-2.5-flash-native-audio-preview-12-2025.")
    voice: str = Field(DEFAULT_VOICE, description="A prebuilt Gemini voice (Charon, Kore, Puck, Aoede, ...); OpenAI voice names do not apply.")
    language: str | None = Field(None, description="BCP-47 code such as de-DE (default: the call's language, e.g. de -> de-DE).")
    base_url: str | None = Field(None, description="WebSocket base URL of the Live API (default: VOICE_AGENT_GEMINI_BASE_URL).")

    @field_validator("base_url")
    @classmethod
    def _websocket_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("ws", "wss"):
            raise ValueError(f"`base_url` must be a WebSocket URL, got {value!r}; write it as wss://host (ws:// only for a local server)")
        return value


def live_url(base_url: str, api_version: str) -> str:
    """The BidiGenerateContent WebSocket URL (``live.py``: ``{base_url}/ws/google.ai.generativelanguage.{version}...``)."""
    return f"{base_url.rstrip('/')}/ws/google.ai.generativelanguage.{api_version}.GenerativeService.BidiGenerateContent"


def model_version(model: str) -> tuple[int, int] | None:
    """Major and minor version in a model id (as Pipecat's ``_gemini_version`` reads it), None if none."""
    found = re.search(r"gemini(?:-[a-z]+)*-(\d+)(?:\.(\d+))?", model)
    return (int(found.group(1)), int(found.group(2) or 0)) if found else None


def function_declarations(tools: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    """Our tool contract (OpenAI function schemas) as Gemini function declarations, JSON Schema as it is.

    From 3.8 on, Live models run function calls NON_BLOCKING unless declared
    otherwise (Pipecat's ``_tag_tool_behaviors``); ours must block: the model
    waits for the answer (a refusal, or the branch it chose).
    """
    version = model_version(model)
    blocking = {"behavior": "BLOCKING"} if version is not None and version >= (3, 8) else {}
    return [
        {"name": tool["name"], "description": tool.get("description", ""), "parametersJsonSchema": tool.get("parameters") or {"type": "object"}, **blocking}
        for tool in tools
    ]


@dataclass
class GeminiConfig:
    """One call's session: where, which model and voice, what it is told."""

    endpoint: RealtimeEndpoint
    model: str
    voice: str
    language: str
    instructions: str
    tools: list[dict[str, Any]]
    greeting: str
    vad_silence_ms: int = 500
    vad_prefix_ms: int = 300
    connect_timeout_s: float = 3.0
    answer_timeout_s: float = 6.0

    def setup(self, instructions: str | None = None) -> dict[str, Any]:
        """The ``setup`` message, as ``AsyncLive.connect`` builds it (``_LiveConnectParameters_to_mldev``)."""
        model = self.model if self.model.startswith("models/") else f"models/{self.model}"
        setup: dict[str, Any] = {
            "model": model,
            "generationConfig": {
                "responseModalities": ["AUDIO"],
                "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": self.voice}}, "languageCode": self.language},
            },
            "systemInstruction": {"parts": [{"text": instructions or self.instructions}], "role": "user"},
            "inputAudioTranscription": {},
            "outputAudioTranscription": {},
            "realtimeInputConfig": {
                "automaticActivityDetection": {"prefixPaddingMs": self.vad_prefix_ms, "silenceDurationMs": self.vad_silence_ms},
                "activityHandling": "START_OF_ACTIVITY_INTERRUPTS",
            },
        }
        if self.tools:
            setup["tools"] = [{"functionDeclarations": function_declarations(self.tools, self.model)}]
        return {"setup": setup}


def realtime_text(text: str) -> dict[str, Any]:
    """``realtimeInput.text``: text the model takes as the caller's turn and answers (``send_realtime_input(text=...)``)."""
    return {"realtimeInput": {"text": text}}


def audio_message(pcm16: bytes, rate: int = INPUT_RATE) -> str:
    """``realtimeInput.audio`` as JSON text, built by hand (50 a second per call)."""
    return '{"realtimeInput":{"audio":{"data":"' + base64.b64encode(pcm16).decode() + f'","mimeType":"audio/pcm;rate={rate}"' + "}}}"


def tool_response(call_id: str, name: str, result: dict[str, Any]) -> dict[str, Any]:
    """``toolResponse`` with one function response: ``output``, or ``error`` for a refusal (types.FunctionResponse.response)."""
    response = {"error": result} if "error" in result else {"output": result}
    return {"toolResponse": {"functionResponses": [{"id": call_id, "name": name, "response": response}]}}


def context_update(instructions: str) -> dict[str, Any]:
    """``contextUpdate`` of the system instruction mid-session (``AsyncSession.send_context_update``)."""
    return {"contextUpdate": {"systemInstruction": {"parts": [{"text": instructions}], "role": "user"}}}


def heard_note(text: str, heard_ms: int, sent_ms: int) -> dict[str, Any]:
    """``clientContent`` (no turn end: nothing is answered) telling the model how much of its reply the caller heard.

    The words are estimated from the reply's transcript in proportion to the
    audio played: the protocol has no truncation at a play-out position.
    """
    words = text.split()
    kept = " ".join(words[: round(len(words) * min(1.0, heard_ms / sent_ms))]) if sent_ms > 0 else ""
    heard = f'only this much of your last reply: "{kept}"' if kept else "none of your last reply"
    note = f"{NOTE}The caller interrupted you and heard {heard}. They did not hear the rest; do not assume they did."
    return {"clientContent": {"turns": [{"role": "user", "parts": [{"text": note}]}], "turnComplete": False}}


class GeminiLink(FailsOnce):
    """The call's Live API session: opened and set up, sent on, closed; its failure reported once."""

    failing_label = "Gemini Live"

    def __init__(
        self, config: GeminiConfig, *, on_failure: Callable[[str, str], Awaitable[None]], call_id: str | None = None,
        preconnected: asyncio.Future[Any] | None = None,
    ) -> None:
        self._config = config
        self._on_failure = on_failure
        self._call_id = call_id
        self._preconnected = preconnected
        self.conn: RealtimeConnection | None = None
        self.failed = False
        self.closing = False
        self._setup_sent = False

    @property
    def usable(self) -> bool:
        return self.conn is not None and not self.failed

    async def open(self, instructions: str | None) -> None:
        """Connect (or take the early connection), send ``setup``, wait for ``setupComplete``; raises if refused.

        An early connection that failed, or was closed before its setup, is
        replaced by a new one, once; a refusal of the setup itself is final.
        """
        early, self._preconnected = self._preconnected, None
        if early is not None:
            try:
                self.conn = await early
                await self._set_up(instructions)
                return
            except (ConnectionError, json.JSONDecodeError):
                raise  # the server answered the setup: another connection gets the same answer
            except Exception as exc:  # the early socket failed or went away: one more, now
                if getattr(exc, "rcvd", None) is not None and self._setup_sent:
                    raise  # the server closed the session on its setup (a close frame with a code): final
                logger.info("the early Gemini connection failed ({}); connecting again", type(exc).__name__)
                if self.conn is not None:
                    await self.conn.close()
                    self.conn = None
        self.conn = await RealtimeConnection.open(self._config.endpoint)
        await self._set_up(instructions)

    async def _set_up(self, instructions: str | None) -> None:
        conn = self.conn
        assert conn is not None
        self._setup_sent = False
        await conn.send(self._config.setup(instructions))
        self._setup_sent = True
        first = json.loads(await conn.recv())
        if not isinstance(first, dict) or "setupComplete" not in first:
            raise ConnectionError(f"no setupComplete in the first message ({str(first)[:120]})")

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_text(json.dumps(message))

    async def send_text(self, text: str) -> None:
        try:
            await self.conn.send_text(text)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - a socket gone (or never there)
            if not self.closing:
                await self.fail("connection_lost", f"lost the Gemini Live connection while sending ({type(exc).__name__})")

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
class ModelTurn:
    """One reply of the model (a reply item for transport out): its audio, its words, whether it was cut."""

    item_id: str
    audio_ms: int = 0
    words: list[str] = field(default_factory=list)
    cut: bool = False  # the caller barged in: the rest of its audio is dropped
    interrupted: bool = False  # the server's VAD stopped it


class GeminiLiveProcessor(ModelProcessor):
    """Gemini Live between the VAD and the tool handlers (see the module's doc)."""

    def __init__(self, config: GeminiConfig, request: ModelRequest, **kwargs: Any) -> None:
        super().__init__(enable_direct_mode=True, **kwargs)
        self._config = config
        self._call_id = request.call_id
        self.answer_timeout_s = config.answer_timeout_s
        self.connection = GeminiLink(config, on_failure=request.on_failure, call_id=request.call_id, preconnected=request.preconnected)
        self.handover = HandOver(request.on_decision, request.call_id)
        self._up = Upsampler()
        self._down = Downsampler()
        self._turn: ModelTurn | None = None  # the reply in progress
        self._last: ModelTurn | None = None  # the latest reply that ended (a barge-in may cut it while it plays)
        self._turns = 0
        self._caller_words: list[str] = []
        self._caller_speaking = False
        self._quiet_ms = 0  # of caller audio since they last sounded like speech
        self._calls: dict[str, str] = {}  # tool calls without an answer: id -> name
        self._awaiting_since: float | None = None  # the model was asked to speak and has not yet
        self._outputs = 0  # model audio chunks and words so far
        self._line_mark = -1  # _outputs when the hand-over line was asked for
        self._line_audio = False
        self._bot_heard = False
        self._started = False
        self._instructions: str | None = None
        self._bad = 0
        self._reader: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def _ready(self) -> bool:
        """The session is set up and not failed: messages may be sent."""
        return self._started and self.connection.usable

    async def fail(self, kind: str, reason: str) -> None:
        await self.connection.fail(kind, reason)

    # -- the frame hooks (ModelProcessor dispatches the frames) ----------------------------------------
    async def _pcm_audio(self, frame: InputAudioRawFrame) -> None:
        if self._ready:
            pcm = np.frombuffer(frame.audio, dtype="<i2")
            rate = frame.sample_rate
            if rate == mulaw.SAMPLE_RATE:
                pcm, rate = self._up.process(pcm), INPUT_RATE
            await self.connection.send_text(audio_message(pcm.tobytes(), rate))

    async def _start(self, frame: StartFrame) -> None:
        self._watchdog = self.create_task(self._connect_and_watch(), "gemini-connect")

    def _stream_ending(self) -> None:
        self.connection.closing = True

    async def _caller_audio(self, frame: CallerAudioFrame) -> None:
        if not self._ready:
            return
        samples = mulaw.decode(frame.mulaw or base64.b64decode(frame.payload))
        await self.connection.send_text(audio_message(self._up.process(samples).tobytes()))
        if self._caller_speaking:
            await self._caller_quiet(samples)

    async def _caller_quiet(self, samples: np.ndarray) -> None:
        """The caller's turn ends after as much quiet as the server's VAD waits for (the protocol does not say when).

        An energy sum per frame, not a VAD: on a noisy line the quiet never
        comes, and the turn ends when the model starts to answer instead.
        """
        floats = samples.astype(np.float32)  # int16 squares overflow
        if float(np.dot(floats, floats)) > QUIET_ENERGY * samples.size:
            self._quiet_ms = 0
            return
        self._quiet_ms += samples.size // 8
        if self._quiet_ms >= self._config.vad_silence_ms:
            self._caller_speaking = False
            await self.push_frame(UserStoppedSpeakingFrame())

    # -- connection ------------------------------------------------------------------------------
    async def _connect_and_watch(self) -> None:
        in_setup = self._instructions  # the facts, if they came first
        try:
            await asyncio.wait_for(self.connection.open(in_setup), self._config.connect_timeout_s)
        except Exception as exc:  # refused, unreachable, slow, setup refused: the call goes on without the model
            await self.connection.fail("connect", f"could not connect to Gemini Live ({type(exc).__name__}: {str(exc)[:200]})")
            return
        self._started = True
        later, self._instructions = self._instructions, None
        if later is not in_setup and later is not None:  # they came while the session was being set up
            await self._instruct(later)
        self._reader = self.create_task(self._read(), "gemini-reader")
        await self._say_text(f"Greet the caller with exactly these words: {self._config.greeting}")
        while not self.connection.closing and not self.connection.failed:
            await asyncio.sleep(WATCHDOG_TICK_S)
            since = self._awaiting_since
            if since is not None and time.monotonic() - since > self._config.answer_timeout_s:
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
            code = getattr(getattr(exc, "rcvd", None), "code", None)
            reason = getattr(getattr(exc, "rcvd", None), "reason", "")
            detail = f" (close code {code}: {reason[:120]})" if code is not None else ""
            await self.connection.fail("connection_lost", f"lost the Gemini Live connection ({type(exc).__name__}){detail}")

    async def receive(self, raw: str | bytes) -> None:
        """Handle one server message; a malformed or oversized one is counted and skipped, never raised."""
        try:
            if len(raw) > MAX_MESSAGE_BYTES:
                raise ValueError(f"oversized message ({len(raw)} bytes)")
            message = json.loads(raw)
            if not isinstance(message, dict):
                raise ValueError("not a JSON object")
            await self._dispatch(message)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
            self._bad += 1
            logger.warning("skipped a Gemini Live message: {}", str(exc)[:200])
            if self._bad > MAX_BAD_MESSAGES:
                await self.connection.fail("garbage", "the model sends garbage")

    async def _dispatch(self, message: dict[str, Any]) -> None:
        """``LiveServerMessage`` (types.py): its fields are not exclusive; handled in Pipecat's order."""
        content = message.get("serverContent")
        if isinstance(content, dict):
            if content.get("interrupted"):
                await self._on_interrupted()
            for part in (content.get("modelTurn") or {}).get("parts") or []:
                if isinstance(part, dict) and isinstance(part.get("inlineData"), dict):
                    await self._on_audio(part["inlineData"])
            if isinstance(content.get("inputTranscription"), dict):
                await self._on_caller_words(content["inputTranscription"].get("text"))
            if isinstance(content.get("outputTranscription"), dict):
                await self._on_bot_words(content["outputTranscription"].get("text"))
            if content.get("turnComplete"):
                await self._on_turn_complete()
        if isinstance(message.get("toolCall"), dict):
            await self._on_tool_call(message["toolCall"])
        if isinstance(message.get("toolCallCancellation"), dict):
            for call_id in message["toolCallCancellation"].get("ids") or []:
                self._calls.pop(str(call_id), None)
        if isinstance(message.get("goAway"), dict):
            # The server closes the session soon; it is not resumed: hand the call on while it is whole.
            await self.connection.fail("go_away", f"the Live API ends the session (goAway, time left {message['goAway'].get('timeLeft')})")

    # -- the model's messages --------------------------------------------------------------------
    async def _caller_turn_over(self) -> None:
        """The model answers: the caller's turn ended (the server's VAD decided)."""
        if self._caller_speaking:
            self._caller_speaking = False
            await self.push_frame(UserStoppedSpeakingFrame())
        await self._flush_caller_words()

    async def _flush_caller_words(self) -> None:
        text = "".join(self._caller_words).strip()
        self._caller_words.clear()
        if text:
            await self.push_frame(TranscriptionFrame(text=text[:MAX_TRANSCRIPT_CHARS], user_id="caller", timestamp=str(time.time())))

    async def _begin_turn(self) -> ModelTurn:
        if self._turn is None:
            await self._caller_turn_over()
            self._turns += 1
            self._turn = ModelTurn(item_id=f"gemini-{self._turns}")
            await self.push_frame(LLMFullResponseStartFrame())
        return self._turn

    async def _output(self) -> ModelTurn | None:
        """The reply a piece of output belongs to; None when it was cut (the piece is dropped)."""
        turn = await self._begin_turn()
        if turn.cut:
            return None
        self._outputs += 1
        self._awaiting_since = None
        return turn

    async def _on_audio(self, inline: dict[str, Any]) -> None:
        mime, data = inline.get("mimeType"), inline["data"]
        if mime not in (OUTPUT_MIME, "audio/pcm"):
            raise ValueError(f"audio in an unexpected format ({str(mime)[:40]})")
        turn = await self._output()
        if turn is None:
            return
        samples = self._down.process(np.frombuffer(base64.b64decode(data, altchars=b"-_"), dtype="<i2"))  # either base64 alphabet
        if samples.size == 0:
            return
        turn.audio_ms += samples.size // 8
        if self._outputs > self._line_mark >= 0:
            self._line_audio = True
        await self.push_frame(BotAudioFrame(payload=base64.b64encode(mulaw.encode(samples)).decode(), item_id=turn.item_id))

    async def _on_caller_words(self, text: Any) -> None:
        if not isinstance(text, str) or not text:
            return
        if self._turn is None and not self._caller_speaking and not self._caller_words:  # else: more of the same turn
            self._caller_speaking, self._quiet_ms = True, 0
            await self.push_frame(UserStartedSpeakingFrame())
            # The model's reply was complete but still playing: Gemini's VAD interrupts only while it
            # generates, so the caller's first words are the first sign they talk over the bot. (Words that
            # trail the caller's previous turn arrive while the next reply is generated, and are not this.)
            await self._barge_in()
        self._caller_words.append(text)

    async def _on_bot_words(self, text: Any) -> None:
        if isinstance(text, str) and text:
            turn = await self._output()
            if turn is not None:
                turn.words.append(text)

    async def _on_interrupted(self) -> None:
        """The server's VAD heard the caller over the model: it stopped generating (``interrupted``, then ``turnComplete``)."""
        if self._turn is not None:
            self._turn.interrupted = True
        if not self._caller_speaking:
            self._caller_speaking, self._quiet_ms = True, 0
            await self.push_frame(UserStartedSpeakingFrame())
        await self._barge_in()

    async def _on_turn_complete(self) -> None:
        turn, self._turn = self._turn, None
        if turn is None:
            await self._flush_caller_words()
            return
        self._last = turn
        text = "".join(turn.words).strip()
        if text:
            await self.push_frame(TTSTextFrame(text=text[:MAX_TRANSCRIPT_CHARS], text_type="sentence"))
        if turn.audio_ms:
            await self.push_frame(BotAudioEndFrame(item_id=turn.item_id))
        await self.push_frame(LLMFullResponseEndFrame())
        await self._flush_caller_words()  # words of the caller's turn that came after the reply began
        handover = self.handover
        if handover.decision is None or not handover.line_asked or handover.delivered or handover.awaiting_playback:
            return
        if self._outputs <= self._line_mark:
            return  # a reply that ended before the line began (e.g. the words before the tool call)
        if turn.interrupted or not self._line_audio:
            await handover.deliver(heard=False)  # Twilio says the line in full
        elif self._bot_heard:
            handover.awaiting_playback = True  # delivered at BotStoppedSpeakingFrame
        else:
            await handover.deliver(heard=True)

    async def _on_tool_call(self, call: dict[str, Any]) -> None:
        for function in call.get("functionCalls") or []:
            call_id, name = str(function["id"]), str(function["name"])
            await self._caller_turn_over()
            self._awaiting_since = None
            self._calls[call_id] = name
            arguments = function.get("args") or {}
            await self.push_frame(FunctionCallInProgressFrame(function_name=name, tool_call_id=call_id, arguments=json.dumps(arguments)))

    # -- the rest of the pipeline's events -------------------------------------------------------
    async def _say_text(self, text: str) -> None:
        """Realtime text the model answers; the answer watchdog runs until it starts."""
        await self.connection.send(realtime_text(text))
        self._awaiting_since = self._awaiting_since or time.monotonic()

    def _ask_line(self) -> None:
        self.handover.line_asked = True
        self._line_mark = self._outputs
        self._line_audio = False
        self._awaiting_since = self._awaiting_since or time.monotonic()

    async def _barge_in(self) -> None:
        """The caller talks over the bot: interrupt (transport out clears Twilio and says what was heard)."""
        if self._bot_heard and self.handover.decision is None:
            await self.broadcast_interruption()

    async def _cut(self, cut: PlaybackCutFrame) -> None:
        """Transport out cut the bot off: drop the rest of that reply, tell the model what the caller heard."""
        call_event(self._call_id, "barge_in", heard_ms=cut.heard_ms, sent_ms=cut.sent_ms)
        turn = next((t for t in (self._turn, self._last) if t is not None and t.item_id == cut.item_id), None)
        if turn is None:
            return
        turn.cut = True
        if self._ready:
            await self.connection.send(heard_note("".join(turn.words), cut.heard_ms, cut.sent_ms))

    async def _tool_answered(self, frame: FunctionCallResultFrame) -> None:
        name = self._calls.pop(frame.tool_call_id, None)
        if name is None or not self._ready:
            return  # cancelled by the server (the caller spoke), or never asked
        result = dict(frame.result) if isinstance(frame.result, dict) else {"result": frame.result}
        handover = self.handover
        if handover.decision is not None and not handover.line_asked:
            # The model answers the tool response by itself: have that answer be the hand-over line.
            result["say_now"] = f"{SAY_LEAD}{handover.decision.say or 'Thank you.'}"
            self._ask_line()
        await self.connection.send(tool_response(frame.tool_call_id, name, result))
        self._awaiting_since = self._awaiting_since or time.monotonic()

    async def _decided(self, frame: CallDecidedFrame) -> None:
        handover = self.handover
        if handover.decision is not None:
            return
        handover.decision = frame.decision
        if not frame.now:
            return  # the line rides in the answer to the tool call that decided it
        if not self._ready:
            await handover.deliver(heard=False)
            return
        if self._turn is not None:
            self._turn.cut = True  # the reply in progress is not heard any further
        self._ask_line()
        await self._say_text(f"{NOTE}{SAY_LEAD}{frame.decision.say}")

    async def _keyed(self, digits: str) -> None:
        if not self._ready:
            return
        await self.push_frame(TranscriptionFrame(text=f"(keys {digits})", user_id="caller", timestamp=str(time.time())))
        await self._say_text(f"I keyed in on my phone: {digits}")

    async def _reprompt(self) -> None:
        if not self._ready or self._turn is not None or self.handover.decision is not None:
            return
        await self._say_text(f"{NOTE}{REPROMPT}")

    async def _instruct(self, instructions: str) -> None:
        """New instructions (the facts are ready): in the setup if it is not sent yet, else as ``contextUpdate``."""
        if not self._started:
            self._instructions = instructions
            return
        if self._ready:
            await self.connection.send(context_update(instructions))


class GeminiLiveBackend(ModelBackend):
    """Gemini Live over one WebSocket per call, audio resampled both ways."""

    name: ClassVar[str] = "gemini_live"
    Options: ClassVar[type[BackendOptions]] = GeminiLiveOptions
    settings_classes = (GeminiLiveSettings,)
    settings_fields = ("vad_silence_ms", "vad_prefix_ms")
    limits: ClassVar[dict[str, str]] = {
        "truncation": (
            "the Live API cannot cut the model's reply at what the caller heard (no equivalent of OpenAI's "
            "conversation.item.truncate; on 'interrupted' it keeps what it had sent, which runs ahead of what "
            "Twilio played); after a barge-in the model gets a text note of the words heard, estimated from its "
            "transcript, so it may still believe the caller heard more than they did"
        ),
        "barge_in": (
            "turns are decided by Gemini's server VAD only; the local VAD stops the bot's audio at once, but the "
            "model keeps generating that reply until its own VAD interrupts it (the rest is dropped, never played)"
        ),
        "speaker_tracking": (
            "the protocol sends no speech-started/stopped events: a caller's turn starts with their first "
            "transcribed words (later than the speech) and ends after the server VAD's silence measured on the "
            "line's energy, or when the model answers on a noisy line; silence re-prompts and reply latencies "
            "are less exact than on openai_realtime"
        ),
        "fixed_lines": (
            "lines the model must say (greeting, hand-over, re-prompt) reach it as text in the caller's turn "
            "(realtimeInput.text; there are no per-reply instructions), so it may not say them word for word"
        ),
        "session": (
            "a Live API session ends at the server's goAway (connections last minutes); sessions are not "
            "resumed, so the call fails over to the deterministic mode with what was gathered"
        ),
    }

    def _settings(self) -> GeminiLiveSettings:
        return self.settings.plugin_settings(GeminiLiveSettings)

    def endpoint(self, options: GeminiLiveOptions) -> RealtimeEndpoint:
        settings = self._settings()
        key = settings.secret("api_key")
        return RealtimeEndpoint(live_url(options.base_url or settings.base_url, settings.api_version), {"x-goog-api-key": key} if key else {})

    def ready(self, options: BackendOptions) -> bool:
        """A Gemini key, or a Live API server of your own (a base URL that is not Google's)."""
        assert isinstance(options, GeminiLiveOptions)
        try:
            settings = self._settings()
        except ValueError:
            return False
        return settings.secret("api_key") is not None or (options.base_url or settings.base_url) != DEFAULT_BASE_URL

    def problems(self, options: BackendOptions, node: AiAgentNode) -> list[str]:
        try:
            settings = self._settings()
        except ValueError as exc:
            return [f"{exc}; fix it in the environment or .env"]
        found = []
        missing = settings.missing("api_key")
        if missing:
            found.append(f"Gemini Live needs a key ({missing}); set it in the environment or .env")
        assert isinstance(options, GeminiLiveOptions)
        version = model_version(options.model)
        if "thinking" in options.model and version is not None and version >= (3, 8):
            # Pipecat's _supports_blocking_tools: Live thinking models run every function call NON_BLOCKING.
            found.append(
                f"`model: {options.model}` runs tools without waiting for their answers (a Live thinking model), so a "
                "refused detail or a chosen branch would reach it too late; choose a Live model without thinking"
            )
        if urlsplit(settings.base_url).scheme not in ("ws", "wss"):
            found.append(f"{settings.env_var('base_url')} must be a WebSocket URL, got {settings.base_url!r}; write it as wss://host")
        return found

    def connect_early(self, options: BackendOptions) -> asyncio.Future[Any] | None:
        assert isinstance(options, GeminiLiveOptions)
        return asyncio.ensure_future(RealtimeConnection.open(self.endpoint(options)))

    def processor(self, request: ModelRequest) -> ModelProcessor:
        options = request.options
        assert isinstance(options, GeminiLiveOptions)
        session, settings = request.session, request.settings
        language = options.language or LOCALES.get(session.language, session.language)
        config = GeminiConfig(
            endpoint=self.endpoint(options), model=options.model, voice=options.voice, language=language,
            instructions=request.instructions, tools=request.tools.schemas(), greeting=session.greeting,
            vad_silence_ms=settings.vad_silence_ms, vad_prefix_ms=settings.vad_prefix_ms,
        )
        return GeminiLiveProcessor(config, request)
