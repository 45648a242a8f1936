"""A fake of OpenAI's HTTP audio and chat API: a local server with a scripted "model", for cascade tests.

``FakeOpenAIHttp`` listens on ``http://127.0.0.1:PORT/v1`` (aiohttp) and
answers exactly the three endpoints a cascade uses, in OpenAI's published
shapes, so Pipecat's services (the ``openai`` SDK underneath) talk to it as
to the real API or a self-hosted compatible server:

* ``POST /v1/audio/transcriptions`` — multipart form (``file``, ``model``,
  ``language``, optional ``prompt``/``response_format``/``temperature``);
  answers ``{"text": ...}`` (``response_format`` json, the default).
  https://platform.openai.com/docs/api-reference/audio/createTranscription;
  the answer's fields: ``openai/types/audio/transcription.py`` (``text``,
  optional ``logprobs``/``usage``).
* ``POST /v1/chat/completions`` with ``"stream": true`` — server-sent events,
  one ``data: {chat.completion.chunk}`` per line pair and ``data: [DONE]``;
  text as ``delta.content`` pieces, tool calls as ``delta.tool_calls``
  pieces (``index``, ``id``/``type``/``function.name`` in the first, the
  ``function.arguments`` string in pieces after), ``finish_reason``
  ``"tool_calls"`` or ``"stop"`` in the last chunk.
  https://platform.openai.com/docs/api-reference/chat/create and
  https://platform.openai.com/docs/api-reference/chat-streaming; the chunk's
  fields: ``openai/types/chat/chat_completion_chunk.py``.
* ``POST /v1/audio/speech`` — JSON (``model``, ``input``, ``voice``,
  optional ``response_format``/``speed``/``instructions``); answers the audio
  as a chunked body; for ``"response_format": "pcm"`` raw 24 kHz 16-bit
  little-endian mono samples, no header (the text-to-speech guide,
  https://platform.openai.com/docs/guides/text-to-speech#supported-output-formats).
  https://platform.openai.com/docs/api-reference/audio/createSpeech; the
  request's fields: ``openai/types/audio/speech_create_params.py``.

Errors are OpenAI's error object, ``{"error": {"message", "type", "param",
"code"}}`` with the HTTP status (https://platform.openai.com/docs/guides/error-codes).

The fake cannot hear: each transcription request takes the next line queued
with :meth:`FakeOpenAIHttp.caller_said` (an empty transcript when none is
queued). What the "model" answers is a :class:`ChatScript`: rules matched on
the messages it received (the last user message, a tool result), first
match wins; or, for the backend behaviour suite, the realtime fake's
:class:`~agent.testing.fake_realtime.FakeModel` (``model=``): one script
entry per chat completion (``Say`` is the text, ``ToolCall`` a tool call,
``Fail`` a 500). The speech is a tone whose length follows the words (``ms_per_word``),
sent faster than real time. Every request is kept in ``requests`` so a test
asserts what was SENT: paths, headers, models, the tools declared, the
messages (the assistant text after a barge-in, the tool results).
Every TCP connection the server accepts is kept in ``connections`` (counted
where aiohttp's server registers each accepted connection), with each
request that came over it, any path (404s too): whether calls reuse connections.

Example::

    script = ChatScript([
        When(user="printer", tool=Call("record_details", {"what_is_broken": "printer"})),
        When(tool_result="record_details", say="Thanks, I noted the printer."),
    ], otherwise="Could you tell me more?")
    async with FakeOpenAIHttp(script) as fake:
        fake.caller_said("My printer is on fire")
        ...   # services with base_url=fake.base_url
    assert fake.chats[0]["tools"][0]["function"]["name"] == "record_details"
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from agent.testing.fake_realtime import PCM, Fail, FakeModel, Say, ToolCall, Turn, tone
from agent.testing.voice import spoken

SPEECH_RATE = 24000  # pcm: 24 kHz, 16-bit, mono
CONNECTION = web.RequestKey("connection", int)  # a request's index in FakeOpenAIHttp.connections


@dataclass(frozen=True)
class Call:
    """A tool call the model makes: ``name`` with ``arguments`` (sent as a JSON string, in pieces)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class When:
    """A rule: when the last user message contains ``user`` (case-insensitive), or the latest message is
    ``tool_result`` (a tool's name) answering, or the conversation is just the system message (``start``),
    the model says ``say`` and/or makes the tool calls ``tool`` (one or a tuple)."""

    user: str | None = None
    tool_result: str | None = None
    system: str | None = None  # a system message contains this (an instruction for one response: a re-prompt)
    say: str = ""
    tool: Call | tuple[Call, ...] = ()
    once: bool = True  # used once, then skipped

    def calls(self) -> tuple[Call, ...]:
        return self.tool if isinstance(self.tool, tuple) else (self.tool,)

    def matches(self, messages: list[dict[str, Any]]) -> bool:
        last = messages[-1] if messages else {}
        if self.tool_result is not None:
            if last.get("role") != "tool":
                return False
            names = _tool_names(messages)
            return names.get(last.get("tool_call_id")) == self.tool_result
        if self.system is not None:
            return any(m.get("role") == "system" and self.system.lower() in _text(m).lower() for m in messages)
        if self.user is not None:
            return last.get("role") == "user" and self.user.lower() in _text(last).lower()
        return False


def _tool_names(messages: list[dict[str, Any]]) -> dict[str, str]:
    """Tool call id -> the tool's name, for every call the assistant messages made (a ``tool`` message names only the id)."""
    return {c["id"]: c["function"]["name"] for m in messages if m.get("role") == "assistant" for c in m.get("tool_calls") or []}


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


class ChatScript:
    """What the fake LLM answers: the first rule that matches the received messages, else ``otherwise``."""

    def __init__(self, rules: list[When] | None = None, *, otherwise: str = "Could you say that again?") -> None:
        self.rules = list(rules or [])
        self.otherwise = otherwise
        self._used: set[int] = set()

    def answer(self, messages: list[dict[str, Any]]) -> tuple[str, tuple[Call, ...]]:
        for index, rule in enumerate(self.rules):
            if index in self._used or not rule.matches(messages):
                continue
            if rule.once:
                self._used.add(index)
            return rule.say, tuple(c for c in rule.calls() if c)
        return self.otherwise, ()


@dataclass
class Request:
    """One request the fake received: path, headers, and its body (JSON, or the form's fields; ``file`` as bytes)."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    connection: int = -1  # its index in ``FakeOpenAIHttp.connections``


@dataclass
class Connection:
    """A TCP connection the fake accepted: when, and the requests that came over it (``"GET /v1/models"``), in order."""

    opened: float = field(default_factory=time.monotonic)
    requests: list[str] = field(default_factory=list)


class FakeOpenAIHttp:
    """The fake server (``async with`` starts and stops it); see the module's doc."""

    def __init__(self, script: ChatScript | None = None, *, model: FakeModel | None = None, ms_per_word: int = 300, speedup: float = 10.0,
                 chunk_ms: int = 100, first_token_ms: int = 20, ms_per_token: int = 5, require_auth: bool = True) -> None:
        self.script = script or ChatScript()
        self.model = model
        self.spoken: list[str] = []  # the bot's lines as the "model" produced them (model mode)
        self.heard_lines: list[str] = []  # the transcripts given out
        self.broken = False  # every request fails (the service is down)
        self.problems: list[str] = []  # what the real API would refuse, or a script the requests did not allow
        self.ms_per_word = ms_per_word
        self.speedup = speedup  # audio is sent this much faster than it plays
        self.chunk_ms = chunk_ms
        self.first_token_ms = first_token_ms
        self.ms_per_token = ms_per_token
        self.require_auth = require_auth
        self.requests: list[Request] = []
        self.connections: list[Connection] = []  # every TCP connection accepted, in order
        self._connection_of: dict[int, int] = {}  # id(transport) -> index in connections
        self.transcripts: deque[str] = deque()
        self.failures: dict[str, deque[int]] = {}  # path -> HTTP statuses to answer with, one per request
        self.stall: set[str] = set()  # paths that never answer
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()  # set when the fake stops: stalled requests end
        self.port = 0

    # -- set-up ------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> FakeOpenAIHttp:
        app = web.Application(client_max_size=32 * 1024 * 1024, middlewares=[self._count_request])
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/audio/speech", self._speech)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        server = self._runner.server
        accepted = server.connection_made  # aiohttp's web.Server registers each accepted connection's transport here

        def count(handler: Any, transport: Any) -> None:
            self._connection_of[id(transport)] = len(self.connections)
            self.connections.append(Connection())
            accepted(handler, transport)

        server.connection_made = count  # type: ignore[method-assign]
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def caller_said(self, *lines: str) -> None:
        """Queue the transcripts of the next transcription requests."""
        if self.model is not None:
            self.model.caller_said(*lines)
        else:
            self.transcripts.extend(lines)

    def _next_transcript(self, audio: bytes) -> str:
        """The transcript of the next transcription request (``audio``: its uploaded file; this fake answers from its queue)."""
        if self.model is not None:
            line = self.model.next_heard()
        else:
            line = self.transcripts.popleft() if self.transcripts else ""
        if line:
            self.heard_lines.append(line)
        return line

    @staticmethod
    def caller_voice(ms: int) -> bytes:
        """Speech-like caller audio (8 kHz mu-law) for :func:`agent.testing.live.speak`: the cascade's VAD hears voices, not tones."""
        return spoken(ms)

    async def break_now(self) -> None:
        """The service goes down mid-call: every request from now on fails with a 500."""
        self.broken = True

    def refuse(self) -> None:
        """The service is down from the start."""
        self.broken = True

    def heard(self) -> list[str]:
        """Replies the caller cut off, as the LLM was last sent them: assistant messages that are the start of a line it said."""
        if not self.chats:
            return []
        said = [line.split() for line in self.spoken]
        cut = []
        for message in self.chats[-1].get("messages") or []:
            words = _text(message).split() if message.get("role") == "assistant" else []
            if words and any(len(words) < len(line) and line[: len(words)] == words for line in said):
                cut.append(" ".join(words))
        return cut

    def typed(self) -> list[str]:
        """The caller's turns the LLM got that were no transcript (keyed-in digits), as it was last sent them."""
        if not self.chats:
            return []
        return [_text(m) for m in self.chats[-1].get("messages") or [] if m.get("role") == "user" and _text(m) not in self.heard_lines]

    def fail(self, path: str, status: int = 500, times: int = 1) -> None:
        """Answer the next ``times`` requests to ``path`` (e.g. ``/v1/chat/completions``) with an error."""
        self.failures.setdefault(path, deque()).extend([status] * times)

    # -- what was sent -----------------------------------------------------------------------------
    def sent(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    @property
    def chats(self) -> list[dict[str, Any]]:
        """The bodies of every chat completion request, in order."""
        return [r.body for r in self.sent("/v1/chat/completions")]

    async def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Request]:
        deadline = time.monotonic() + timeout
        while len(self.sent(path)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.sent(path))} of {count} requests to {path}")
            await asyncio.sleep(0.01)
        return self.sent(path)

    # -- endpoints ---------------------------------------------------------------------------------
    @web.middleware
    async def _count_request(self, request: web.Request, handler: Any) -> web.StreamResponse:
        index = self._connection_of.get(id(request.transport), -1)
        if index >= 0:
            self.connections[index].requests.append(f"{request.method} {request.path}")
        request[CONNECTION] = index
        return await handler(request)

    async def _refused(self, request: web.Request) -> web.Response | None:
        if self.require_auth and not request.headers.get("Authorization", "").startswith("Bearer "):
            return _error(401, "You didn't provide an API key.", "invalid_request_error")
        if self.broken:
            return _error(500, "The server had an error while processing your request.", "server_error")
        queued = self.failures.get(request.path)
        if queued:
            status = queued.popleft()
            return _error(status, "The server had an error while processing your request.", "server_error")
        if request.path in self.stall:
            await self._closing.wait()
            return _error(503, "The server is shutting down.", "server_error")
        return None

    async def _transcribe(self, request: web.Request) -> web.Response:
        form: dict[str, Any] = {}
        async for part in await request.multipart():  # type: ignore[union-attr]
            form[part.name] = await part.read() if part.name == "file" else await part.text()  # type: ignore[union-attr]
        self.requests.append(Request(request.path, dict(request.headers), form, connection=request[CONNECTION]))
        if (refused := await self._refused(request)) is not None:
            return refused
        if not isinstance(form.get("file"), (bytes, bytearray)) or "model" not in form:
            return _error(400, "file and model are required", "invalid_request_error")
        return web.json_response({"text": self._next_transcript(bytes(form["file"]))})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Request(request.path, dict(request.headers), body, connection=request[CONNECTION]))
        if (refused := await self._refused(request)) is not None:
            return refused
        if not body.get("stream"):
            return _error(400, "this fake answers streaming requests only", "invalid_request_error")
        declared = {t["function"]["name"] for t in body.get("tools") or [] if t.get("type") == "function"}
        refused = tool_messages_problem(body.get("messages") or [])
        if refused:
            self.problems.append(refused)
            return _error(400, refused, "invalid_request_error")
        if self.model is not None:
            answer = await self._decide(body)
            if answer is None:
                return _error(500, "The server had an error while processing your request.", "server_error")
            text, calls = answer
        else:
            text, calls = self.script.answer(body.get("messages") or [])
        unknown = [c.name for c in calls if c.name not in declared]
        if unknown:
            self.problems.append(f"the script calls tools the request did not declare: {unknown}")
            return _error(500, "The server had an error while processing your request.", "server_error")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        chunk_id, created, model = f"chatcmpl-{uuid.uuid4().hex[:20]}", int(time.time()), body.get("model", "")

        async def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {
                "id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        try:
            await asyncio.sleep(self.first_token_ms / 1000)
            await send({"role": "assistant", "content": ""})
            for word in _pieces(text):
                await send({"content": word})
                await asyncio.sleep(self.ms_per_token / 1000)
            for index, call in enumerate(calls):
                arguments = json.dumps(call.arguments)
                await send({"tool_calls": [{"index": index, "id": f"call_{uuid.uuid4().hex[:16]}", "type": "function",
                                            "function": {"name": call.name, "arguments": ""}}]})
                for start in range(0, len(arguments), 8):
                    await send({"tool_calls": [{"index": index, "function": {"arguments": arguments[start:start + 8]}}]})
            await send({}, "tool_calls" if calls else "stop")
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionError:  # the client stopped reading (the response was interrupted)
            pass
        return response

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Request(request.path, dict(request.headers), body, connection=request[CONNECTION]))
        if (refused := await self._refused(request)) is not None:
            return refused
        if body.get("response_format") != "pcm":
            return _error(400, "this fake speaks pcm only", "invalid_request_error")
        audio = speech_audio(str(body.get("input", "")), self.model.ms_per_word if self.model is not None else self.ms_per_word)
        response = web.StreamResponse(headers={"Content-Type": "audio/pcm"})
        await response.prepare(request)
        step = SPEECH_RATE * 2 * self.chunk_ms // 1000
        try:
            for start in range(0, len(audio), step):
                await response.write(audio[start:start + step])
                await asyncio.sleep(self.chunk_ms / 1000 / self.speedup)
            await response.write_eof()
        except ConnectionError:  # the client stopped listening (a barge-in cancelled the synthesis)
            pass
        return response


    def _turn(self, trigger: str, messages: list[dict[str, Any]], body: dict[str, Any] | None = None) -> Turn:
        last = messages[-1] if messages else {}
        users = [m for m in messages if m.get("role") == "user"]
        names = _tool_names(messages)
        return Turn(
            index=len(self.model.turns) if self.model is not None else 0, trigger=trigger,
            user_text=_text(users[-1]) if users else None,
            tool_output=_text(last) if last.get("role") == "tool" else None,
            tool_name=names.get(last.get("tool_call_id")) if last.get("role") == "tool" else None,
            items=messages, session={"tools": (body or {}).get("tools") or []}, response={},
            instructions="\n".join(_text(m) for m in messages if m.get("role") == "system") or None,
        )

    async def _decide(self, body: dict[str, Any]) -> tuple[str, tuple[Call, ...]] | None:
        """The FakeModel's next response as chat: its ``Say`` texts and ``ToolCall`` actions (None: a ``Fail``)."""
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        trigger = {"tool": "tool_output", "user": "user"}.get(last.get("role", ""), "instructions")
        actions = await self.model.decide(self._turn(trigger, messages, body))  # type: ignore[union-attr]
        if any(isinstance(a, Fail) for a in actions):
            return None
        text = " ".join(a.text for a in actions if isinstance(a, Say))
        calls = tuple(
            Call(a.name, a.arguments if isinstance(a.arguments, dict) else json.loads(a.arguments or "{}"))
            for a in actions if isinstance(a, ToolCall)
        )
        if text:
            self.spoken.append(text)
        return text, calls


def tool_messages_problem(messages: list[dict[str, Any]]) -> str | None:
    """Why OpenAI would refuse these messages' tool calls and answers (400), or None.

    Chat completions require every assistant ``tool_calls`` entry to be
    answered by a ``tool`` message with its ``tool_call_id`` right after that
    assistant message, and every ``tool`` message to answer such a call
    (the API's error: "An assistant message with 'tool_calls' must be followed
    by tool messages responding to each 'tool_call_id'").
    """
    open_calls: set[str] = set()
    for message in messages:
        role = message.get("role")
        if role == "tool":
            if message.get("tool_call_id") not in open_calls:
                return f"a tool message answers no open tool call ({message.get('tool_call_id')!r})"
            open_calls.discard(message["tool_call_id"])
            continue
        if open_calls:
            return f"tool calls {sorted(open_calls)} are not answered before the next {role} message"
        if role == "assistant":
            open_calls = {c["id"] for c in message.get("tool_calls") or []}
    return None


def speech_audio(text: str, ms_per_word: int) -> bytes:
    """PCM16 at 24 kHz standing in for ``text`` spoken: ``ms_per_word`` of a 300 Hz tone per word."""
    return tone(ms_per_word * max(1, len(text.split())), PCM, freq=300.0, amplitude=8000 / 32767)


def _pieces(text: str) -> list[str]:
    """The text as a model streams it: word by word, each with its leading space."""
    words = text.split(" ")
    return [w if i == 0 else f" {w}" for i, w in enumerate(words)] if text else []


def _error(status: int, message: str, kind: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "param": None, "code": None}}, status=status)


