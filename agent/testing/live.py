"""A whole live call in one function: the real server, a fake Twilio (webhooks and media), a fake model.

``await run_live_call(model, caller, flow=path)`` serves ``flow`` with the real
bot server on loopback, places a call through a :class:`TwimlInterpreter`,
attaches a :class:`FakeTwilioCall` to the media stream, lets ``caller`` (an
async function of the media call and the :class:`Harness`) talk, mocks
Twilio's REST API with respx, and follows the redirect to the end of the
call. It returns what Twilio saw, the harness (redirects, the media call,
the server's final metrics) and the fake model server.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import respx

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


def live_settings(base: str, model_url: str, flow: Path, **overrides: Any) -> Settings:
    """Settings of a server under test: Twilio and OpenAI pointed at the fakes."""
    values: dict[str, Any] = dict(
        public_base_url=base, twilio_api_base_url=TWILIO_API, openai_api_key="sk-test", openai_realtime_url=model_url,
        engine="openai", rest_retries=1,
    )
    return agent_settings(flow, **{**values, **overrides})


async def run_live_call(model: FakeModel, caller_turns, *, flow: Path, answer_dials=True, fault=None, gather_turns=(),
              from_number="+4915112345678", rest: respx.MockRouter | None = None, settings: dict[str, Any] | None = None):
    """Place one call; returns (what Twilio saw, the harness, the fake model server).

    ``rest``: a respx router already mocking Twilio's REST API (for concurrent calls);
    ``settings``: overrides of the server's settings.
    """
    model.ms_per_word = 80
    async with FakeRealtimeServer(model) as fake, contextlib.AsyncExitStack() as stack:
        if fault:
            fault(fake)
        if rest is None:
            rest = stack.enter_context(respx.mock(assert_all_called=False))
            rest.route(host="127.0.0.1").pass_through()
            rest.post(url__startswith=f"{TWILIO_API}/2010-04-01/Accounts/{ACCOUNT}/Calls/").mock(side_effect=twilio_rest)
        async with running_server(lambda base: create_app(live_settings(base, fake.url, flow, **(settings or {})))) as (base, app):
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
    """The caller says ``line`` (the fake model will 'hear' it) and pauses."""
    fake.caller_said(line)
    await call.say(ms)
    await call.silence(700)


