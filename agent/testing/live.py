"""A whole live call in one function: the real server, a fake Twilio (webhooks and media), a fake model.

``await run_live_call(model, caller, flow=path)`` serves ``flow`` with the real
bot server on loopback, places a call through a :class:`TwimlInterpreter`,
attaches a :class:`FakeTwilioCall` to the media stream, lets ``caller`` (an
async function of the media call and the :class:`Harness`) talk, mocks
Twilio's REST API with respx, and follows the redirect to the end of the
call. It returns what Twilio saw, the harness (redirects, the media call,
the server's final metrics) and the fake model server.

``backend=`` (a :class:`ModelFake`) runs the call on another model backend:
its fake, the settings that point the agent there, and the AI node's
``model:`` block (written into a copy of the flow); the default is
``openai_realtime`` against :class:`FakeRealtimeServer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import respx
from ruamel.yaml import YAML

from agent.server.app import create_app
from agent.core.settings import Settings
from agent.testing.settings import ACCOUNT, TOKEN, TWILIO_API, agent_settings  # noqa: F401  (the names tests import from here)
from agent.testing.fake_realtime import FakeModel, FakeRealtimeServer
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.server import running_server
from agent.testing.twiml_interpreter import TwimlInterpreter, call_update


class Harness:
    """One call: TwiML interpreter + media stream client + REST mock, wired like Twilio."""

    def __init__(self, fake_model: FakeRealtimeServer, base: str, caller_turns):
        self.fake_model = fake_model
        self.base = base
        self.caller_turns = caller_turns  # async (call: FakeTwilioCall, harness) -> None
        self.redirects: list[str] = []  # where Twilio was told to send the call (a URL, or inline TwiML)
        self.updates: list[dict[str, str]] = []  # every call-update form, as sent
        self.steps: list = []  # (nodes so far, agent.flow.actions.Step): what the flow stepper decided, in order
        self.redirected = asyncio.Event()
        self.media: FakeTwilioCall | None = None

    def rest_update(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.updates.append(form)
        status, body, target = call_update(form, request.url.path.rsplit("/", 1)[-1].removesuffix(".json"))
        if target is not None:
            self.redirects.append(target)
            self.redirected.set()
        return httpx.Response(status, json=body)

    async def on_stream(self, url: str, params: dict[str, str]) -> str | None:
        async with FakeTwilioCall(url, auth_token=TOKEN, custom_parameters=params, call_sid=self.call_sid) as call:
            self.media = call
            talk = asyncio.create_task(self.caller_turns(call, self))
            redirected = asyncio.create_task(self.redirected.wait())
            await asyncio.wait({talk, redirected}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
            if not redirected.done():
                await asyncio.wait({redirected}, timeout=0 if talk.done() and talk.exception() else 10)
            if not redirected.done():
                redirected.cancel()
                talk.cancel()
                if talk.done() and not talk.cancelled() and talk.exception():
                    raise AssertionError("the caller's side failed before any redirect") from talk.exception()
                raise AssertionError("the call was never redirected")
            talk.cancel()
            await call.hang_up()  # Twilio ends the stream once the redirect is accepted
        return self.redirects[-1]


def live_settings(base: str, model_url: str | None, flow: Path, **overrides: Any) -> Settings:
    """Settings of a server under test: Twilio and OpenAI pointed at the fakes (``model_url``: the realtime fake's)."""
    values: dict[str, Any] = dict(
        public_base_url=base, twilio_api_base_url=TWILIO_API, openai_api_key="sk-test",
        engine="openai", rest_retries=1, **({"openai_realtime_url": model_url} if model_url else {}),
    )
    return agent_settings(flow, **{**values, **overrides})


def _realtime_spoken(fake: FakeRealtimeServer) -> list[str]:
    return [text for session in fake.sessions for role, text in session.dialogue() if role == "assistant"]


def _realtime_heard(fake: FakeRealtimeServer) -> list[str]:
    return [cut["heard_text"] for session in fake.sessions for cut in session.truncations]


def _realtime_typed(fake: FakeRealtimeServer) -> list[str]:
    return [
        part["text"] for event in fake.received if event["type"] == "conversation.item.create"
        and event["item"].get("role") == "user" for part in event["item"]["content"] if part.get("type") == "input_text"
    ]


@dataclass(frozen=True)
class ModelFake:
    """How a live call under test reaches its model backend, and what a test can ask that backend's fake.

    Every fake is served by ``serve(model)`` from the same scripted
    :class:`FakeModel` (``Say``/``ToolCall`` actions) and has
    ``caller_said(line)``, queueing what it will "hear" the caller say.
    """

    name: str
    #: The fake's async context manager (started for one call), given the scripted model.
    serve: Callable[[FakeModel], AbstractAsyncContextManager[Any]] = FakeRealtimeServer
    #: The server's settings overrides that point the agent at the started fake.
    settings: Callable[[Any], dict[str, Any]] = field(default=lambda fake: {"openai_realtime_url": fake.url})
    #: The AI nodes' ``model:`` block (None: the flow as written, i.e. the default backend).
    model: Callable[[Any], dict[str, Any] | None] = field(default=lambda fake: None)
    #: The bot's lines as the model produced them, in order.
    spoken: Callable[[Any], list[str]] = _realtime_spoken
    #: What the model keeps of each reply the caller cut off: the words the caller heard.
    heard: Callable[[Any], list[str]] = _realtime_heard
    #: The caller's turns the model got as text (keyed-in digits).
    typed: Callable[[Any], list[str]] = _realtime_typed
    #: Break the model now, mid-call (the socket drops, the server errors): the call must fail over.
    break_now: Callable[[Any], Awaitable[None]] = field(default=lambda fake: fake.drop())
    #: Refuse the model from the start (before the call): the call must fail over.
    refuse: Callable[[Any], None] = field(default=lambda fake: fake.refuse_connections(500))


OPENAI_REALTIME = ModelFake("openai_realtime")


def flow_with_model(flow: Path, model: dict[str, Any], folder: Path) -> Path:
    """A copy of ``flow`` in ``folder`` whose AI nodes talk through ``model``; relative source paths still reach their files."""
    yaml = YAML(typ="safe", pure=True)
    data = yaml.load(flow.read_text(encoding="utf-8"))
    for node in data.get("nodes", {}).values():
        if node.get("type") != "ai_agent":
            continue
        node["model"] = dict(model)
        for source in (node.get("enrichment") or {}).get("sources") or []:
            if isinstance(source.get("path"), str) and not Path(source["path"]).is_absolute():
                source["path"] = str((flow.parent / source["path"]).resolve())
    copy = folder / flow.name
    with copy.open("w", encoding="utf-8") as out:
        yaml.dump(data, out)
    return copy


async def run_live_call(model: FakeModel, caller_turns, *, flow: Path, answer_dials=True, fault=None, gather_turns=(),
              from_number="+4915112345678", rest: respx.MockRouter | None = None, settings: dict[str, Any] | None = None,
              backend: ModelFake = OPENAI_REALTIME):
    """Place one call; returns (what Twilio saw, the harness, the fake model server).

    ``rest``: a respx router already mocking Twilio's REST API (for concurrent calls);
    ``settings``: overrides of the server's settings; ``backend``: the model backend and its fake.
    """
    model.ms_per_word = 80
    async with backend.serve(model) as fake, contextlib.AsyncExitStack() as stack:
        if fault:
            fault(fake)
        if rest is None:
            rest = stack.enter_context(respx.mock(assert_all_called=False))
            rest.route(host="127.0.0.1").pass_through()
            rest.post(url__startswith=f"{TWILIO_API}/2010-04-01/Accounts/{ACCOUNT}/Calls/").mock(side_effect=twilio_rest)
        block = backend.model(fake)
        if block is not None:
            flow = flow_with_model(flow, block, Path(stack.enter_context(tempfile.TemporaryDirectory())))
        overrides = {**backend.settings(fake), **(settings or {})}
        async with running_server(lambda base: create_app(live_settings(base, None, flow, **overrides))) as (base, app):
            harness = Harness(fake, base, caller_turns)
            app.state.live.on_step.append(lambda call, step: harness.steps.append((list(call.nodes), step)))
            async with httpx.AsyncClient(base_url=base) as client:
                twilio = TwimlInterpreter(
                    client, base, auth_token=TOKEN, from_number=from_number,
                    answer_dials=answer_dials, on_stream=harness.on_stream,
                )
                harness.call_sid = twilio.call_sid
                HARNESSES[twilio.call_sid] = harness
                try:
                    record = await asyncio.wait_for(twilio.call(list(gather_turns)), 60)
                finally:
                    HARNESSES.pop(twilio.call_sid, None)
                harness.final_metrics = (await client.get("/metrics")).text
        return record, harness, fake


HARNESSES: dict[str, Harness] = {}


def twilio_rest(request: httpx.Request) -> httpx.Response:
    """Twilio's call-update endpoint, answering for whichever call the URL names."""
    call_sid = request.url.path.rsplit("/", 1)[-1].removesuffix(".json")
    harness = HARNESSES.get(call_sid)
    if harness is None:
        return httpx.Response(404, json={"code": 20404, "message": "not found"})
    return harness.rest_update(request)


async def speak(call: FakeTwilioCall, fake: FakeRealtimeServer, line: str, ms: int = 1200) -> None:
    """The caller says ``line`` (the fake model will 'hear' it) and pauses.

    The audio is a tone, which fakes with an energy VAD take for speech; a fake
    whose backend listens with a real voice detector (the cascade's Silero)
    gives its own speech-like audio (``caller_voice(ms)``).
    """
    fake.caller_said(line)
    voice = getattr(fake, "caller_voice", None)
    await call.say(ms, audio=voice(ms) if voice is not None else None)
    await call.silence(700)


