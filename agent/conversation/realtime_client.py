"""The one OpenAI Realtime (GA) client of the project: a session's socket, its events, what to tell the model.

Both users of the realtime model go through here: the live call's model
processor (:mod:`agent.media.processors.realtime`, audio) and the text engine
(:mod:`agent.conversation.engines.realtime_text`, ``voice-agent simulate
--engine openai``). Nothing here knows about Pipecat or audio frames.

* :class:`RealtimeEndpoint`: where a session connects and how it
  authenticates, in OpenAI's dialect (``Authorization: Bearer`` on
  ``{base}/realtime?model=...``, also any OpenAI-compatible server by base
  URL) or Azure OpenAI's (``api-key`` on
  ``{endpoint}/openai/v1/realtime?model=<deployment>``).
* :class:`RealtimeConnection`: one WebSocket session, opened on an endpoint
  (how the ``openai`` SDK connects, with the same options: no size limit, no
  compression, no cross-origin redirects). We write the socket ourselves
  instead of through the SDK's connection: its send path (a send queue for
  reconnects, locks, task look-ups) costs more than the write itself at 50
  audio appends a second per call, and we never reconnect (a lost model is a
  fail-over to the deterministic mode). Events stay plain JSON; the SDK's
  typed models are the contract the tests check them against.
* :class:`EventDecoder`: server events as dicts, tolerant: an oversized,
  malformed or unknown event is counted and skipped, never raised; the many
  events nobody needs (transcript deltas, ...) are not even parsed.
* :class:`RealtimeConfig`: the session of a live call (``audio/pcmu`` both ways).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from loguru import logger

from agent.core.http_client import ssl_context

# Fixed lines are spoken in the conversation's language, which may not be the flow's.
SAY_LEAD = "Say this to the caller, in the language you are speaking with them: "
BENIGN_ERRORS = frozenset({
    "conversation_already_has_active_response",
    "response_cancel_not_active",
    "input_audio_buffer_commit_empty",
})
# Server events of the GA protocol a live call does not need (protocols.md); any other unhandled type is
# new to us and logged once per session.
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
# An audio delta is a few KB; a larger event is skipped unparsed.
MAX_EVENT_BYTES = 1024 * 1024
MAX_BAD_EVENTS = 20
_LEADING_TYPE = re.compile(rb'\s*\{\s*"type"\s*:\s*"([a-z_.]{1,80})"')


def websocket_url(url: str, model: str) -> str:
    """``wss://host/v1/realtime?model=...`` from the configured URL (with or without ``/realtime``)."""
    base = url.rstrip("/").removesuffix("/realtime")
    return f"{base}/realtime?model={quote(model, safe='')}"


@dataclass(frozen=True)
class RealtimeEndpoint:
    """Where a realtime session connects (the whole WebSocket URL, query included) and the headers that authenticate it."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def openai(cls, url: str, model: str, api_key: str) -> RealtimeEndpoint:
        """OpenAI's dialect, also any OpenAI-compatible server: ``{base}/realtime?model=...``, ``Authorization: Bearer``.

        No key, no header (a self-hosted server may need none). As the SDK's
        ``AsyncRealtime._connect_ws`` (openai/resources/realtime/realtime.py) builds it.
        """
        return cls(websocket_url(url, model), {"Authorization": f"Bearer {api_key}"} if api_key else {})

    @classmethod
    def azure(cls, endpoint: str, deployment: str, api_key: str, api_version: str | None = None) -> RealtimeEndpoint:
        """Azure OpenAI's dialect: the key in an ``api-key`` header, the deployment in the query.

        GA (no ``api_version``): ``wss://<resource>.openai.azure.com/openai/v1/realtime?model=<deployment>``
        (https://learn.microsoft.com/azure/ai-foundry/openai/how-to/realtime-audio-websockets; Pipecat's
        ``AzureRealtimeLLMService``, pipecat/services/azure/realtime/llm.py). Preview (``api_version``):
        ``wss://<resource>.openai.azure.com/openai/realtime?api-version=<v>&deployment=<deployment>``, as the
        ``openai`` SDK's ``AsyncAzureOpenAI._configure_realtime`` builds it (openai/lib/azure.py: base URL
        ``{azure_endpoint}/openai``, then ``/realtime`` with ``api-version`` and ``deployment``, header ``api-key``).
        """
        base = endpoint.rstrip("/")
        scheme, sep, rest = base.partition("://")
        base = {"https": "wss", "http": "ws"}.get(scheme.lower(), scheme) + sep + rest
        if api_version:
            url = f"{base}/openai/realtime?" + urlencode({"api-version": api_version, "deployment": deployment})
        else:
            url = f"{base}/openai/v1/realtime?" + urlencode({"model": deployment})
        return cls(url, {"api-key": api_key} if api_key else {})


def prepare_realtime(url: str, api_key: str = "") -> None:
    """At start-up: the TLS context and the WebSocket client's modules, so no call pays for them on the event loop."""
    import websockets.asyncio.client  # noqa: F401

    if url.startswith("wss://"):
        ssl_context()


class RealtimeConnection:
    """One session with the realtime model: send client events, receive server events (raw), close.

    ``await RealtimeConnection.open(endpoint)``; every method may raise when
    the socket is gone (the caller decides what that means).
    """

    def __init__(self, socket: Any) -> None:
        self._socket = socket

    @classmethod
    async def open(cls, endpoint: RealtimeEndpoint) -> RealtimeConnection:
        from websockets.asyncio.client import connect
        from websockets.exceptions import SecurityError
        from websockets.uri import parse_uri

        class _SameOrigin(connect):
            """The API key never follows a redirect to another origin."""

            def process_redirect(self, exc: Exception) -> Exception | str:
                target = super().process_redirect(exc)
                if isinstance(target, str):
                    here, there = parse_uri(self.uri), parse_uri(target)
                    if (here.secure, here.host, here.port) != (there.secure, there.host, there.port):
                        return SecurityError("cross-origin WebSocket redirects are not allowed")
                return target

        address = endpoint.url
        options: dict[str, Any] = {"ssl": ssl_context()} if address.startswith("wss://") else {}
        socket = await _SameOrigin(
            address, additional_headers=endpoint.headers, user_agent_header=None,
            max_size=None, compression=None, **options,
        )
        return cls(socket)

    async def send(self, event: dict[str, Any]) -> None:
        """One client event."""
        await self._socket.send(json.dumps(event))

    async def send_text(self, text: str) -> None:
        """One client event, already JSON (the hot path builds its text by hand)."""
        await self._socket.send(text)

    async def append_audio(self, payload: str) -> None:
        """``input_audio_buffer.append`` of base64 audio in the session's input format."""
        await self._socket.send('{"type":"input_audio_buffer.append","audio":"' + payload + '"}')

    async def recv(self) -> bytes:
        """The next server event, as the bytes that came."""
        return await self._socket.recv(decode=False)

    async def close(self) -> None:
        """Close the session; a socket already gone is fine."""
        try:
            await self._socket.close()
        except Exception:  # noqa: BLE001 - already closed or broken: nothing left to do
            pass


class BadEvent(ValueError):
    """A server event that cannot be used (oversized, not JSON, no type)."""


class EventDecoder:
    """Server events as dicts: only the ``wanted`` types are parsed; the rest are skipped (``None``).

    Oversized or malformed events raise :class:`BadEvent`; :meth:`bad` counts
    them (with handler failures) and says when a session sends only garbage.
    """

    def __init__(self, wanted: Iterable[str], *, ignored: Iterable[str] | None = IGNORED_EVENTS) -> None:
        """``ignored``: types skipped unparsed and quietly; None: every other type is skipped quietly."""
        self.wanted = frozenset(wanted)
        self._quiet = ignored is None
        self.ignored = frozenset(ignored or ()) - self.wanted
        self._ignored_bytes = frozenset(kind.encode() for kind in self.ignored)
        self.bad_events = 0
        self._unknown: set[str] = set()

    def decode(self, raw: str | bytes) -> dict[str, Any] | None:
        if len(raw) > MAX_EVENT_BYTES:
            raise BadEvent(f"oversized event ({len(raw)} bytes)")
        leading = _LEADING_TYPE.match(raw if isinstance(raw, bytes) else raw.encode()[:96])
        if leading is not None and leading.group(1) in self._ignored_bytes:
            return None  # most events are transcript deltas and the like: not even parsed
        try:
            event = json.loads(raw)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise BadEvent("not a JSON event") from None
        kind = event.get("type") if isinstance(event, dict) else None
        if not isinstance(kind, str):
            raise BadEvent("not a JSON event")
        if kind in self.wanted:
            return event
        if not self._quiet and kind not in self.ignored and kind not in self._unknown and len(self._unknown) < 50:
            self._unknown.add(kind)
            logger.info("ignoring realtime event type {!r}, new to this agent", kind[:80])
        return None

    def bad(self, why: str) -> bool:
        """Count a bad event; True once there were more than ``MAX_BAD_EVENTS``: the model sends garbage."""
        self.bad_events += 1
        logger.warning("skipped a realtime event: {}", why)
        return self.bad_events > MAX_BAD_EVENTS


def error_code(event: dict[str, Any]) -> str:
    """The code (or type) of an ``error`` event."""
    error = event.get("error") or {}
    return str(error.get("code") or error.get("type") or "unknown")


@dataclass
class RealtimeConfig:
    """How to reach the model and what to tell it, for a live call (audio both ways as 8 kHz mu-law)."""

    endpoint: RealtimeEndpoint
    model: str  # the session's model (Azure: the deployment)
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

    def greet(self) -> dict[str, Any]:
        """The ``response.create`` of the greeting."""
        return {"type": "response.create", "response": {"instructions": f"Greet the caller with exactly these words: {self.greeting}"}}


def say_exactly(text: str) -> dict[str, Any]:
    """The ``response.create`` that has the model say a fixed line."""
    return {"type": "response.create", "response": {"instructions": f"{SAY_LEAD}{text}"}}


def tool_output(call_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    """The ``conversation.item.create`` carrying a tool's answer."""
    return {"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": call_id, "output": json.dumps(result)}}


def user_text(text: str) -> dict[str, Any]:
    """The ``conversation.item.create`` of something the caller said or typed, as text."""
    return {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}
