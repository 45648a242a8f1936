"""A fake Gemini Live API: a local WebSocket server speaking ``BidiGenerateContent`` with a scripted model.

The wire format is what the ``google-genai`` SDK (2.34) writes and reads:
client messages as ``AsyncLive.connect`` / ``AsyncSession.send_*`` build them
(``google/genai/live.py``, ``google/genai/_live_converters.py``: ``setup``
first, then ``realtimeInput``, ``clientContent``, ``toolResponse``,
``contextUpdate``; the SDK writes some keys in snake_case, such as
``realtime_input``, and the API's JSON accepts both spellings, so the fake
does too), server messages as ``_LiveServerMessage_from_mldev`` and
``types.LiveServerMessage`` read them (``setupComplete``, ``serverContent``
with ``modelTurn.parts[].inlineData`` ``audio/pcm;rate=24000``,
``inputTranscription``/``outputTranscription``, ``generationComplete``,
``turnComplete``, ``interrupted``; ``toolCall.functionCalls[{id, name,
args}]``, ``toolCallCancellation.ids``, ``goAway.timeLeft``). Field meanings
are the SDK's docstrings (``types.LiveServerContent``): an interrupted turn
goes ``interrupted`` > ``turnComplete``, without ``generationComplete``.

Like :mod:`agent.testing.fake_realtime`, the fake cannot recognise speech: a
test queues what the caller "says" (``server.caller_said("...")``) before
sending the audio; an energy VAD finds the turn in the audio and the queued
line becomes its ``inputTranscription``.

The model is :mod:`agent.testing.fake_realtime`'s scripted :class:`FakeModel`
(``Say``/``ToolCall``/``Fail`` actions, ``caller_said``), so one script runs
on either fake. Example::

    model = FakeModel([
        Say("On-call hotline, what is wrong?"),                       # answers the greeting (realtime text)
        ToolCall("route_call", {"intent": "talk_to_human", "summary": "wants a person"}),
        Say("Putting you through."),                                   # after the tool response
    ])
    async with FakeGeminiLiveServer(model) as server:
        client = ...(base_url=server.url, api_key="k")                # ws://127.0.0.1:PORT
        ...
        await server.wait_for("toolResponse")
    assert server.session.setup["model"] == "models/gemini-3.8-live"

Public API
----------
- ``FakeGeminiLiveServer(model=None, *, api_version="v1beta", reply_delay_ms=150,
  audio_speedup=5.0, chunk_ms=40)``; ``async with`` starts and stops it.
- ``url``: the base URL (``ws://127.0.0.1:PORT``); ``path``: the
  ``/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent`` it serves.
- ``caller_said(*lines)``; ``received`` (every client message, keys as sent)
  and ``sent``; ``sessions`` / ``session`` (:class:`FakeGeminiSession`);
  ``handshakes`` (``(path, headers, status)``).
- ``await wait_for(kind, count=1, timeout=5)``: until that many client messages
  of ``kind`` arrived (``setup``, ``realtimeInput``, ``realtimeInput.audio``,
  ``realtimeInput.text``, ``clientContent``, ``toolResponse``, ``contextUpdate``).
- ``problems``: what a real server or model would not accept (no ``setup``
  first, a ``toolResponse`` for an unknown call id, a function the setup did
  not declare, two fields in one ``realtimeInput``). Assert it is empty.

Fault injection: ``refuse_connections(status=403, *, times=None)``,
``close_after_setup(code, reason)`` (what the API does with a setup it
refuses: a close frame instead of ``setupComplete``), ``await drop(code=None,
reason="")`` (abort, or close with a code), ``await go_away(time_left="30s")``,
``stall()`` / ``resume()``, ``await send_raw(text)``.

Scripted model: one :class:`FakeModel` entry per model turn, and one per
continuation after a ``toolResponse``. ``Say(text, audio_ms=None)``: output
transcription and 24 kHz audio (``ms_per_word`` per word); ``ToolCall(name,
arguments, call_id=None)``: a ``toolCall`` (several in one entry: one message),
the turn waits for every answer; ``Fail(message)``: the session closes with
code 1011 (how the Live API ends a session on an error: the SDK raises
``APIError`` from the close frame, ``live.py`` ``_receive``). The callable
gets a :class:`Turn` with ``trigger`` ``"turn"`` (the caller spoke or typed:
``user_text``) or ``"tool_response"`` (``tool_name``, ``tool_output``: the
answer as JSON), ``session`` (the setup) and ``instructions``. ``spoken``: the
lines the model said, in order (every session).

Not modelled: session resumption, context window compression, usage
metadata, video, manual activity (``activityStart``/``End``), thinking.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections import deque
from typing import Any

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from agent.testing.fake_realtime import Fail, FakeModel, Say, ToolCall, Turn
from agent.testing.ws_server import LocalWebSocketServer

__all__ = ["FakeGeminiLiveServer", "FakeGeminiSession", "pcm_tone"]

OUTPUT_RATE = 24000  # Live API output audio: PCM16 at 24 kHz
SPEECH_RMS = 650  # 10 ms frames louder than this (int16 RMS, ~0.02 of full scale) are speech
DEFAULT_SILENCE_MS = 500
TRANSCRIBE_AFTER_MS = 200  # speech before the first words of its transcription are sent
# The API's JSON accepts a field's proto name and its lowerCamelCase; the SDK writes both (live.py).
_CAMEL = {"realtime_input": "realtimeInput", "client_content": "clientContent", "tool_response": "toolResponse",
          "context_update": "contextUpdate", "mime_type": "mimeType", "turn_complete": "turnComplete",
          "function_responses": "functionResponses", "system_instruction": "systemInstruction"}


def _get(obj: dict[str, Any], name: str) -> Any:
    """A field by its camelCase name or its snake_case one."""
    if name in obj:
        return obj[name]
    snake = next((k for k, v in _CAMEL.items() if v == name), None)
    return obj.get(snake) if snake else None


def pcm_tone(ms: float, rate: int = OUTPUT_RATE, freq: float = 440.0, amplitude: float = 0.3) -> bytes:
    """PCM16LE bytes of a sine: what the fake model "says"."""
    n = round(rate * ms / 1000)
    t = np.arange(n) / rate
    return (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


class FakeGeminiSession:
    """One connection: what the client set up and sent, what the fake answered."""

    def __init__(self, ws: ServerConnection) -> None:
        self._ws = ws
        self.headers: Headers = ws.request.headers if ws.request is not None else Headers()
        self.path = ws.request.path if ws.request is not None else ""
        self.setup: dict[str, Any] | None = None
        self.received: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.audio_mime_types: list[str] = []
        self.audio_ms = 0.0  # caller audio received, by its declared rate
        self.texts: list[str] = []
        self.client_contents: list[dict[str, Any]] = []
        self.tool_responses: list[dict[str, Any]] = []
        self.context_updates: list[dict[str, Any]] = []
        self.closed = False
        self.pending_calls: dict[str, str] = {}  # toolCall id -> name, not yet answered
        self._responses: list[dict[str, Any]] = []
        self._turn_task: asyncio.Task | None = None
        self._queued: deque[tuple[str, str]] = deque()  # (trigger, user text) waiting for the turn in progress
        self._speech = False
        self._speech_ms = 0.0
        self._quiet_ms = 0.0
        self._line = ""  # what the caller says in the current speech (queued with caller_said)
        self._line_sent = 0  # characters of it already transcribed

    @property
    def system_instruction(self) -> str:
        """The latest system instruction's text (setup, then context updates)."""
        texts = [self.setup.get("systemInstruction") if self.setup else None] + [_get(u, "systemInstruction") for u in self.context_updates]
        latest = next((t for t in reversed(texts) if t), None) or {}
        return "".join(p.get("text", "") for p in latest.get("parts", []))

    @property
    def declared(self) -> set[str]:
        """Names of the functions the setup declared."""
        tools = (self.setup or {}).get("tools") or []
        return {d.get("name") for t in tools for d in (t.get("functionDeclarations") or t.get("function_declarations") or [])}

    @property
    def responding(self) -> bool:
        return self._turn_task is not None and not self._turn_task.done()


class FakeGeminiLiveServer(LocalWebSocketServer[FakeGeminiSession]):
    """A local Gemini Live API with a scripted model; see the module doc."""

    def __init__(
        self, model: FakeModel | None = None, *, api_version: str = "v1beta",
        reply_delay_ms: int = 150, audio_speedup: float = 5.0, chunk_ms: int = 40,
    ) -> None:
        super().__init__()
        self.model = model if model is not None else FakeModel()
        self.spoken: list[str] = []
        self.path = f"/ws/google.ai.generativelanguage.{api_version}.GenerativeService.BidiGenerateContent"
        self.reply_delay_ms = reply_delay_ms
        self.audio_speedup = audio_speedup
        self.chunk_ms = chunk_ms
        self.received: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.handshakes: list[tuple[str, Headers, int]] = []
        self.problems: list[str] = []
        self._refuse: tuple[int, int | None] | None = None
        self._close_after_setup: tuple[int, str] | None = None
        self._stalled = False
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        """The Live API's base URL (``ws://127.0.0.1:<port>``); clients add the BidiGenerateContent path."""
        return self.root.replace("http://", "ws://", 1)

    # -- test helpers ---------------------------------------------------------
    def caller_said(self, *lines: str) -> None:
        self.model.caller_said(*lines)

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 5) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.received if _kind(m) == kind or _kind(m).split(".")[0] == kind]
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"received {len(found)} of {count} {kind!r} in {timeout}s; received: {[_kind(m) for m in self.received]}")
            await asyncio.sleep(0.005)

    # -- fault injection ------------------------------------------------------
    def refuse_connections(self, status: int = 403, *, times: int | None = None) -> None:
        self._refuse = (status, times)

    def close_after_setup(self, code: int = 1008, reason: str = "refused by test") -> None:
        self._close_after_setup = (code, reason)

    async def drop(self, code: int | None = None, reason: str = "") -> None:
        for sess in [s for s in self.sessions if not s.closed]:
            if code is None:
                if sess._ws.transport is not None:
                    sess._ws.transport.abort()
            else:
                await sess._ws.close(code, reason)

    async def go_away(self, time_left: str = "30s") -> None:
        """``goAway``: the server will close the session (``types.LiveServerGoAway.time_left``, a Duration)."""
        for sess in [s for s in self.sessions if not s.closed]:
            await self._emit(sess, {"goAway": {"timeLeft": time_left}})

    def stall(self) -> None:
        self._stalled = True

    def resume(self) -> None:
        self._stalled = False

    async def send_raw(self, text: str) -> None:
        for sess in [s for s in self.sessions if not s.closed]:
            try:
                await sess._ws.send(text)
            except ConnectionClosed:
                pass

    # -- plumbing -------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        status, response = 101, None
        if request.path.split("?")[0] != self.path:
            status = 404
            response = connection.respond(404, "Not Found\n")
        elif self._refuse is not None:
            status, times = self._refuse
            response = connection.respond(status, "Refused by test\n")
            if times is not None:
                self._refuse = (status, times - 1) if times > 1 else None
        self.handshakes.append((request.path, request.headers.copy(), status))
        return response

    async def _handle(self, ws: ServerConnection) -> None:
        sess = FakeGeminiSession(ws)
        self.sessions.append(sess)
        try:
            async for raw in ws:
                await self._on_message(sess, raw)
        except ConnectionClosed:
            pass
        finally:
            sess.closed = True
            if sess._turn_task is not None:
                sess._turn_task.cancel()
                await asyncio.gather(sess._turn_task, return_exceptions=True)

    async def _emit(self, sess: FakeGeminiSession, message: dict[str, Any]) -> None:
        if sess.closed or self._stalled:
            return
        sess.sent.append(message)
        self.sent.append(message)
        try:
            await sess._ws.send(json.dumps(message))
        except ConnectionClosed:
            sess.closed = True

    async def _on_message(self, sess: FakeGeminiSession, raw: str | bytes) -> None:
        message = json.loads(raw)
        sess.received.append(message)
        self.received.append(message)
        if sess.setup is None:
            if "setup" not in message:
                self.problems.append(f"the first message was not setup but {list(message)}")
                await sess._ws.close(1007, "setup must be the first message")
                return
            sess.setup = message["setup"]
            if self._close_after_setup is not None:
                await sess._ws.close(*self._close_after_setup)
                return
            await self._emit(sess, {"setupComplete": {}})
            return
        if "setup" in message:
            self.problems.append("a second setup message")
        if (realtime := _get(message, "realtimeInput")) is not None:
            await self._realtime_input(sess, realtime)
        if (content := _get(message, "clientContent")) is not None:
            sess.client_contents.append(content)
            if _get(content, "turnComplete"):
                self._start_turn(sess, "client_content", "")
        if (response := _get(message, "toolResponse")) is not None:
            await self._tool_response(sess, response)
        if (update := _get(message, "contextUpdate")) is not None:
            sess.context_updates.append(update)

    async def _realtime_input(self, sess: FakeGeminiSession, realtime: dict[str, Any]) -> None:
        if len(realtime) != 1:  # AsyncSession.send_realtime_input: "Only one argument can be set"
            self.problems.append(f"realtimeInput with {len(realtime)} fields: {sorted(realtime)}")
        if (text := realtime.get("text")) is not None:
            sess.texts.append(text)
            self._start_turn(sess, "text", text)
        if (audio := realtime.get("audio")) is not None:
            mime = str(_get(audio, "mimeType") or "")
            sess.audio_mime_types.append(mime)
            kind, _, rate = mime.partition(";rate=")
            if kind != "audio/pcm" or not rate.isdigit():
                self.problems.append(f"audio as {mime!r}, not audio/pcm;rate=<hz>")
                return
            # bytes in the API's JSON: standard or URL-safe base64 (the SDK writes URL-safe: _common.encode_unserializable_types)
            await self._listen(sess, np.frombuffer(base64.b64decode(audio["data"], altchars=b"-_"), dtype="<i2"), int(rate))

    async def _listen(self, sess: FakeGeminiSession, samples: np.ndarray, rate: int) -> None:
        """The server's VAD: speech over the model interrupts it; enough silence after speech ends the caller's turn."""
        frame = rate // 100
        silence_ms = (((sess.setup or {}).get("realtimeInputConfig") or {}).get("automaticActivityDetection") or {}).get("silenceDurationMs") or DEFAULT_SILENCE_MS
        for start in range(0, len(samples), frame):
            chunk = samples[start:start + frame].astype(np.float64)
            sess.audio_ms += 1000 * len(chunk) / rate
            loud = chunk.size > 0 and float(np.sqrt(np.mean(chunk * chunk))) > SPEECH_RMS
            if loud:
                sess._quiet_ms = 0.0
                if not sess._speech:
                    sess._speech, sess._speech_ms, sess._line, sess._line_sent = True, 0.0, self.model.next_heard(), 0
                    if sess.responding:
                        await self._interrupt(sess)
                sess._speech_ms += 10
                if sess._speech_ms >= TRANSCRIBE_AFTER_MS and sess._line_sent == 0 and sess._line:
                    # Transcription streams while the caller speaks (a word or a few per message).
                    first = sess._line.split(" ", 1)[0]
                    sess._line_sent = len(first)
                    await self._emit(sess, {"serverContent": {"inputTranscription": {"text": first}}})
            elif sess._speech:
                sess._quiet_ms += 10
                if sess._quiet_ms >= silence_ms:
                    sess._speech = False
                    rest = sess._line[sess._line_sent:]
                    if rest:
                        await self._emit(sess, {"serverContent": {"inputTranscription": {"text": rest}}})
                    self._start_turn(sess, "audio", sess._line)

    async def _interrupt(self, sess: FakeGeminiSession) -> None:
        task, sess._turn_task = sess._turn_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if sess.pending_calls:  # "the client should not send responses for these" (toolCallCancellation)
            ids, sess.pending_calls = list(sess.pending_calls), {}
            await self._emit(sess, {"toolCallCancellation": {"ids": ids}})
        await self._emit(sess, {"serverContent": {"interrupted": True}})
        await self._emit(sess, {"serverContent": {"turnComplete": True}})

    async def _tool_response(self, sess: FakeGeminiSession, response: dict[str, Any]) -> None:
        answers = _get(response, "functionResponses") or []
        for answer in answers:
            sess.tool_responses.append(answer)
            if sess.pending_calls.pop(str(answer.get("id")), None) is None:
                self.problems.append(f"toolResponse for unknown call id {answer.get('id')!r}")
        sess._responses.extend(answers)
        if answers and not sess.pending_calls and not sess.responding:
            self._start_turn(sess, "tool_response", "")

    def _start_turn(self, sess: FakeGeminiSession, trigger: str, user_text: str) -> None:
        if self._stalled:
            return
        if sess.responding:
            sess._queued.append((trigger, user_text))
            return
        sess._turn_task = asyncio.create_task(self._turn(sess, trigger, user_text))

    async def _turn(self, sess: FakeGeminiSession, trigger: str, user_text: str) -> None:
        await asyncio.sleep(self.reply_delay_ms / 1000)
        answers, sess._responses = sess._responses, []
        answer = answers[-1] if answers else {}
        response = answer.get("response") or {}
        turn = Turn(
            index=len(self.model.turns), trigger="tool_response" if trigger == "tool_response" else "turn",
            user_text=user_text or None, tool_output=json.dumps(response.get("output", response)) if answers else None,
            tool_name=answer.get("name"), items=[], session=sess.setup or {}, response={}, instructions=sess.system_instruction,
        )
        actions = await self.model.decide(turn)
        calls = []
        for action in actions:
            if isinstance(action, Say):
                await self._say(sess, action)
            elif isinstance(action, ToolCall):
                calls.append(action)
            elif isinstance(action, Fail):
                await sess._ws.close(1011, action.message[:120])
                return
        if calls:
            functions = []
            for call in calls:
                if call.name not in sess.declared:
                    self.problems.append(f"the script calls {call.name!r}, which the setup did not declare")
                call_id = call.call_id or f"function-call-{next(self._ids)}"
                sess.pending_calls[call_id] = call.name
                arguments = json.loads(call.arguments) if isinstance(call.arguments, str) else call.arguments
                functions.append({"id": call_id, "name": call.name, "args": arguments})
            await self._emit(sess, {"toolCall": {"functionCalls": functions}})
            return  # the turn goes on after the tool response
        await self._emit(sess, {"serverContent": {"generationComplete": True}})
        await self._emit(sess, {"serverContent": {"turnComplete": True}})
        sess._turn_task = None
        if sess._queued:
            self._start_turn(sess, *sess._queued.popleft())

    async def _say(self, sess: FakeGeminiSession, action: Say) -> None:
        self.spoken.append(action.text)
        words = action.text.split()
        total_ms = action.audio_ms if action.audio_ms is not None else max(1, len(words)) * self.model.ms_per_word
        chunks = max(1, round(total_ms / self.chunk_ms))
        per_chunk = [words[i * len(words) // chunks:(i + 1) * len(words) // chunks] for i in range(chunks)]
        pcm = pcm_tone(total_ms)
        step = len(pcm) // 2 // chunks * 2
        for i in range(chunks):
            if per_chunk[i]:
                text = " ".join(per_chunk[i]) + ("" if i == chunks - 1 else " ")
                await self._emit(sess, {"serverContent": {"outputTranscription": {"text": text}}})
            audio = base64.b64encode(pcm[i * step:(i + 1) * step if i < chunks - 1 else len(pcm)]).decode()
            await self._emit(sess, {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": f"audio/pcm;rate={OUTPUT_RATE}", "data": audio}}]}}})
            await asyncio.sleep(total_ms / chunks / 1000 / self.audio_speedup)


def _kind(message: dict[str, Any]) -> str:
    """``setup``, ``realtimeInput.audio``, ``toolResponse``, ...: what a client message is."""
    for key in message:
        name = _CAMEL.get(key, key)
        if name == "realtimeInput" and isinstance(message[key], dict) and message[key]:
            return f"realtimeInput.{next(iter(message[key]))}"
        return name
    return ""

