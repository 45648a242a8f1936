"""A fake OpenAI Realtime API (GA): a local WebSocket server with a scripted model.

``FakeRealtimeServer`` listens on ``ws://127.0.0.1:PORT/v1/realtime`` and
speaks the GA wire protocol (``shared/protocols.md`` §1): nested
``audio.input/output`` session config, ``conversation.item.added``/``.done``,
``response.output_audio.*``, ``event_id`` on every server event, no beta
names. What the "model" answers comes from a :class:`FakeModel`, a scripted
brain: a list of actions consumed one per response, a callable that looks at
the conversation, or both. The fake cannot recognise speech, so a test queues
what the caller "said" (``server.caller_said("...")``) before it sends the
audio; the fake's energy VAD finds the turn in the audio and the queued line
becomes its transcript.

Example::

    model = FakeModel([
        Say("On-call hotline, what is wrong?"),            # answers the greeting
        ToolCall("record_details", {"caller_name": "Jane"}),  # after the first turn
        Say("Thanks Jane, putting you through."),          # after the tool result
    ])
    async with FakeRealtimeServer(model) as server:
        llm = MyRealtimeClient(base_url=server.url)        # clients add ?model=...
        server.caller_said("Hi, this is Jane, the API is down")
        ...                                                # send audio
        await server.wait_for("response.create", count=2)
    assert server.session.config["audio"]["input"]["format"]["type"] == "audio/pcm"

Public API
----------
Server (``async with`` starts and stops it; all methods run on its loop):

- ``FakeRealtimeServer(model=None, *, vad_silence_ms=500, reply_delay_ms=200,
  audio_speedup=5.0, chunk_ms=100, path="/v1/realtime", require_auth=True,
  reject_beta_header=True, seed=None, auth="bearer")``. ``auth="api-key"``
  with ``path="/openai/v1/realtime"`` is Azure OpenAI's GA dialect (see
  :data:`AZURE_PATH`): the key comes in an ``api-key`` header, the
  deployment as ``?model=``.
- ``url``: ``ws://127.0.0.1:PORT/v1/realtime``; ``endpoint``:
  ``http://127.0.0.1:PORT`` (an Azure resource's URL, for ``azure_endpoint``); ``port``.
- ``await start()`` / ``await stop()``: what ``async with`` does.
- ``caller_said(*lines)``: queue the transcripts of the next user audio turns.
- ``received`` / ``sent``: every client event (parsed dict) / server event,
  all sessions, in order. ``sessions``: one :class:`FakeSession` per
  connection; ``session``: the latest one. ``handshakes``: every upgrade
  attempt as ``(path, headers, status)``; ``query`` parses its query string.
- ``await wait_for(type, count=1, timeout=5)`` / ``await wait_for_sent(...)``:
  until that many client / server events of that type were seen; returns them.
- ``problems``: things the fake noticed that a real model or API would not do
  with this client (a scripted ``ToolCall`` for a tool the session never
  declared, a ``function_call_output`` for an unknown ``call_id``, a model
  callable that raised). Assert it is empty at the end of a test.

Fault injection (for fail-over tests):

- ``refuse_connections(status=500, *, times=None)`` / ``accept_connections()``:
  reject the next (``times``, or all) WebSocket handshakes with that HTTP status.
- ``drop_after(events, *, of_type=None)``: abort the TCP connection right after
  that many more server events (of that type) were sent; no close frame.
- ``await drop(code=None, reason="")``: abort every open connection now
  (``code=None``), or close it with that close code.
- ``await send_error(code, message, *, type="server_error", param=None)``: an
  ``error`` event on every open connection, now.
- ``await send_raw(text)``: send text verbatim (invalid JSON, unknown events).
- ``stall()`` / ``resume()``: go silent (read everything, send nothing, start
  no response; the socket stays open) / talk again.

Scripted model:

- ``FakeModel(responses=None, *, heard=(), default=Say("Okay."), ms_per_word=250)``.
  ``responses`` is a list consumed one entry per response (a ``str`` is short
  for ``Say``; an entry may be one action, a list of actions, or a callable
  ``f(turn) -> actions`` that may be async), or one callable used for every
  response. When the list runs out ``default`` answers (it may be a callable).
  A callable returning ``None`` gives ``default``; ``[]`` gives an empty response.
- Actions: ``Say(text, *, audio_ms=None)`` (a message: audio, or text when the
  response's ``output_modalities`` is ``["text"]``; ``ms_per_word`` of tone per
  word divided by the session's ``audio.output.speed``, unless ``audio_ms``);
  ``ToolCall(name, arguments={}, *, call_id=None)``;
  ``Fail(message, *, code="server_error")`` (``response.done`` status failed).
- :class:`Turn`, what a callable gets: ``index``, ``trigger`` ("turn" after a
  VAD-committed user turn, "response.create" otherwise), ``user_text`` (latest
  user message: typed text or the audio's queued transcript), ``tool_output``
  and ``tool_name`` (latest ``function_call_output`` added since the previous
  response), ``items``, ``session``, ``response`` (the client's
  ``response.create`` params), ``instructions``.
- ``model.turns``: every :class:`Turn` asked; ``model.heard``: queued lines.

Per-connection state (:class:`FakeSession`): ``id``, ``model`` (from
``?model=``), ``path``, ``connected_headers`` (case-insensitive, e.g.
``["Authorization"]``), ``config`` (effective session, what ``session.updated``
showed last), ``items`` (the conversation), ``truncations``, ``responses``
(final response objects), ``received``, ``sent``, ``closed``, ``item(id)``,
``dialogue()`` (``(role, text)`` lines).

Audio helpers: ``tone(ms, fmt)``, ``silence(ms, fmt)``, ``encode_pcm16(samples,
fmt)``, ``decode_to_pcm16(data, fmt)``, ``bytes_per_ms(fmt)`` for ``audio/pcm``
(PCM16LE 24 kHz, 48 B/ms), ``audio/pcmu`` and ``audio/pcma`` (G.711, 8 kHz,
8 B/ms).

Behaviour
---------
- On connect: ``session.created`` at once, with a full default GA session
  (``type: realtime``, ``audio/pcm`` 24 kHz both ways, server VAD, voice
  ``marin``, ``transcription: null``). The handshake needs
  ``Authorization: Bearer …`` (else HTTP 401) and the path (else 404); an
  ``OpenAI-Beta: realtime=v1`` header gets an error and close code 4000.
- ``session.update`` merges the fields present (``null`` clears, lists
  replace, a new ``turn_detection``/``format``/``transcription`` object
  replaces the old one, filled with defaults), validates against the GA
  shape (beta fields such as ``modalities`` or ``temperature`` are
  ``unknown_parameter``) and answers ``session.updated`` with the full config.
- Server VAD (``server_vad`` and, approximated, ``semantic_vad``): 10 ms frames
  whose RMS exceeds ``0.02 * threshold`` of full scale are speech.
  ``speech_started`` (``audio_start_ms`` = detection - ``prefix_padding_ms``)
  → after ``silence_duration_ms`` of silence ``speech_stopped`` → ``committed``
  → ``conversation.item.added``/``.done`` (user ``input_audio``, transcript
  null) → transcription ``delta``/``completed`` (only when
  ``audio.input.transcription`` is set, as on the real API) → after
  ``reply_delay_ms`` a response (if ``create_response``; none while a
  response is still running, i.e. with ``interrupt_response: false``). New
  speech before that response starts drops it. Manual ``commit`` never
  triggers a response.
- ``conversation.item.truncate`` checks the item (an assistant audio message)
  and ``audio_end_ms`` against the audio actually sent, clears the item's
  transcript (the real API drops unheard text) and records the truncation with
  ``heard_text``, the words that started before ``audio_end_ms``.
- A response streams the GA event order of protocols.md §1.5, audio faster
  than real time (``audio_speedup``) in ``chunk_ms`` chunks. Barge-in
  (speech during a response, ``interrupt_response``) and ``response.cancel``
  end it: the open item gets its ``*.done`` events with status ``incomplete``
  and then ``response.done`` ``cancelled`` (``turn_detected`` /
  ``client_cancelled``); no delta follows the ``speech_started``.
- Errors keep the session open: ``error`` with ``event_id`` of the client
  event at fault.

Ids (``event_``, ``item_``, ``resp_``, ``call_`` …) are random, or repeatable
with ``seed``. Token counts in ``usage`` are made up but consistent.

Not modelled: ``idle_timeout_ms`` (``timeout_triggered``), out-of-band
responses beyond not touching the conversation, ``input_image``
understanding, session expiry, rate limiting, WebRTC-only events.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import inspect
import json
import logging
import random
import re
import string
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from agent.media import mulaw
from agent.testing.ws_server import LocalWebSocketServer

__all__ = [
    "PCM",
    "PCMA",
    "PCMU",
    "Fail",
    "FakeModel",
    "FakeRealtimeServer",
    "FakeSession",
    "Handshake",
    "Say",
    "ToolCall",
    "Turn",
    "bytes_per_ms",
    "decode_to_pcm16",
    "encode_pcm16",
    "silence",
    "tone",
]

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------
# Audio formats and G.711
# --------------------------------------------------------------------------

PCM = "audio/pcm"
PCMU = "audio/pcmu"
PCMA = "audio/pcma"
_RATE = {PCM: 24000, PCMU: 8000, PCMA: 8000}
_SAMPLE_BYTES = {PCM: 2, PCMU: 1, PCMA: 1}


def bytes_per_ms(fmt: str) -> int:
    """Bytes per millisecond of audio: 48 for ``audio/pcm``, 8 for G.711."""
    return _RATE[fmt] * _SAMPLE_BYTES[fmt] // 1000


def _alaw_decode_table() -> np.ndarray:
    table = np.empty(256, dtype=np.int16)
    for byte in range(256):
        a = byte ^ 0x55
        exponent, mantissa = (a >> 4) & 0x07, a & 0x0F
        if exponent == 0:
            magnitude = (mantissa << 4) + 8
        else:
            magnitude = ((mantissa << 4) + 0x108) << (exponent - 1)
        table[byte] = magnitude if a & 0x80 else -magnitude
    return table


_ALAW_TO_PCM = _alaw_decode_table()


def _alaw_encode(samples: np.ndarray) -> bytes:
    s = samples.astype(np.int32)
    mask = np.where(s >= 0, 0xD5, 0x55)
    magnitude = np.minimum(np.where(s >= 0, s, -s - 1), 32767)
    exponent = np.where(
        magnitude < 256, 0, np.floor(np.log2(np.maximum(magnitude, 1))).astype(np.int32) - 7
    )
    exponent = np.clip(exponent, 0, 7)
    mantissa = np.where(exponent == 0, magnitude >> 4, magnitude >> (exponent + 3)) & 0x0F
    return ((((exponent << 4) | mantissa) ^ mask) & 0xFF).astype(np.uint8).tobytes()


def encode_pcm16(samples: np.ndarray, fmt: str) -> bytes:
    """Encode int16 samples (already at the format's rate) as ``fmt`` bytes."""
    samples = np.asarray(samples, dtype=np.int16)
    if fmt == PCM:
        return samples.astype("<i2").tobytes()
    if fmt == PCMU:
        return mulaw.encode(samples)
    if fmt == PCMA:
        return _alaw_encode(samples)
    raise ValueError(f"unknown audio format {fmt!r}")


def decode_to_pcm16(data: bytes, fmt: str) -> np.ndarray:
    """Decode ``fmt`` bytes to int16 samples at the format's own rate."""
    if fmt == PCM:
        return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.int16)
    raw = np.frombuffer(data, dtype=np.uint8)
    if fmt == PCMU:
        return mulaw.decode(data)
    if fmt == PCMA:
        return _ALAW_TO_PCM[raw]
    raise ValueError(f"unknown audio format {fmt!r}")


def tone(ms: float, fmt: str = PCM, *, freq: float = 440.0, amplitude: float = 0.3) -> bytes:
    """``ms`` of a sine tone in ``fmt`` (what the fake "speaks"; also handy as caller speech)."""
    rate = _RATE[fmt]
    n = round(rate * ms / 1000)
    t = np.arange(n) / rate
    samples = np.round(np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype(np.int16)
    return encode_pcm16(samples, fmt)


def silence(ms: float, fmt: str = PCM) -> bytes:
    """``ms`` of digital silence in ``fmt`` (``0xFF`` bytes for mu-law, ``0xD5`` for A-law)."""
    return encode_pcm16(np.zeros(round(_RATE[fmt] * ms / 1000), dtype=np.int16), fmt)


# --------------------------------------------------------------------------
# The scripted model
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    """Answer with a message: audio + transcript, or text in text mode.

    The audio is a tone of ``ms_per_word`` (of the :class:`FakeModel`) per
    word, divided by the session's ``audio.output.speed``; ``audio_ms`` sets
    the length exactly.
    """

    text: str
    audio_ms: int | None = None


@dataclass(frozen=True)
class ToolCall:
    """Call a function tool: ``arguments`` is a dict (sent as a JSON string) or a raw string."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    call_id: str | None = None

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class Fail:
    """End the response with ``response.done`` status ``failed`` (outputs before it are kept)."""

    message: str = "The server had an error while processing your request."
    code: str | None = "server_error"


Action = Say | ToolCall | Fail


@dataclass
class Turn:
    """What a :class:`FakeModel` callable sees when asked for the next response."""

    index: int
    trigger: str
    user_text: str | None
    tool_output: str | None
    tool_name: str | None
    items: list[dict[str, Any]]
    session: dict[str, Any]
    response: dict[str, Any]
    instructions: str | None

    @property
    def tool_result(self) -> Any:
        """``tool_output`` parsed as JSON when it is JSON, else the string."""
        if self.tool_output is None:
            return None
        try:
            return json.loads(self.tool_output)
        except ValueError:
            return self.tool_output


Script = str | Action | Sequence[str | Action] | Callable[[Turn], Any] | None


class FakeModel:
    """A scripted brain: decides what each response contains.

    ``responses``: a list consumed one entry per response, or one callable for
    every response. ``heard``: transcripts of the next user audio turns (see
    ``FakeRealtimeServer.caller_said``). ``default``: what to answer when the
    list is used up (may be a callable). Shared by all sessions of a server.
    """

    def __init__(
        self,
        responses: Iterable[Script] | Callable[[Turn], Any] | None = None,
        *,
        heard: Iterable[str] = (),
        default: Script = Say("Okay."),
        ms_per_word: int = 250,
    ) -> None:
        if callable(responses):
            self._script: deque[Script] = deque()
            self.default: Script = responses
        else:
            self._script = deque(responses or ())
            self.default = default
        self.heard: deque[str] = deque(heard)
        self.ms_per_word = ms_per_word
        self.turns: list[Turn] = []

    @property
    def remaining(self) -> int:
        """Script entries not used yet."""
        return len(self._script)

    def caller_said(self, *lines: str) -> None:
        """Queue transcripts for the next user audio turns, in order."""
        self.heard.extend(lines)

    def next_heard(self) -> str:
        return self.heard.popleft() if self.heard else ""

    async def decide(self, turn: Turn) -> list[Action]:
        """The actions of the next response (consumes one script entry)."""
        self.turns.append(turn)
        entry = self._script.popleft() if self._script else self.default
        actions = await _resolve(entry, turn)
        if actions is None:
            actions = await _resolve(self.default, turn) if entry is not self.default else None
        return actions or []


async def _resolve(entry: Any, turn: Turn) -> list[Action] | None:
    if entry is None:
        return None
    if isinstance(entry, str):
        return [Say(entry)]
    if isinstance(entry, (Say, ToolCall, Fail)):
        return [entry]
    if callable(entry):
        result = entry(turn)
        if inspect.isawaitable(result):
            result = await result
        return await _resolve(result, turn)
    actions: list[Action] = []
    for part in entry:
        resolved = await _resolve(part, turn)
        actions.extend(resolved or [])
    return actions


# --------------------------------------------------------------------------
# Session state
# --------------------------------------------------------------------------

_ALNUM = string.ascii_letters + string.digits

_SESSION_KEYS = {
    "type",
    "model",
    "output_modalities",
    "instructions",
    "audio",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "tracing",
    "prompt",
    "truncation",
    "include",
    "reasoning",
    "parallel_tool_calls",
}
_SESSION_KEYS_IGNORED = {"id", "object", "expires_at"}
_AUDIO_INPUT_KEYS = {"format", "transcription", "noise_reduction", "turn_detection"}
_AUDIO_OUTPUT_KEYS = {"format", "voice", "speed"}
_RESPONSE_KEYS = {
    "audio",
    "conversation",
    "input",
    "instructions",
    "max_output_tokens",
    "metadata",
    "output_modalities",
    "parallel_tool_calls",
    "prompt",
    "reasoning",
    "tool_choice",
    "tools",
}
_SERVER_VAD_KEYS = {
    "type",
    "threshold",
    "prefix_padding_ms",
    "silence_duration_ms",
    "idle_timeout_ms",
    "create_response",
    "interrupt_response",
}
_SEMANTIC_VAD_KEYS = {"type", "eagerness", "create_response", "interrupt_response"}
_TRANSCRIPTION_KEYS = {"model", "language", "languages", "prompt", "delay", "keywords"}


class _ClientError(Exception):
    def __init__(
        self, code: str, message: str, param: str | None = None, type: str = "invalid_request_error"
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.param, self.type = code, message, param, type


@dataclass
class Handshake:
    """One WebSocket upgrade attempt: path (with query), headers, HTTP status (101 = accepted)."""

    path: str
    headers: Headers
    status: int

    @property
    def query(self) -> dict[str, list[str]]:
        """The upgrade request's query parameters (what the client put in the URL)."""
        return parse_qs(urlsplit(self.path).query)


@dataclass
class _Response:
    id: str
    trigger: str
    params: dict[str, Any]
    delay: float
    modalities: list[str]
    output_format: dict[str, Any]
    voice: Any
    in_conversation: bool
    cancel_event: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None
    created: bool = False
    done: bool = False
    cancel_reason: str | None = None
    output: list[dict[str, Any]] = field(default_factory=list)
    audio_ms: float = 0.0
    text_chars: int = 0


class FakeSession:
    """State of one connection. Read it in tests; do not change it."""

    def __init__(self, server: FakeRealtimeServer, ws: ServerConnection) -> None:
        self._server = server
        self._ws = ws
        request = ws.request
        assert request is not None
        self.path: str = request.path
        self.connected_headers: Headers = request.headers.copy()
        query = parse_qs(urlsplit(request.path).query)
        self.model: str | None = query.get("model", [None])[0]
        self.id: str = server._new_id("sess")
        self.conversation_id: str = server._new_id("conv")
        self.config: dict[str, Any] = server._default_session(self)
        self.items: list[dict[str, Any]] = []
        self.truncations: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.closed = False
        self._dropped = False
        self._meta: dict[str, dict[str, Any]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._active: _Response | None = None
        self._audio_out_sent = False
        self._outputs_since_response: list[str] = []
        self._response_count = 0
        # input audio buffer and VAD
        self._buf = bytearray()
        self._buf_format = self.input_format
        self._audio_ms_total = 0.0
        self._buf_start_ms = 0.0
        self._vad_ms = 0.0
        self._vad_bytes = b""
        self._vad_samples = np.zeros(0, dtype=np.int16)
        self._speaking = False
        self._speech_item: str | None = None
        self._last_voice_ms = 0.0

    # -- public helpers ---------------------------------------------------

    def item(self, item_id: str) -> dict[str, Any] | None:
        """The conversation item with that id, or None."""
        for item in self.items:
            if item.get("id") == item_id:
                return item
        return None

    def dialogue(self) -> list[tuple[str, str]]:
        """The conversation as ``(role, text)`` lines (tool calls as ``name(args)``)."""
        lines = []
        for item in self.items:
            kind = item.get("type")
            if kind == "message":
                lines.append((item.get("role", ""), self._item_text(item) or ""))
            elif kind == "function_call":
                lines.append(("function_call", f"{item.get('name')}({item.get('arguments')})"))
            elif kind == "function_call_output":
                lines.append(("function_call_output", str(item.get("output"))))
        return lines

    @property
    def input_format(self) -> str:
        return self.config["audio"]["input"]["format"]["type"]

    @property
    def output_format(self) -> dict[str, Any]:
        return self.config["audio"]["output"]["format"]

    @property
    def turn_detection(self) -> dict[str, Any] | None:
        return self.config["audio"]["input"]["turn_detection"]

    # -- internals ----------------------------------------------------------

    def _item_text(self, item: dict[str, Any]) -> str | None:
        meta = self._meta.get(item.get("id", ""), {})
        if "heard" in meta:
            return meta["heard"]
        parts = []
        for content in item.get("content") or []:
            for key in ("text", "transcript"):
                if content.get(key):
                    parts.append(content[key])
        return " ".join(parts) if parts else None

    def _last_item_id(self) -> str | None:
        return self.items[-1]["id"] if self.items else None

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


#: Azure OpenAI's GA realtime path: ``wss://<resource>.openai.azure.com/openai/v1/realtime?model=<deployment>``
#: (https://learn.microsoft.com/azure/ai-foundry/openai/how-to/realtime-audio-websockets).
AZURE_PATH = "/openai/v1/realtime"


class FakeRealtimeServer(LocalWebSocketServer[FakeSession]):
    """A local OpenAI Realtime (GA) server with a scripted model; see the module doc."""

    def __init__(
        self,
        model: FakeModel | None = None,
        *,
        vad_silence_ms: int = 500,
        reply_delay_ms: int = 200,
        audio_speedup: float = 5.0,
        chunk_ms: int = 100,
        path: str = "/v1/realtime",
        require_auth: bool = True,
        reject_beta_header: bool = True,
        seed: int | None = None,
        auth: Literal["bearer", "api-key"] = "bearer",
    ) -> None:
        super().__init__()
        self.model = model if model is not None else FakeModel()
        self.auth = auth
        self.vad_silence_ms = vad_silence_ms
        self.reply_delay_ms = reply_delay_ms
        self.audio_speedup = audio_speedup
        self.chunk_ms = chunk_ms
        self.path = path
        self.require_auth = require_auth
        self.reject_beta_header = reject_beta_header
        self.received: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.handshakes: list[Handshake] = []
        self.problems: list[str] = []
        self._rng = random.Random(seed)
        self._refuse_status: int | None = None
        self._refuse_times: int | None = None
        self._drop_after: int | None = None
        self._drop_type: str | None = None
        self._stalled = False

    @property
    def endpoint(self) -> str:
        """The server's root as an Azure resource URL (``https://<resource>.openai.azure.com`` stands for it)."""
        return self.root

    # -- test helpers ---------------------------------------------------------

    def caller_said(self, *lines: str) -> None:
        """Queue what the caller says in the next user audio turns (their transcripts)."""
        self.model.caller_said(*lines)

    async def wait_for(self, type: str, count: int = 1, timeout: float = 5) -> list[dict[str, Any]]:
        """Wait until ``count`` client events of ``type`` were received; return them."""
        return await self._wait(self.received, type, count, timeout, "received")

    async def wait_for_sent(
        self, type: str, count: int = 1, timeout: float = 5
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` server events of ``type`` were sent; return them."""
        return await self._wait(self.sent, type, count, timeout, "sent")

    async def _wait(self, events, type, count, timeout, what) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in events if e.get("type") == type]
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                seen = [e.get("type") for e in events]
                raise TimeoutError(
                    f"{what} {len(found)} of {count} {type!r} events in {timeout}s; {what}: {seen}"
                )
            await asyncio.sleep(0.005)

    # -- fault injection ------------------------------------------------------

    def refuse_connections(self, status: int = 500, *, times: int | None = None) -> None:
        """Reject the next ``times`` (default: all) handshakes with HTTP ``status``."""
        self._refuse_status, self._refuse_times = status, times

    def accept_connections(self) -> None:
        """Undo ``refuse_connections``."""
        self._refuse_status = self._refuse_times = None

    def drop_after(self, events: int, *, of_type: str | None = None) -> None:
        """Abort the connection right after ``events`` more server events (of ``of_type``)."""
        self._drop_after, self._drop_type = events, of_type

    async def drop(self, code: int | None = None, reason: str = "") -> None:
        """Abort every open connection (no close frame), or close it with ``code``."""
        for sess in self._open_sessions():
            if code is None:
                self._abort(sess)
            else:
                sess._dropped = True
                await sess._ws.close(code, reason)

    async def send_error(
        self, code: str, message: str, *, type: str = "server_error", param: str | None = None
    ) -> None:
        """Send an ``error`` event on every open connection, now."""
        for sess in self._open_sessions():
            await self._emit(sess, _error_event(type, code, message, param, None))

    async def send_raw(self, text: str) -> None:
        """Send ``text`` verbatim on every open connection (not recorded in ``sent``)."""
        for sess in self._open_sessions():
            try:
                await sess._ws.send(text)
            except ConnectionClosed:
                pass

    def stall(self) -> None:
        """Go silent: keep reading, send nothing, start no response."""
        self._stalled = True

    def resume(self) -> None:
        """Undo ``stall``."""
        self._stalled = False

    def _open_sessions(self) -> list[FakeSession]:
        return [s for s in self.sessions if not s.closed and not s._dropped]

    def _abort(self, sess: FakeSession) -> None:
        sess._dropped = True
        transport = sess._ws.transport
        if transport is not None:
            transport.abort()

    # -- plumbing -------------------------------------------------------------

    def _new_id(self, prefix: str, length: int = 21) -> str:
        return prefix + "_" + "".join(self._rng.choice(_ALNUM) for _ in range(length))

    def _default_session(self, sess: FakeSession) -> dict[str, Any]:
        # Only fields of the GA contract's session (openai.types.realtime.RealtimeSessionCreateRequest,
        # what session.created/.updated carry): no `id`, `object` or `expires_at` (those belong to the
        # client-secret response, RealtimeSessionCreateResponse).
        return {
            "type": "realtime",
            "model": sess.model or "gpt-realtime",
            "output_modalities": ["audio"],
            "instructions": "You are a helpful, witty, and friendly AI.",
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "include": None,
            "audio": {
                "input": {
                    "format": {"type": PCM, "rate": 24000},
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": self._turn_detection({"type": "server_vad"}, "x"),
                },
                "output": {
                    "format": {"type": PCM, "rate": 24000},
                    "voice": "marin",
                    "speed": 1.0,
                },
            },
        }

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        status = 101
        response = None
        if urlsplit(request.path).path != self.path:
            status = 404
            response = connection.respond(404, _http_error("Not found", "not_found"))
        elif self._refuse_status is not None:
            status = self._refuse_status
            response = connection.respond(status, _http_error("Refused by test", "server_error"))
            if self._refuse_times is not None:
                self._refuse_times -= 1
                if self._refuse_times <= 0:
                    self.accept_connections()
        elif self.require_auth and self.auth == "api-key" and not request.headers.get("api-key"):
            # Azure OpenAI: the key in an ``api-key`` header (or an Entra ID bearer token, which this fake
            # does not model); without it HTTP 401 with Azure's own message
            # (https://learn.microsoft.com/azure/ai-foundry/openai/reference#authentication).
            status = 401
            response = connection.respond(401, json.dumps({"error": {
                "code": "401",
                "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
                "provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
            }}))
        elif self.require_auth and self.auth == "bearer" and not request.headers.get("Authorization", "").startswith(
            "Bearer "
        ):
            status = 401
            response = connection.respond(
                401, _http_error("Missing bearer authentication in header", "invalid_api_key")
            )
        self.handshakes.append(Handshake(request.path, request.headers.copy(), status))
        return response

    async def _handle(self, ws: ServerConnection) -> None:
        sess = FakeSession(self, ws)
        self.sessions.append(sess)
        try:
            beta = sess.connected_headers.get("OpenAI-Beta", "")
            if self.reject_beta_header and "realtime=v1" in beta:
                await self._emit(
                    sess,
                    _error_event(
                        "invalid_request_error",
                        "beta_api_shape_disabled",
                        "The beta Realtime API shape (OpenAI-Beta: realtime=v1) is disabled.",
                        None,
                        None,
                    ),
                )
                await ws.close(4000, "beta_api_shape_disabled")
                return
            created = {"type": "session.created", "session": copy.deepcopy(sess.config)}
            await self._emit(sess, created)
            async for message in ws:
                await self._on_message(sess, message)
        except ConnectionClosed:
            pass
        finally:
            sess.closed = True
            for task in list(sess._tasks):
                task.cancel()
            if sess._tasks:
                await asyncio.gather(*sess._tasks, return_exceptions=True)

    async def _emit(self, sess: FakeSession, event: dict[str, Any]) -> None:
        if sess.closed or sess._dropped or self._stalled:
            return
        event = {"event_id": self._new_id("event"), **event}
        sess.sent.append(event)
        self.sent.append(event)
        try:
            await sess._ws.send(json.dumps(event))
        except ConnectionClosed:
            sess.closed = True
            return
        if self._drop_after is not None and self._drop_type in (None, event["type"]):
            self._drop_after -= 1
            if self._drop_after <= 0:
                self._drop_after = self._drop_type = None
                self._abort(sess)

    async def _on_message(self, sess: FakeSession, message: str | bytes) -> None:
        if isinstance(message, bytes):
            message = message.decode("utf-8", errors="replace")
        try:
            event = json.loads(message)
        except ValueError as exc:
            await self._emit(
                sess,
                _error_event(
                    "invalid_request_error",
                    "invalid_json",
                    f"The server could not parse the JSON body: {exc}",
                    None,
                    None,
                ),
            )
            return
        if not isinstance(event, dict):
            await self._emit(
                sess,
                _error_event(
                    "invalid_request_error",
                    "invalid_type",
                    "Invalid type: expected an object.",
                    None,
                    None,
                ),
            )
            return
        sess.received.append(event)
        self.received.append(event)
        event_id = event.get("event_id")
        kind = event.get("type")
        try:
            if not isinstance(kind, str):
                raise _ClientError(
                    "missing_required_parameter", "Missing required parameter: 'type'.", "type"
                )
            handler = self._HANDLERS.get(kind)
            if handler is None:
                raise _ClientError(
                    "invalid_value",
                    f"Invalid value: '{kind}'. Supported values are: "
                    + ", ".join(f"'{k}'" for k in self._HANDLERS)
                    + ".",
                    "type",
                )
            await handler(self, sess, event)
        except _ClientError as err:
            await self._emit(
                sess, _error_event(err.type, err.code, err.message, err.param, event_id)
            )

    # -- session.update -------------------------------------------------------

    async def _session_update(self, sess: FakeSession, event: dict[str, Any]) -> None:
        update = event.get("session")
        if not isinstance(update, dict):
            raise _ClientError(
                "missing_required_parameter", "Missing required parameter: 'session'.", "session"
            )
        sess.config = self._merge_session(sess, update)
        await self._emit(sess, {"type": "session.updated", "session": copy.deepcopy(sess.config)})

    def _merge_session(self, sess: FakeSession, update: dict[str, Any]) -> dict[str, Any]:
        if "type" not in update:
            raise _ClientError(
                "missing_required_parameter",
                "Missing required parameter: 'session.type'.",
                "session.type",
            )
        if update["type"] != "realtime":
            raise _ClientError(
                "invalid_value",
                f"Invalid value: '{update['type']}'. This session is of type 'realtime'.",
                "session.type",
            )
        for key in update:
            if key not in _SESSION_KEYS and key not in _SESSION_KEYS_IGNORED:
                raise _ClientError(
                    "unknown_parameter", f"Unknown parameter: 'session.{key}'.", f"session.{key}"
                )
        cfg = copy.deepcopy(sess.config)
        for key, value in update.items():
            if key in _SESSION_KEYS_IGNORED or key == "type":
                continue
            if key == "audio":
                self._merge_audio(sess, cfg, value)
            elif key == "output_modalities":
                cfg[key] = _check_modalities(value, "session.output_modalities")
            elif key == "instructions":
                if not isinstance(value, str):
                    raise _ClientError(
                        "invalid_type",
                        "Invalid type for 'session.instructions'.",
                        "session.instructions",
                    )
                cfg[key] = value
            elif key == "tools":
                cfg[key] = _check_tools(value, "session.tools")
            elif key == "tool_choice":
                cfg[key] = _check_tool_choice(value, "session.tool_choice")
            elif key == "max_output_tokens":
                cfg[key] = _check_max_tokens(value, "session.max_output_tokens")
            else:
                cfg[key] = copy.deepcopy(value)
        return cfg

    def _merge_audio(self, sess: FakeSession, cfg: dict[str, Any], audio: Any) -> None:
        if not isinstance(audio, dict):
            raise _ClientError("invalid_type", "Invalid type for 'session.audio'.", "session.audio")
        for key in audio:
            if key not in ("input", "output"):
                param = f"session.audio.{key}"
                raise _ClientError("unknown_parameter", f"Unknown parameter: '{param}'.", param)
        inp = audio.get("input")
        if inp is not None:
            if not isinstance(inp, dict):
                raise _ClientError(
                    "invalid_type", "Invalid type for 'session.audio.input'.", "session.audio.input"
                )
            target = cfg["audio"]["input"]
            for key, value in inp.items():
                param = f"session.audio.input.{key}"
                if key not in _AUDIO_INPUT_KEYS:
                    raise _ClientError("unknown_parameter", f"Unknown parameter: '{param}'.", param)
                if key == "format":
                    target[key] = _check_format(value, param)
                elif key == "transcription":
                    target[key] = _check_transcription(value, param)
                elif key == "turn_detection":
                    target[key] = None if value is None else self._turn_detection(value, param)
                elif key == "noise_reduction":
                    if value is not None and (
                        not isinstance(value, dict)
                        or value.get("type") not in ("near_field", "far_field")
                    ):
                        raise _ClientError("invalid_value", f"Invalid value for '{param}'.", param)
                    target[key] = copy.deepcopy(value)
        out = audio.get("output")
        if out is not None:
            if not isinstance(out, dict):
                raise _ClientError(
                    "invalid_type",
                    "Invalid type for 'session.audio.output'.",
                    "session.audio.output",
                )
            target = cfg["audio"]["output"]
            for key, value in out.items():
                param = f"session.audio.output.{key}"
                if key not in _AUDIO_OUTPUT_KEYS:
                    raise _ClientError("unknown_parameter", f"Unknown parameter: '{param}'.", param)
                if key == "format":
                    target[key] = _check_format(value, param)
                elif key == "voice":
                    if value != target.get("voice") and sess._audio_out_sent:
                        raise _ClientError(
                            "cannot_update_voice",
                            "Cannot update a conversation's voice if assistant audio is present.",
                            param,
                        )
                    target[key] = copy.deepcopy(value)
                elif key == "speed":
                    if not isinstance(value, (int, float)) or not 0.25 <= value <= 1.5:
                        raise _ClientError(
                            "decimal_out_of_range",
                            f"Invalid '{param}': expected a number between 0.25 and 1.5.",
                            param,
                        )
                    target[key] = float(value)

    def _turn_detection(self, value: Any, param: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _ClientError("invalid_type", f"Invalid type for '{param}'.", param)
        kind = value.get("type")
        if kind == "server_vad":
            allowed = _SERVER_VAD_KEYS
            result: dict[str, Any] = {
                "type": "server_vad",
                "threshold": 0.5,
                "prefix_padding_ms": 300,
                "silence_duration_ms": self.vad_silence_ms,
                "idle_timeout_ms": None,
                "create_response": True,
                "interrupt_response": True,
            }
        elif kind == "semantic_vad":
            allowed = _SEMANTIC_VAD_KEYS
            result = {
                "type": "semantic_vad",
                "eagerness": "auto",
                "create_response": True,
                "interrupt_response": True,
            }
        else:
            raise _ClientError(
                "invalid_value",
                f"Invalid value: '{kind}'. Supported values are: 'server_vad' and 'semantic_vad'.",
                f"{param}.type",
            )
        for key, item in value.items():
            if key not in allowed:
                raise _ClientError(
                    "unknown_parameter", f"Unknown parameter: '{param}.{key}'.", f"{param}.{key}"
                )
            if item is not None or key == "idle_timeout_ms":
                result[key] = item
        threshold = result.get("threshold", 0.5)
        valid = isinstance(threshold, (int, float)) and 0 <= threshold <= 1
        if kind == "server_vad" and not valid:
            raise _ClientError(
                "decimal_out_of_range",
                f"Invalid '{param}.threshold': expected 0.0 to 1.0.",
                f"{param}.threshold",
            )
        return result

    # -- input audio buffer ---------------------------------------------------

    async def _append(self, sess: FakeSession, event: dict[str, Any]) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise _ClientError(
                "missing_required_parameter", "Missing required parameter: 'audio'.", "audio"
            )
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise _ClientError(
                "invalid_value", "Invalid 'audio': not valid base64.", "audio"
            ) from None
        fmt = sess.input_format
        if fmt != sess._buf_format:
            sess._buf_format = fmt
            sess._vad_bytes = b""
            sess._vad_samples = np.zeros(0, dtype=np.int16)
            sess._vad_ms = sess._audio_ms_total
        sess._buf += data
        sess._audio_ms_total += len(data) / bytes_per_ms(fmt)
        td = sess.turn_detection
        if td is None:
            sess._vad_bytes = b""
            sess._vad_samples = np.zeros(0, dtype=np.int16)
            sess._vad_ms = sess._audio_ms_total
            return
        data = sess._vad_bytes + data
        usable = len(data) // _SAMPLE_BYTES[fmt] * _SAMPLE_BYTES[fmt]
        sess._vad_bytes = data[usable:]
        samples = np.concatenate([sess._vad_samples, decode_to_pcm16(data[:usable], fmt)])
        frame = _RATE[fmt] // 100  # 10 ms
        whole = len(samples) // frame * frame
        sess._vad_samples = samples[whole:]
        threshold = 0.02 * float(td.get("threshold") or 0.5)
        silence_ms = td.get("silence_duration_ms") or self.vad_silence_ms
        prefix_ms = td.get("prefix_padding_ms") or 0
        for start in range(0, whole, frame):
            chunk = samples[start : start + frame].astype(np.float64) / 32768.0
            voiced = float(np.sqrt(np.mean(chunk * chunk))) > threshold
            frame_start = sess._vad_ms
            sess._vad_ms += 10
            if voiced:
                sess._last_voice_ms = sess._vad_ms
                if not sess._speaking:
                    await self._speech_started(
                        sess, max(sess._buf_start_ms, frame_start - prefix_ms)
                    )
            elif sess._speaking and sess._vad_ms - sess._last_voice_ms >= silence_ms:
                await self._speech_stopped(sess, sess._vad_ms)

    async def _speech_started(self, sess: FakeSession, audio_start_ms: float) -> None:
        sess._speaking = True
        sess._speech_item = self._new_id("item")
        td = sess.turn_detection or {}
        resp = sess._active
        interrupt = (
            resp is not None
            and not resp.done
            and (not resp.created or td.get("interrupt_response", True))
        )
        if interrupt:
            # Flag first: no delta may follow the speech_started event.
            resp.cancel_reason = "turn_detected"
            resp.cancel_event.set()
        await self._emit(
            sess,
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": int(audio_start_ms),
                "item_id": sess._speech_item,
            },
        )
        if interrupt and resp.task is not None:
            await asyncio.gather(resp.task, return_exceptions=True)

    async def _speech_stopped(self, sess: FakeSession, audio_end_ms: float) -> None:
        item_id = sess._speech_item or self._new_id("item")
        sess._speaking = False
        sess._speech_item = None
        await self._emit(
            sess,
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": int(audio_end_ms),
                "item_id": item_id,
            },
        )
        await self._commit(sess, item_id)
        td = sess.turn_detection or {}
        if td.get("create_response", True) and not self._stalled:
            if sess._active is not None and not sess._active.done:
                return  # still answering (interrupt_response false): no new response
            self._start_response(sess, {}, trigger="turn", delay=self.reply_delay_ms / 1000)

    async def _commit_event(self, sess: FakeSession, event: dict[str, Any]) -> None:
        ms = len(sess._buf) / bytes_per_ms(sess._buf_format)
        if ms < 100:
            raise _ClientError(
                "input_audio_buffer_commit_empty",
                f"Error committing input audio buffer: buffer too small. Expected at least "
                f"100ms of audio, but buffer only has {ms:.2f}ms of audio.",
            )
        item_id = sess._speech_item or self._new_id("item")
        sess._speaking = False
        sess._speech_item = None
        await self._commit(sess, item_id)

    async def _commit(self, sess: FakeSession, item_id: str) -> None:
        audio, fmt = bytes(sess._buf), sess._buf_format
        sess._buf.clear()
        sess._buf_start_ms = sess._audio_ms_total
        heard = self.model.next_heard()
        previous = sess._last_item_id()
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        sess.items.append(item)
        sess._meta[item_id] = {
            "audio": audio,
            "format": fmt,
            "audio_ms": len(audio) / bytes_per_ms(fmt),
            "heard": heard,
        }
        await self._emit(
            sess,
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous,
                "item_id": item_id,
            },
        )
        await self._emit(
            sess,
            {
                "type": "conversation.item.added",
                "previous_item_id": previous,
                "item": copy.deepcopy(item),
            },
        )
        await self._emit(
            sess,
            {
                "type": "conversation.item.done",
                "previous_item_id": previous,
                "item": copy.deepcopy(item),
            },
        )
        transcription = sess.config["audio"]["input"].get("transcription")
        if transcription:
            for piece in re.findall(r"\s*\S+", heard):
                await self._emit(
                    sess,
                    {
                        "type": "conversation.item.input_audio_transcription.delta",
                        "item_id": item_id,
                        "content_index": 0,
                        "delta": piece,
                    },
                )
            item["content"][0]["transcript"] = heard
            if str(transcription.get("model", "")).startswith("whisper"):
                usage: dict[str, Any] = {
                    "type": "duration",
                    "seconds": round(len(audio) / bytes_per_ms(fmt) / 1000, 3),
                }
            else:
                tokens_in = max(1, int(len(audio) / bytes_per_ms(fmt) / 100))
                tokens_out = max(1, len(heard) // 4)
                usage = {
                    "type": "tokens",
                    "input_tokens": tokens_in,
                    "output_tokens": tokens_out,
                    "total_tokens": tokens_in + tokens_out,
                    "input_token_details": {"audio_tokens": tokens_in, "text_tokens": 0},
                }
            await self._emit(
                sess,
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": heard,
                    "usage": usage,
                },
            )

    async def _clear(self, sess: FakeSession, event: dict[str, Any]) -> None:
        sess._buf.clear()
        sess._buf_start_ms = sess._audio_ms_total
        sess._speaking = False
        sess._speech_item = None
        sess._vad_bytes = b""
        sess._vad_samples = np.zeros(0, dtype=np.int16)
        sess._vad_ms = sess._audio_ms_total
        await self._emit(sess, {"type": "input_audio_buffer.cleared"})

    async def _output_buffer_clear(self, sess: FakeSession, event: dict[str, Any]) -> None:
        raise _ClientError(
            "invalid_value",
            "'output_audio_buffer.clear' is only supported for WebRTC and SIP connections.",
            "type",
        )

    # -- conversation items ---------------------------------------------------

    async def _item_create(self, sess: FakeSession, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            raise _ClientError(
                "missing_required_parameter", "Missing required parameter: 'item'.", "item"
            )
        item = _check_item(item)
        item_id = item.get("id") or self._new_id("item")
        if sess.item(item_id) is not None:
            raise _ClientError(
                "invalid_value", f"Item with id '{item_id}' already exists.", "item.id"
            )
        stored = {
            "id": item_id,
            "object": "realtime.item",
            **{k: v for k, v in item.items() if k != "id"},
        }
        stored["status"] = "completed"
        if stored["type"] == "function_call_output":
            calls = {i.get("call_id"): i for i in sess.items if i.get("type") == "function_call"}
            if stored.get("call_id") not in calls:
                self.problems.append(
                    f"function_call_output for unknown call_id {stored.get('call_id')!r}"
                )
            sess._outputs_since_response.append(item_id)
        if "previous_item_id" in event and event["previous_item_id"] is not None:
            prev = event["previous_item_id"]
            if prev == "root":
                index, previous = 0, None
            else:
                found = [n for n, i in enumerate(sess.items) if i["id"] == prev]
                if not found:
                    raise _ClientError(
                        "invalid_value",
                        f"Invalid 'previous_item_id': no item with id '{prev}'.",
                        "previous_item_id",
                    )
                index, previous = found[0] + 1, prev
        else:
            index, previous = len(sess.items), sess._last_item_id()
        sess.items.insert(index, stored)
        for kind in ("conversation.item.added", "conversation.item.done"):
            await self._emit(
                sess, {"type": kind, "previous_item_id": previous, "item": copy.deepcopy(stored)}
            )

    async def _item_truncate(self, sess: FakeSession, event: dict[str, Any]) -> None:
        item_id = event.get("item_id")
        item = sess.item(item_id) if isinstance(item_id, str) else None
        if item is None:
            raise _ClientError(
                "item_truncate_invalid_item_id",
                f"Item with item_id not found: {item_id}",
                "item_id",
            )
        content_index = event.get("content_index", 0)
        audio_end_ms = event.get("audio_end_ms")
        if not isinstance(audio_end_ms, int) or audio_end_ms < 0:
            raise _ClientError(
                "invalid_value", "Invalid 'audio_end_ms': expected an integer >= 0.", "audio_end_ms"
            )
        content = item.get("content") or []
        if (
            item.get("role") != "assistant"
            or not isinstance(content_index, int)
            or not 0 <= content_index < max(1, len(content))
            or (content and content[content_index].get("type") != "output_audio")
        ):
            raise _ClientError(
                "invalid_value",
                "Only the audio content of an assistant message can be truncated.",
                "content_index",
            )
        meta = sess._meta.get(item_id, {})
        length = meta.get("audio_ms", 0.0)
        if audio_end_ms > length + 1e-6:
            raise _ClientError(
                "invalid_value",
                f"Audio content of {int(length)}ms is already shorter than {audio_end_ms}ms",
                "audio_end_ms",
            )
        heard = "".join(w for w, start in meta.get("words", []) if start < audio_end_ms)
        if content:
            content[content_index]["transcript"] = ""
        sess.truncations.append(
            {
                "item_id": item_id,
                "content_index": content_index,
                "audio_end_ms": audio_end_ms,
                "audio_ms": length,
                "heard_text": heard.strip(),
            }
        )
        await self._emit(
            sess,
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": content_index,
                "audio_end_ms": audio_end_ms,
            },
        )

    async def _item_delete(self, sess: FakeSession, event: dict[str, Any]) -> None:
        item_id = event.get("item_id")
        item = sess.item(item_id) if isinstance(item_id, str) else None
        if item is None:
            raise _ClientError(
                "item_delete_invalid_item_id", f"Item with item_id not found: {item_id}", "item_id"
            )
        sess.items.remove(item)
        await self._emit(sess, {"type": "conversation.item.deleted", "item_id": item_id})

    async def _item_retrieve(self, sess: FakeSession, event: dict[str, Any]) -> None:
        item_id = event.get("item_id")
        item = sess.item(item_id) if isinstance(item_id, str) else None
        if item is None:
            raise _ClientError(
                "item_retrieve_invalid_item_id",
                f"Item with item_id not found: {item_id}",
                "item_id",
            )
        full = copy.deepcopy(item)
        meta = sess._meta.get(item_id, {})
        if meta.get("audio") and full.get("content"):
            full["content"][0]["audio"] = base64.b64encode(meta["audio"]).decode()
        await self._emit(sess, {"type": "conversation.item.retrieved", "item": full})

    # -- responses ------------------------------------------------------------

    async def _response_create(self, sess: FakeSession, event: dict[str, Any]) -> None:
        params = event.get("response") or {}
        if not isinstance(params, dict):
            raise _ClientError("invalid_type", "Invalid type for 'response'.", "response")
        for key in params:
            if key not in _RESPONSE_KEYS:
                raise _ClientError(
                    "unknown_parameter", f"Unknown parameter: 'response.{key}'.", f"response.{key}"
                )
        if "output_modalities" in params:
            _check_modalities(params["output_modalities"], "response.output_modalities")
        out = (params.get("audio") or {}).get("output") or {}
        if "format" in out:
            _check_format(out["format"], "response.audio.output.format")
        if "tools" in params:
            _check_tools(params["tools"], "response.tools")
        if params.get("conversation", "auto") not in ("auto", "none"):
            raise _ClientError(
                "invalid_value", "Invalid 'response.conversation'.", "response.conversation"
            )
        active = sess._active
        if active is not None and not active.done:
            raise _ClientError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {active.id}. "
                "Wait until the response is finished before creating a new one.",
            )
        if self._stalled:
            return
        self._start_response(sess, params, trigger="response.create", delay=0.0)

    async def _response_cancel(self, sess: FakeSession, event: dict[str, Any]) -> None:
        active = sess._active
        wanted = event.get("response_id")
        if active is None or active.done or (wanted and wanted != active.id):
            raise _ClientError(
                "response_cancel_not_active",
                "Cancellation failed: no active response found",
            )
        active.cancel_reason = "client_cancelled"
        active.cancel_event.set()
        if active.task is not None:
            await asyncio.gather(active.task, return_exceptions=True)

    def _start_response(
        self, sess: FakeSession, params: dict[str, Any], *, trigger: str, delay: float
    ) -> None:
        out = (params.get("audio") or {}).get("output") or {}
        resp = _Response(
            id=self._new_id("resp"),
            trigger=trigger,
            params=copy.deepcopy(params),
            delay=delay,
            modalities=list(params.get("output_modalities") or sess.config["output_modalities"]),
            output_format=_check_format(out["format"], "x")
            if "format" in out
            else copy.deepcopy(sess.output_format),
            voice=out.get("voice", sess.config["audio"]["output"].get("voice")),
            in_conversation=params.get("conversation", "auto") != "none",
        )
        sess._active = resp
        resp.task = sess._spawn(self._run_response(sess, resp))

    async def _pause(self, resp: _Response, seconds: float) -> bool:
        """Sleep unless the response is cancelled first; True when it was cancelled."""
        if seconds <= 0:
            await asyncio.sleep(0)
        else:
            try:
                await asyncio.wait_for(resp.cancel_event.wait(), seconds)
            except TimeoutError:
                pass
        return resp.cancel_reason is not None

    def _turn(self, sess: FakeSession, resp: _Response) -> Turn:
        user_text = None
        for item in reversed(sess.items):
            if item.get("type") == "message" and item.get("role") == "user":
                user_text = sess._item_text(item)
                break
        tool_output = tool_name = None
        if sess._outputs_since_response:
            output_item = sess.item(sess._outputs_since_response[-1])
            if output_item is not None:
                tool_output = output_item.get("output")
                call_id = output_item.get("call_id")
                for item in sess.items:
                    if item.get("type") == "function_call" and item.get("call_id") == call_id:
                        tool_name = item.get("name")
        turn = Turn(
            index=sess._response_count,
            trigger=resp.trigger,
            user_text=user_text,
            tool_output=tool_output,
            tool_name=tool_name,
            items=copy.deepcopy(sess.items),
            session=copy.deepcopy(sess.config),
            response=copy.deepcopy(resp.params),
            instructions=resp.params.get("instructions", sess.config.get("instructions")),
        )
        sess._response_count += 1
        sess._outputs_since_response.clear()
        return turn

    def _response_object(
        self,
        sess: FakeSession,
        resp: _Response,
        status: str,
        details: dict[str, Any] | None,
        usage: dict[str, Any] | None,
    ) -> dict:
        return {
            "object": "realtime.response",
            "id": resp.id,
            "status": status,
            "status_details": details,
            "output": copy.deepcopy(resp.output),
            "conversation_id": sess.conversation_id if resp.in_conversation else None,
            "output_modalities": list(resp.modalities),
            "max_output_tokens": resp.params.get(
                "max_output_tokens", sess.config.get("max_output_tokens", "inf")
            ),
            "audio": {"output": {"format": copy.deepcopy(resp.output_format), "voice": resp.voice}},
            "usage": usage,
            "metadata": resp.params.get("metadata"),
        }

    async def _run_response(self, sess: FakeSession, resp: _Response) -> None:
        try:
            if resp.delay > 0:
                await self._pause(resp, resp.delay)
            if resp.cancel_reason == "turn_detected":
                return  # the caller spoke again before the model answered: no response
            failure: Fail | None = None
            actions: list[Action] = []
            if resp.cancel_reason is None:
                try:
                    actions = await self.model.decide(self._turn(sess, resp))
                except Exception as exc:  # a broken test brain: report it, fail the response
                    log.exception("FakeModel raised")
                    self.problems.append(f"FakeModel raised {exc!r}")
                    failure = Fail(f"FakeModel raised {exc!r}")
            resp.created = True
            await self._emit(
                sess,
                {
                    "type": "response.created",
                    "response": self._response_object(sess, resp, "in_progress", None, None),
                },
            )
            await self._emit(
                sess,
                {
                    "type": "rate_limits.updated",
                    "rate_limits": [
                        {
                            "name": "requests",
                            "limit": 5000,
                            "remaining": 4999,
                            "reset_seconds": 0.012,
                        },
                        {
                            "name": "tokens",
                            "limit": 40000,
                            "remaining": 39000,
                            "reset_seconds": 1.5,
                        },
                    ],
                },
            )
            for action in actions:
                if failure is not None or resp.cancel_reason is not None:
                    break
                if isinstance(action, Fail):
                    failure = action
                elif isinstance(action, Say):
                    await self._say(sess, resp, action)
                elif isinstance(action, ToolCall):
                    await self._tool_call(sess, resp, action)
            if resp.cancel_reason is not None:
                status = "cancelled"
                details: dict[str, Any] | None = {"type": "cancelled", "reason": resp.cancel_reason}
            elif failure is not None:
                status = "failed"
                details = {
                    "type": "failed",
                    "error": {
                        "type": "server_error",
                        "code": failure.code,
                        "message": failure.message,
                    },
                }
            else:
                status, details = "completed", None
            final = self._response_object(sess, resp, status, details, self._usage(sess, resp))
            sess.responses.append(final)
            await self._emit(sess, {"type": "response.done", "response": final})
        finally:
            resp.done = True
            if sess._active is resp:
                sess._active = None

    def _usage(self, sess: FakeSession, resp: _Response) -> dict[str, Any]:
        # Fake but consistent numbers: ~4 characters per text token, 10 audio tokens/s in,
        # 20 audio tokens/s out.
        text_in = len(sess.config.get("instructions") or "") // 4
        audio_in = 0
        for item in sess.items:
            meta = sess._meta.get(item["id"], {})
            if item.get("role") == "user" and "heard" in meta:
                audio_in += int(meta.get("audio_ms", 0) / 100)
            else:
                text_in += (
                    len(
                        json.dumps(
                            item.get("content") or item.get("output") or item.get("arguments") or ""
                        )
                    )
                    // 4
                )
        text_out = resp.text_chars // 4
        audio_out = int(resp.audio_ms / 50)
        return {
            "total_tokens": text_in + audio_in + text_out + audio_out,
            "input_tokens": text_in + audio_in,
            "output_tokens": text_out + audio_out,
            "input_token_details": {
                "text_tokens": text_in,
                "audio_tokens": audio_in,
                "image_tokens": 0,
                "cached_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }

    async def _add_output_item(
        self, sess: FakeSession, resp: _Response, item: dict[str, Any]
    ) -> tuple[int, str | None]:
        index = len(resp.output)
        resp.output.append(item)
        await self._emit(
            sess,
            {
                "type": "response.output_item.added",
                "response_id": resp.id,
                "output_index": index,
                "item": copy.deepcopy(item),
            },
        )
        previous = None
        if resp.in_conversation:
            previous = sess._last_item_id()
            sess.items.append(item)
            await self._emit(
                sess,
                {
                    "type": "conversation.item.added",
                    "previous_item_id": previous,
                    "item": copy.deepcopy(item),
                },
            )
        return index, previous

    async def _finish_output_item(
        self,
        sess: FakeSession,
        resp: _Response,
        index: int,
        previous: str | None,
        item: dict[str, Any],
    ) -> None:
        await self._emit(
            sess,
            {
                "type": "response.output_item.done",
                "response_id": resp.id,
                "output_index": index,
                "item": copy.deepcopy(item),
            },
        )
        if resp.in_conversation:
            await self._emit(
                sess,
                {
                    "type": "conversation.item.done",
                    "previous_item_id": previous,
                    "item": copy.deepcopy(item),
                },
            )

    async def _say(self, sess: FakeSession, resp: _Response, action: Say) -> None:
        item_id = self._new_id("item")
        item: dict[str, Any] = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        index, previous = await self._add_output_item(sess, resp, item)
        where = {
            "response_id": resp.id,
            "item_id": item_id,
            "output_index": index,
            "content_index": 0,
        }
        audio_mode = "audio" in resp.modalities
        words = re.findall(r"\s*\S+", action.text)
        speed = float(sess.config["audio"]["output"].get("speed") or 1.0)
        total_ms = (
            action.audio_ms
            if action.audio_ms is not None
            else max(1, len(words)) * self.model.ms_per_word / speed
        )
        word_starts = [n * total_ms / max(1, len(words)) for n in range(len(words))]
        sess._meta[item_id] = {
            "audio": b"",
            "audio_ms": 0.0,
            "words": list(zip(words, word_starts, strict=True)),
        }
        said: list[str] = []
        if audio_mode:
            await self._emit(
                sess,
                {
                    "type": "response.content_part.added",
                    **where,
                    "part": {"type": "audio", "transcript": ""},
                },
            )
            fmt = resp.output_format["type"]
            per_ms = bytes_per_ms(fmt)
            audio = tone(total_ms, fmt)
            step = self.chunk_ms * per_ms
            for offset in range(0, len(audio), step):
                if resp.cancel_reason is not None:
                    break
                chunk = audio[offset : offset + step]
                await self._emit(
                    sess,
                    {
                        "type": "response.output_audio.delta",
                        **where,
                        "delta": base64.b64encode(chunk).decode(),
                    },
                )
                sess._audio_out_sent = True
                meta = sess._meta[item_id]
                meta["audio"] += chunk
                meta["audio_ms"] += len(chunk) / per_ms
                resp.audio_ms += len(chunk) / per_ms
                chunk_end_ms = (offset + len(chunk)) / per_ms
                while len(said) < len(words) and word_starts[len(said)] < chunk_end_ms:
                    word = words[len(said)]
                    said.append(word)
                    await self._emit(
                        sess,
                        {"type": "response.output_audio_transcript.delta", **where, "delta": word},
                    )
                if await self._pause(resp, self._chunk_pause(len(chunk) / per_ms)):
                    break
            if resp.cancel_reason is None:
                for word in words[len(said) :]:
                    said.append(word)
                    await self._emit(
                        sess,
                        {"type": "response.output_audio_transcript.delta", **where, "delta": word},
                    )
            transcript = "".join(said)
            if resp.cancel_reason is None:
                transcript = action.text
            resp.text_chars += len(transcript)
            await self._emit(sess, {"type": "response.output_audio.done", **where})
            await self._emit(
                sess,
                {
                    "type": "response.output_audio_transcript.done",
                    **where,
                    "transcript": transcript,
                },
            )
            await self._emit(
                sess,
                {
                    "type": "response.content_part.done",
                    **where,
                    "part": {"type": "audio", "transcript": transcript},
                },
            )
            item["content"] = [{"type": "output_audio", "transcript": transcript}]
        else:
            await self._emit(
                sess,
                {
                    "type": "response.content_part.added",
                    **where,
                    "part": {"type": "text", "text": ""},
                },
            )
            per_word_ms = total_ms / max(1, len(words))
            for word in words:
                if resp.cancel_reason is not None:
                    break
                said.append(word)
                await self._emit(
                    sess, {"type": "response.output_text.delta", **where, "delta": word}
                )
                if await self._pause(resp, self._chunk_pause(per_word_ms)):
                    break
            text = action.text if resp.cancel_reason is None else "".join(said)
            resp.text_chars += len(text)
            await self._emit(sess, {"type": "response.output_text.done", **where, "text": text})
            await self._emit(
                sess,
                {
                    "type": "response.content_part.done",
                    **where,
                    "part": {"type": "text", "text": text},
                },
            )
            item["content"] = [{"type": "output_text", "text": text}]
        item["status"] = "incomplete" if resp.cancel_reason is not None else "completed"
        await self._finish_output_item(sess, resp, index, previous, item)

    def _chunk_pause(self, ms: float) -> float:
        if self.audio_speedup <= 0 or self.audio_speedup == float("inf"):
            return 0.0
        return ms / self.audio_speedup / 1000

    async def _tool_call(self, sess: FakeSession, resp: _Response, action: ToolCall) -> None:
        tools = resp.params.get("tools", sess.config.get("tools")) or []
        names = {t.get("name") for t in tools if isinstance(t, dict)}
        if action.name not in names:
            self.problems.append(
                f"scripted ToolCall {action.name!r} but the session declares tools {sorted(names)}"
            )
        item_id = self._new_id("item")
        call_id = action.call_id or self._new_id("call", 16)
        arguments = action.arguments_json
        item: dict[str, Any] = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": action.name,
            "call_id": call_id,
            "arguments": "",
        }
        index, previous = await self._add_output_item(sess, resp, item)
        where = {
            "response_id": resp.id,
            "item_id": item_id,
            "output_index": index,
            "call_id": call_id,
        }
        for start in range(0, len(arguments), 16):
            await self._emit(
                sess,
                {
                    "type": "response.function_call_arguments.delta",
                    **where,
                    "delta": arguments[start : start + 16],
                },
            )
        await self._emit(
            sess,
            {
                "type": "response.function_call_arguments.done",
                **where,
                "name": action.name,
                "arguments": arguments,
            },
        )
        resp.text_chars += len(arguments)
        item["arguments"] = arguments
        item["status"] = "completed"
        await self._finish_output_item(sess, resp, index, previous, item)

    _HANDLERS: ClassVar[dict[str, Callable[..., Any]]] = {
        "session.update": _session_update,
        "input_audio_buffer.append": _append,
        "input_audio_buffer.commit": _commit_event,
        "input_audio_buffer.clear": _clear,
        "output_audio_buffer.clear": _output_buffer_clear,
        "conversation.item.create": _item_create,
        "conversation.item.truncate": _item_truncate,
        "conversation.item.delete": _item_delete,
        "conversation.item.retrieve": _item_retrieve,
        "response.create": _response_create,
        "response.cancel": _response_cancel,
    }


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------


def _error_event(
    type: str, code: str | None, message: str, param: str | None, event_id: str | None
) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {
            "type": type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id,
        },
    }


def _http_error(message: str, code: str) -> str:
    return json.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "code": code,
                "param": None,
            }
        }
    )


def _check_format(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict) or value.get("type") not in _RATE:
        raise _ClientError(
            "invalid_value",
            f"Invalid value for '{param}'. Supported types are: 'audio/pcm', 'audio/pcmu' "
            "and 'audio/pcma'.",
            f"{param}.type",
        )
    if value["type"] == PCM:
        rate = value.get("rate", 24000)
        if rate != 24000:
            raise _ClientError(
                "invalid_value",
                f"Invalid '{param}.rate': audio/pcm supports 24000 only.",
                f"{param}.rate",
            )
        return {"type": PCM, "rate": 24000}
    return {"type": value["type"]}


def _check_transcription(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _ClientError("invalid_type", f"Invalid type for '{param}'.", param)
    for key in value:
        if key not in _TRANSCRIPTION_KEYS:
            raise _ClientError(
                "unknown_parameter", f"Unknown parameter: '{param}.{key}'.", f"{param}.{key}"
            )
    return {"model": "whisper-1", "language": None, "prompt": None, **copy.deepcopy(value)}


def _check_modalities(value: Any, param: str) -> list[str]:
    if value not in (["audio"], ["text"]):
        raise _ClientError(
            "invalid_value",
            f"Invalid '{param}': expected ['audio'] or ['text'] (one modality).",
            param,
        )
    return list(value)


def _check_tools(value: Any, param: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _ClientError("invalid_type", f"Invalid type for '{param}': expected an array.", param)
    for n, tool in enumerate(value):
        if not isinstance(tool, dict) or tool.get("type") not in ("function", "mcp"):
            raise _ClientError(
                "invalid_value", f"Invalid '{param}[{n}].type'.", f"{param}[{n}].type"
            )
        if tool["type"] == "function" and not isinstance(tool.get("name"), str):
            raise _ClientError(
                "missing_required_parameter",
                f"Missing required parameter: '{param}[{n}].name'.",
                f"{param}[{n}].name",
            )
    return copy.deepcopy(value)


def _check_tool_choice(value: Any, param: str) -> Any:
    if value in ("auto", "none", "required"):
        return value
    if isinstance(value, dict) and value.get("type") in ("function", "mcp"):
        return copy.deepcopy(value)
    raise _ClientError("invalid_value", f"Invalid value for '{param}'.", param)


def _check_max_tokens(value: Any, param: str) -> Any:
    if value == "inf" or (isinstance(value, int) and 1 <= value <= 4096):
        return value
    raise _ClientError(
        "invalid_value", f"Invalid '{param}': expected an integer from 1 to 4096 or 'inf'.", param
    )


_CONTENT_TYPES = {
    "user": {"input_text", "input_audio", "input_image"},
    "system": {"input_text"},
    "assistant": {"output_text", "output_audio"},
}


def _check_item(item: dict[str, Any]) -> dict[str, Any]:
    kind = item.get("type")
    if kind == "message":
        role = item.get("role")
        if role not in _CONTENT_TYPES:
            raise _ClientError(
                "invalid_value",
                f"Invalid value: '{role}'. Supported values are: 'user', 'system' and 'assistant'.",
                "item.role",
            )
        content = item.get("content")
        if not isinstance(content, list) or not content:
            raise _ClientError(
                "missing_required_parameter",
                "Missing required parameter: 'item.content'.",
                "item.content",
            )
        for n, part in enumerate(content):
            ctype = part.get("type") if isinstance(part, dict) else None
            if ctype not in _CONTENT_TYPES[role]:
                raise _ClientError(
                    "invalid_value",
                    f"Invalid value: '{ctype}'. Supported values for a {role} message are: "
                    + ", ".join(f"'{t}'" for t in sorted(_CONTENT_TYPES[role]))
                    + ".",
                    f"item.content[{n}].type",
                )
    elif kind == "function_call_output":
        if not isinstance(item.get("call_id"), str):
            raise _ClientError(
                "missing_required_parameter",
                "Missing required parameter: 'item.call_id'.",
                "item.call_id",
            )
        if not isinstance(item.get("output"), str):
            raise _ClientError(
                "invalid_type", "Invalid type for 'item.output': expected a string.", "item.output"
            )
    elif kind == "function_call":
        for key in ("name", "call_id", "arguments"):
            if not isinstance(item.get(key), str):
                raise _ClientError(
                    "missing_required_parameter",
                    f"Missing required parameter: 'item.{key}'.",
                    f"item.{key}",
                )
    else:
        raise _ClientError(
            "invalid_value",
            f"Invalid value: '{kind}'. Supported values are: 'message', 'function_call' and "
            "'function_call_output'.",
            "item.type",
        )
    return copy.deepcopy(item)
