"""The model connection opens while Twilio is still setting up the media stream, and is not left open when unused."""

from __future__ import annotations

import asyncio

import httpx
import respx

from agent.server.app import create_app
from agent.testing.fake_realtime import FakeModel, FakeRealtimeServer, Say
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.live import ACCOUNT, TOKEN, TWILIO_API, live_settings, twilio_rest
from agent.testing.server import running_server
from agent.testing.twiml_interpreter import TwimlInterpreter
from pipelines import twilio_realtime
from tests.conftest import HOTLINE


async def place_call(on_stream, fake: FakeRealtimeServer):
    with respx.mock(assert_all_called=False) as rest:
        rest.route(host="127.0.0.1").pass_through()
        rest.post(url__startswith=f"{TWILIO_API}/2010-04-01/Accounts/{ACCOUNT}/Calls/").mock(side_effect=twilio_rest)
        async with running_server(lambda base: create_app(live_settings(base, fake.url, HOTLINE))) as (base, _):
            async with httpx.AsyncClient(base_url=base) as client:
                twilio = TwimlInterpreter(client, base, auth_token=TOKEN, on_stream=lambda url, params: on_stream(url, params, twilio))
                await asyncio.wait_for(twilio.call([]), 30)


def test_the_model_is_connected_before_the_stream_starts_and_that_connection_is_used():
    seen = {}

    async def go():
        async with FakeRealtimeServer(FakeModel([Say("Hello, what's going on?")])) as fake:

            async def on_stream(url, params, twilio):
                await asyncio.sleep(0.3)  # Twilio takes a moment to open the stream
                seen["sessions_before_stream"] = len(fake.sessions)
                async with FakeTwilioCall(url, auth_token=TOKEN, custom_parameters=params, call_sid=twilio.call_sid) as call:
                    await call.wait_for_audio(ms=300, timeout=10)
                    seen["greeting_after_ms"] = (call.first_audio_at - call.started_at) * 1000
                seen["sessions_after"] = len(fake.sessions)
                return None

            await place_call(on_stream, fake)

    asyncio.run(go())
    assert seen["sessions_before_stream"] == 1
    assert seen["sessions_after"] == 1  # the stream used the early connection, it did not open another


def test_an_early_connection_the_stream_never_takes_is_closed(monkeypatch):
    monkeypatch.setattr(twilio_realtime, "EARLY_START_TTL_S", 0.3)
    seen = {}

    async def go():
        async with FakeRealtimeServer(FakeModel()) as fake:

            async def on_stream(url, params, twilio):  # the stream went to another replica
                await asyncio.sleep(0.1)
                seen["open_then"] = len(fake._open_sessions())
                await asyncio.sleep(0.6)
                seen["open_later"] = len(fake._open_sessions())
                return None

            await place_call(on_stream, fake)

    asyncio.run(go())
    assert seen == {"open_then": 1, "open_later": 0}
