"""The cascade's calls reuse warm connections to their STT, LLM and TTS servers, and connect before the greeting.

Against a real cloud API every new connection is a TCP and a TLS handshake
(50-200 ms) that the caller hears as a slower greeting. The fake OpenAI HTTP
server (:mod:`agent.testing.fake_openai_http`) counts the TCP connections it
accepts and the requests each carried, so these tests see what a cloud API
would: how many handshakes calls cost, and which request paid for one.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import httpx
import pytest
import respx

from agent.core import http_client
from agent.core.http_client import close_pools, idle_connections, is_pooled, pooled_client
from agent.media.backends.cascade import CascadeBackend, CascadeOptions
from agent.server.app import create_app
from agent.testing.fake_openai_http import ChatScript, FakeOpenAIHttp
from agent.testing.fake_realtime import FakeModel, Say, ToolCall
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.live import (
    ACCOUNT,
    HARNESSES,
    TOKEN,
    TWILIO_API,
    Harness,
    flow_with_model,
    live_settings,
    speak,
    twilio_rest,
)
from agent.testing.server import running_server
from agent.testing.settings import agent_settings
from agent.testing.twiml_interpreter import TwimlInterpreter
from tests.conftest import HOTLINE
from tests.helpers import greeted
from tests.test_cascade_backend import GREETING, CascadeCall

HOTLINE_GREETING = "Hello, I'm ACME's on-call assistant. What's going on?"  # examples/flows/hotline.yaml
MODELS = "GET /v1/models"  # the warm-up request: OpenAI's "List models" (https://platform.openai.com/docs/api-reference/models/list)
KEYS = {"cascade_stt_api_key": "sk-stt", "cascade_llm_api_key": "sk-llm", "cascade_tts_api_key": "sk-tts"}


def put_through() -> list:
    """One call's script: the greeting, the caller's wish routed to a person, the hand-over line."""
    return [
        Say(HOTLINE_GREETING),
        ToolCall("route_call", {"intent": "talk_to_human", "summary": "caller wants a person", "details_declined": True}),
        Say("I'm connecting you now."),
    ]


async def caller(call: FakeTwilioCall, harness: Harness) -> None:
    await greeted(call)
    await speak(call, harness.fake_model, "just put me through to a person please")


async def calls_in_a_row(fake: FakeOpenAIHttp, count: int) -> list[int]:
    """``count`` whole calls, one after the other, on one server (the real one, Twilio's webhooks and Media Streams
    from the fakes); the connections the fake had accepted after each."""
    opened = []
    with respx.mock(assert_all_called=False) as rest, tempfile.TemporaryDirectory() as folder:
        rest.route(host="127.0.0.1").pass_through()
        rest.post(url__startswith=f"{TWILIO_API}/2010-04-01/Accounts/{ACCOUNT}/Calls/").mock(side_effect=twilio_rest)
        flow = flow_with_model(HOTLINE, {"backend": "cascade"}, Path(folder))
        settings = {"openai_base_url": fake.base_url, **KEYS}
        async with running_server(lambda base: create_app(live_settings(base, None, flow, **settings))) as (base, _):
            for _ in range(count):
                harness = Harness(fake, base, caller)
                async with httpx.AsyncClient(base_url=base) as client:
                    twilio = TwimlInterpreter(client, base, auth_token=TOKEN, on_stream=harness.on_stream)
                    harness.call_sid = twilio.call_sid
                    HARNESSES[twilio.call_sid] = harness
                    try:
                        record = await asyncio.wait_for(twilio.call([]), 60)
                    finally:
                        HARNESSES.pop(twilio.call_sid, None)
                assert record.dialled, "the call was put through"
                await asyncio.sleep(0.3)  # the call's pipeline lets go of its requests
                opened.append(len(fake.connections))
        await close_pools()
    return opened


def test_a_second_call_reuses_the_first_calls_connections_and_both_connect_before_the_greeting() -> None:
    model = FakeModel(put_through() * 2)
    model.ms_per_word = 80

    async def run() -> tuple[FakeOpenAIHttp, list[int]]:
        async with FakeOpenAIHttp(model=model) as fake:
            return fake, await calls_in_a_row(fake, 2)

    fake, opened = asyncio.run(run())
    assert fake.spoken.count(HOTLINE_GREETING) == 2 and not fake.problems
    assert opened[0] >= 2, "the first call connected (its greeting's chat and speech run at once)"
    assert opened[1] == opened[0], f"the second call opened {opened[1] - opened[0]} new connection(s) instead of reusing"
    greetings = [r for r in fake.sent("/v1/chat/completions") if any("exactly these words" in str(m.get("content")) for m in r.body["messages"])]
    assert len(greetings) == 2
    first = fake.connections[greetings[0].connection].requests
    assert first[0] == MODELS and first.index("POST /v1/chat/completions") > 0, (
        f"the first greeting went over a connection warmed up before it: {first}")
    assert sum(c.requests.count(MODELS) for c in fake.connections) == opened[0], (
        "warmed once per connection the first call wanted; the second call found them idle and sent none")
    # Keys are per request (Authorization), not per connection: each stage sends its own over the shared pool.
    assert {r.headers["Authorization"] for r in fake.sent("/v1/audio/transcriptions")} == {"Bearer sk-stt"}
    assert {r.headers["Authorization"] for r in fake.sent("/v1/chat/completions")} == {"Bearer sk-llm"}
    assert {r.headers["Authorization"] for r in fake.sent("/v1/audio/speech")} == {"Bearer sk-tts"}
    assert any(len({r.split()[1] for r in c.requests} - {"/v1/models"}) > 1 for c in fake.connections), (
        "a connection served two stages (two keys)")


@pytest.mark.anyio
async def test_with_the_early_start_done_the_greeting_opens_no_connection() -> None:
    async with FakeOpenAIHttp(ChatScript()) as fake:
        settings = agent_settings(HOTLINE, openai_base_url=fake.base_url, openai_api_key="sk-test")
        warming = CascadeBackend(settings).connect_early(CascadeOptions())
        assert warming is not None
        assert await warming == 3, "a connection per stage (all three on this server)"
        assert [c.requests for c in fake.connections] == [[MODELS]] * 3
        async with CascadeCall(fake) as call:
            await call.greeted()
        assert len(fake.connections) == 3, "the greeting's chat completion and speech took warm connections"
        for path in ("/v1/chat/completions", "/v1/audio/speech"):
            used = fake.connections[fake.sent(path)[0].connection].requests
            assert used[0] == MODELS, f"{path} went over a warmed connection"
        assert await CascadeBackend(settings).connect_early(CascadeOptions()) == 0, "idle connections: nothing to warm"
        await close_pools()


@pytest.mark.anyio
async def test_a_call_cancelled_mid_request_leaves_the_pool_working_for_the_next_call(monkeypatch) -> None:
    # Two sockets only: a request the cancelled call left holding its slot would stall the next call's greeting
    # (its chat completion streams while its speech is fetched).
    monkeypatch.setattr(http_client, "POOL_LIMITS", httpx.Limits(max_connections=2, max_keepalive_connections=2, keepalive_expiry=30))
    async with FakeOpenAIHttp(ChatScript()) as fake:
        fake.stall.add("/v1/chat/completions")
        async with CascadeCall(fake) as call:
            await fake.wait_for("/v1/chat/completions")
        assert call.bot_said() == []  # the caller hung up while the model was thinking
        pool = pooled_client(fake.base_url)
        assert not pool.is_closed, "the call did not close the process's pool"
        fake.stall.clear()
        async with CascadeCall(fake) as call:
            await call.until(lambda: call.bot_said() == [GREETING], timeout=15, what="the next call's greeting")
            assert call.failures == []
        assert pooled_client(fake.base_url) is pool
        await close_pools()


@pytest.mark.anyio
async def test_a_burst_of_requests_opens_no_more_sockets_than_the_pool_allows(monkeypatch) -> None:
    monkeypatch.setattr(http_client, "POOL_LIMITS", httpx.Limits(max_connections=2, max_keepalive_connections=2))
    async with FakeOpenAIHttp(ChatScript(), require_auth=False) as fake:
        pool = pooled_client(fake.base_url)
        answers = await asyncio.gather(*(pool.post(f"{fake.base_url}/audio/transcriptions", files={"file": ("a.wav", b"RIFF")},
                                                   data={"model": "whisper-1"}) for _ in range(6)))
        assert [a.status_code for a in answers] == [200] * 6
        assert len(fake.connections) == 2, "the other requests waited for a connection"
        assert idle_connections(pool) == 2
        await close_pools()


@pytest.mark.anyio
async def test_the_servers_shutdown_closes_the_pools() -> None:
    async with FakeOpenAIHttp(ChatScript()) as fake:
        app = create_app(live_settings("https://voice-agent.test", None, HOTLINE))
        async with app.router.lifespan_context(app):
            pool = pooled_client(fake.base_url)
            await pool.get(f"{fake.base_url}/models")
            assert is_pooled(pool) and idle_connections(pool) == 1
        assert pool.is_closed and not is_pooled(pool)
        assert pooled_client(fake.base_url) is not pool, "a server started again gets a new pool"
        await close_pools()


@pytest.mark.anyio
async def test_a_server_that_is_down_costs_only_the_head_start() -> None:
    """Warming up is a head start, not a call's request: a refused connection is the call's to report, not the webhook's."""
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{unused.getsockname()[1]}/v1"
    settings = agent_settings(HOTLINE, openai_base_url=down, openai_api_key="sk-test")
    warming = CascadeBackend(settings).connect_early(CascadeOptions())
    assert warming is not None and await warming == 3  # three attempts, each refused and logged
    assert idle_connections(pooled_client(down)) == 0
    await close_pools()
