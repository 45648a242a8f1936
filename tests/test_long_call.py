"""However long the conversation, nothing we hand Twilio crosses a limit it documents.

Twilio refuses a call update whose ``Twiml`` exceeds 4,000 characters (error
32018: https://www.twilio.com/docs/api/errors/32018); before, a 12-turn call
already sent 3,200 and a 20-turn call 4,100, and the caller started over. Now
the AI node redirects by ``Url=``, and a state too long for a URL waits in the
shared store under a short id.
"""

from __future__ import annotations

import asyncio
import random
import time
from xml.etree import ElementTree

import httpx
import pytest
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from agent.core.call import Dial, Turn
from agent.live.continuations import MAX_INLINE_TOKEN, REF_PREFIX
from agent.live.runner import LiveFlow
from agent.core.call import Call
from agent.live.tokens import TokenError
from agent.server.app import create_app
from agent.core.settings import Settings
from agent.testing.fake_realtime import FakeModel, Say, ToolCall
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.live import TOKEN, Harness, run_live_call, speak
from tests.conftest import HOTLINE
from tests.test_fixed_lines_once import says_what_it_is_asked

MAX_TWIML_PARAMETER = 4000
# A URL we hand Twilio: the public base, a path, and a sealed state or a short reference to one.
MAX_URL = 200 + MAX_INLINE_TOKEN
TURNS = 100  # model responses, each a spoken line and a tool call: 200 turns


def urls_in(twiml: str) -> list[str]:
    root = ElementTree.fromstring(twiml)
    found = [v for e in root.iter() for k, v in e.attrib.items() if k in ("action", "url")]
    found += [p.get("value", "") for p in root.iter("Parameter")]
    return found + [(e.text or "").strip() for e in root.iter("Redirect")]


def description(i: int) -> str:
    return f"Update {i}: " + ("the checkout service times out for customers in every region, " * 7)[:440]


def test_a_200_turn_realtime_conversation_stays_within_twilios_limits():
    model = FakeModel(
        [Say("Hello, what's going on?")]
        + [[Say("Noted."), ToolCall("record_details", {"incident": description(i), "caller_name": f"Jane Doe {i}"})] for i in range(TURNS)]
        + [ToolCall("route_call", {"intent": "talk_to_human", "summary": "wants a person", "details_declined": True})],
        default=says_what_it_is_asked,
    )

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=200, timeout=10)
        await call.wait_until_quiet(ms=300, timeout=10)
        await speak(call, harness.fake_model, "the checkout times out, and let me tell you everything")

    record, harness, fake = asyncio.run(run_live_call(model, caller, flow=HOTLINE, settings={"local_vad": False}))
    tool_calls = [e for e in fake.received if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"]
    assert len(tool_calls) == TURNS + 1, "the whole conversation happened"
    assert [set(update) for update in harness.updates] == [{"Url", "Method", "FallbackUrl", "FallbackMethod"}], "one redirect, by URL: no Twiml parameter at all"
    for update in harness.updates:
        assert len(update.get("Twiml", "")) <= MAX_TWIML_PARAMETER
        assert len(update["Url"]) <= MAX_URL
    for document in record.documents:
        for url in urls_in(document):
            assert len(url) <= MAX_URL, url[:120]
    assert record.dialled == ["+4930901820"]
    assert f"Update {TURNS - 1}" in record.whispers[0] or "checkout" in record.whispers[0], "the engineer hears the latest details"


WORDS = ("checkout payments login region customers error timeout since deploy rollback database latency "
         "queue worker europe invoices mobile app orders cart retry gateway cluster node alert").split()


def sentence(rng: random.Random, words: int = 14) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + f" {rng.randrange(10**6)}."


def long_state(turns: int = 200, minutes: float = 30) -> Call:
    """A call 30 minutes in: 200 turns of varied conversation and every field filled with long values."""
    rng = random.Random(7)
    transcript = [Turn(speaker="caller" if i % 2 else "agent", text=sentence(rng)) for i in range(turns)]
    fields = {"caller_name": "Jane Doe", "contact_number": "+4915112345678", "email": "jane@example.com",
              "incident": " ".join(sentence(rng) for _ in range(5)), "affected_services": [f"service {i}" for i in range(20)]}
    state = Call(call_id="CA" + "a" * 32, node="agent", caller_number="+4915112345678", fields=fields, transcript=transcript,
                 started_at=time.time() - minutes * 60, summary="x" * 500, facts_used=[f"fact {i}" for i in range(20)])
    state.dials = [Dial(name=f"Engineer {i}", number=f"+4930901820{i}") for i in range(5)]
    return state


@pytest.fixture
def live() -> LiveFlow:
    app = create_app(Settings(flow=str(HOTLINE), public_base_url="https://voice.example.test", twilio_auth_token="t", engine="deterministic"))
    return app.state.live


@pytest.mark.parametrize("node", ["agent", "page_oncall", "voicemail"])
def test_every_wait_renders_short_urls_for_a_long_call_and_they_open(live: LiveFlow, node: str):
    state = long_state()
    assert len(live.codec.seal(state)) > MAX_INLINE_TOKEN, "the state itself is too long for a URL"

    async def render():
        response = await live.render(state, await live.stepper.goto(state, node))
        twiml = str(response)
        refs = [url.split("t=", 1)[1].split("&", 1)[0] for url in urls_in(twiml) if "t=" in url]
        opened = [await live.states.open(ref, state.call_id) for ref in refs]
        return twiml, refs, opened

    twiml, refs, opened = asyncio.run(render())
    assert refs, twiml
    for url in urls_in(twiml):
        assert len(url) <= MAX_URL, url[:120]
    assert all(ref.startswith(REF_PREFIX) for ref in refs), "a long state waits in the store"
    assert all(s.fields["incident"] == state.fields["incident"] for s in opened)
    spoken = [t for t in state.transcript if t.speaker != "system"]
    assert all(s.transcript and s.transcript == spoken[-len(s.transcript):] for s in opened), "the most recent part travels"


def test_a_reference_opens_only_for_its_own_call(live: LiveFlow):
    state = long_state()

    async def go():
        ref = await live.states.ref(state)
        assert ref.startswith(REF_PREFIX)
        with pytest.raises(TokenError):
            await live.states.open(ref, "CA" + "b" * 32)
        return (await live.states.open(ref, state.call_id)).call_id

    assert asyncio.run(go()) == state.call_id


def test_a_continuation_whose_state_is_gone_still_reaches_a_person():
    """A reference another replica kept in its own memory (no shared Redis), or one that expired: an apology and a person, not a 403."""
    settings = Settings(flow=str(HOTLINE), public_base_url="https://voice.example.test", twilio_auth_token=TOKEN,
                        engine="deterministic", emergency_number="+4930123456")
    app = create_app(settings)
    form = {"CallSid": "CA" + "c" * 32, "AccountSid": "AC" + "1" * 32, "From": "+4915112345678", "SpeechResult": "hello"}
    url = "https://voice.example.test/twilio/continue?t=~" + "x" * 22 + "&e=gather"

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://voice.example.test") as client:
            signature = RequestValidator(TOKEN).compute_signature(url, form)
            return await client.post(url.removeprefix("https://voice.example.test"), data=form, headers={"X-Twilio-Signature": signature})

    response = asyncio.run(go())
    assert response.status_code == 200
    twiml = ElementTree.fromstring(response.text)
    assert "something went wrong" in " ".join(e.text or "" for e in twiml.iter("Say")).lower()
    assert [n.text for n in twiml.iter("Dial")] == ["+4930123456"]
