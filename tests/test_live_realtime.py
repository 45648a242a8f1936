"""Live calls with the realtime model, end to end over real sockets.

The real server runs on loopback; a fake Twilio drives it (TwiML webhooks and
a Media Streams client sending paced 8 kHz mu-law); a fake OpenAI Realtime
server answers; Twilio's REST API is mocked with respx.
"""

from __future__ import annotations

import asyncio
import functools
import json

import httpx

from agent.server.app import create_app
from agent.testing.fake_realtime import FakeModel, FakeRealtimeServer, Say, ToolCall
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.live import Harness, live_settings, run_live_call, speak
from agent.testing.server import running_server
from tests.conftest import HOTLINE

run = functools.partial(run_live_call, flow=HOTLINE)

def test_outage_call_is_gathered_by_the_model_and_redirected_to_the_alert_branch():
    model = FakeModel([
        Say("Hello, I'm ACME's on-call assistant. What's going on?"),
        ToolCall("record_details", {"incident": "Login page times out for all users", "affected_services": ["login"], "caller_name": "Jane Doe"}),
        Say("Thanks Jane. Can we reach you at the number you are calling from?"),
        ToolCall("record_details", {"contact_number": "+4915112345678"}),
        ToolCall("route_call", {"intent": "system_outage", "summary": "Login down for all users"}),
        Say("I'm connecting you now."),
    ])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=500, timeout=10)  # the greeting
        await call.wait_until_quiet(ms=300, timeout=10)
        await speak(call, harness.fake_model, "Hi, Jane Doe here, the login page times out for everyone")
        await call.wait_for_audio(ms=500, timeout=10, new=True)
        await call.wait_until_quiet(ms=300, timeout=10)
        await speak(call, harness.fake_model, "yes that's fine")

    record, harness, fake = asyncio.run(run(model, caller))
    assert harness.media is not None and harness.media.first_audio_at is not None, "greeting audio arrived"
    assert fake.session.config["audio"]["input"]["format"]["type"] == "audio/pcmu"
    assert fake.session.config["audio"]["output"]["format"]["type"] == "audio/pcmu"
    assert len(harness.redirects) == 1
    assert [set(u) for u in harness.updates] == [{"Url", "Method", "FallbackUrl", "FallbackMethod"}], "redirected by URL: no TwiML grows in a REST parameter"
    assert harness.redirects[0].startswith(harness.base + "/twilio/continue?")
    spoken_by_model = [text for role, text in fake.session.dialogue() if role == "assistant"]
    assert "I'm connecting you now." in spoken_by_model
    assert not any("connecting you now" in line for line in record.said), "the model said it: Twilio does not say it again"
    assert record.dialled == ["+4930901820"]
    assert "Jane Doe called the hotline about: system outage" in record.whispers[0]
    assert not fake.problems
    marks = harness.media.marks_echoed
    assert marks and len(marks) == len(set(marks)), "each mark reached Twilio once (no second copy from another sender)"
    assert len(marks) <= harness.media.received_ms / 200 + 3, "a mark every ~200 ms of bot audio, not per chunk"


def test_barge_in_clears_twilio_and_truncates_at_what_was_heard():
    model = FakeModel([
        Say("Hello, I'm ACME's on-call assistant. " + "Please tell me in detail what is going on today. " * 6),
        ToolCall("route_call", {"intent": "talk_to_human", "summary": "caller wants a person"}),
        Say("I'm connecting you now."),
    ])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=1500, timeout=10)  # part of a long greeting
        await speak(call, harness.fake_model, "sorry to interrupt, get me a person")

    record, harness, fake = asyncio.run(run(model, caller))
    media = harness.media
    assert media.clears >= 1, "Twilio was told to drop the unplayed greeting"
    truncations = [e for e in fake.received if e["type"] == "conversation.item.truncate"]
    assert len(truncations) == 1
    heard_ms = truncations[0]["audio_end_ms"]
    greeting_ms = fake.session.truncations[0]["audio_ms"] if "audio_ms" in fake.session.truncations[0] else None
    assert 0 < heard_ms <= media.played_ms + 250, "truncated at what the caller had heard, not at what was sent"
    if greeting_ms is not None:
        assert heard_ms < greeting_ms
    assert record.dialled == ["+4930901820"]


def test_model_dropping_mid_call_continues_in_deterministic_mode_with_fields_kept():
    model = FakeModel([
        Say("Hello, what's going on?"),
        ToolCall("record_details", {"caller_name": "Jane Doe", "incident": "payments API returns errors", "affected_services": ["Payments"]}),
        Say("Thanks Jane."),
    ])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=300, timeout=10)
        await call.wait_until_quiet(ms=300, timeout=10)
        await speak(call, harness.fake_model, "Jane Doe, the payments API returns errors")
        await harness.fake_model.wait_for("conversation.item.create", count=1, timeout=10)  # the tool result
        await harness.fake_model.drop()

    record, harness, fake = asyncio.run(run(model, caller, gather_turns=["yes", "no", "no"]))
    said = " ".join(record.said)
    assert "Sorry, I'm having a technical problem. Let's continue." in said
    assert "Can we reach you at +49 1511 2345678?" in said, "the deterministic mode asks for what is still missing"
    assert "May I have your name" not in said, "what the model gathered is kept"
    assert record.dialled, said
    assert record.dialled == ["+4930901820"]
    assert "Jane Doe called the hotline" in record.whispers[0]


def test_model_refusing_the_connection_hands_the_call_to_the_deterministic_mode():
    record, harness, fake = asyncio.run(run(
        FakeModel([]), lambda call, harness: asyncio.sleep(30), fault=lambda fake: fake.refuse_connections(500),
        gather_turns=["I need a human"],
    ))
    said = " ".join(record.said)
    assert "Sorry, I'm having a technical problem. Let's continue." in said
    assert record.dialled == ["+4930901820"]


QUICK_FLOW = """
name: Quick timers
start: agent
nodes:
  agent:
    type: ai_agent
    greeting: Hello, what's going on?
    intents: {incident: human, talk_to_human: human}
    gathers: [caller_name, contact_number]
    fallback: human
    silence_reprompt_s: 1
    max_no_input: 1
  human: {type: route_call, targets: [{type: number, number: "+4930555000"}]}
"""


def test_silence_is_reprompted_by_the_model_then_handed_to_a_human(tmp_path):
    flow = tmp_path / "quick.yaml"
    flow.write_text(QUICK_FLOW)
    model = FakeModel([Say("Hello, what's going on?"), Say("Are you still there?"), Say("I'm putting you through to a person now.")])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await asyncio.sleep(30)  # says nothing at all

    record, harness, fake = asyncio.run(run_live_call(model, caller, flow=flow))
    creates = [e for e in fake.received if e["type"] == "response.create"]
    instructions = [(e.get("response") or {}).get("instructions", "") for e in creates]
    assert any("silent" in i for i in instructions), "the model was asked to re-prompt"
    assert any(i.endswith("I can't hear you, so I'll put you through to someone who can help.") for i in instructions), "then to say the hand-over line"
    assert record.dialled == ["+4930555000"]


def test_keyed_in_digits_reach_the_model_as_text():
    model = FakeModel([
        Say("Hello, what's going on?"),
        lambda turn: [ToolCall("record_details", {"contact_number": turn.user_text.rsplit(" ", 1)[-1]}),
                      ToolCall("route_call", {"intent": "talk_to_human", "summary": "wants a person", "details_declined": True})],
        Say("Connecting you."),
    ])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=300, timeout=10)
        for key in "01712345678#":
            await call.press(key)

    record, harness, fake = asyncio.run(run(model, caller))
    typed = [
        e["item"]["content"][0]["text"] for e in fake.received
        if e["type"] == "conversation.item.create" and e["item"].get("role") == "user"
    ]
    assert typed == ["I keyed in on my phone: 01712345678"]
    assert "Call back on +49 171 2345678." in record.whispers[0]


def test_failover_reaches_twilio_within_two_seconds_of_the_model_dying():
    model = FakeModel([Say("Hello, what's going on?")])
    timings = {}

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=200, timeout=10)
        timings["dropped"] = asyncio.get_running_loop().time()
        await harness.fake_model.drop()
        await harness.redirected.wait()
        timings["redirected"] = asyncio.get_running_loop().time()

    record, harness, fake = asyncio.run(run(model, caller, gather_turns=["I need a person"]))
    assert timings["redirected"] - timings["dropped"] < 2.0
    assert record.dialled == ["+4930901820"]


def test_a_media_stream_without_a_valid_signature_is_refused():
    async def go():
        async with FakeRealtimeServer(FakeModel([])) as fake:
            async with running_server(lambda base: create_app(live_settings(base, fake.url, HOTLINE))) as (base, app):
                url = base.replace("http://", "ws://") + "/twilio/media"
                outcomes = []
                for token in (None, "wrong-token"):
                    try:
                        async with FakeTwilioCall(url, auth_token=token) as call:
                            await call.wait_closed(timeout=5)
                            outcomes.append(call.close_code)
                    except Exception as exc:  # refused at the upgrade
                        outcomes.append(type(exc).__name__)
                return outcomes, len(fake.handshakes)

    outcomes, model_connections = asyncio.run(go())
    assert outcomes == ["InvalidStatus", "InvalidStatus"]
    assert model_connections == 0, "no model session is opened for a refused stream"


def test_metrics_count_reply_latency_and_model_failures():
    model = FakeModel([Say("Hello, what's going on?"), Say("I see."), Say("Okay.")])
    seen = {}

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=200, timeout=10)
        await call.wait_until_quiet(ms=300, timeout=10)
        await speak(call, harness.fake_model, "the database is slow")
        await call.wait_for_audio(ms=100, timeout=10, new=True)
        async with httpx.AsyncClient(base_url=harness.base) as client:
            seen["before"] = (await client.get("/metrics")).text
        await harness.fake_model.send_error("server_error", "boom")

    record, harness, fake = asyncio.run(run(model, caller, gather_turns=["I need a person"]))
    assert "voice_agent_voice_to_voice_seconds_count 1.0" in seen["before"]
    assert 'voice_agent_model_errors_total{kind="error_event"} 1.0' in harness.final_metrics


def test_local_voice_detection_barges_in_before_the_model_hears_anything():
    from agent.testing.voice import spoken

    model = FakeModel([
        Say("Hello, I'm ACME's on-call assistant. " + "Please tell me in detail what is going on today. " * 6),
        Say("Sorry, go ahead."),
    ])
    seen = {}

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=1500, timeout=10)
        await call.say(audio=spoken(800, peak=0.02))  # too quiet for the model's VAD, clearly a voice locally
        await asyncio.sleep(0.5)
        seen["clears"] = call.clears
        seen["model_heard_speech"] = any(e["type"] == "input_audio_buffer.speech_started" for e in harness.fake_model.sent)
        seen["sent"] = [e["type"] for e in harness.fake_model.received]
        await harness.fake_model.drop()  # end the call through the fail-over

    asyncio.run(run(model, caller, gather_turns=["I need a person"]))
    assert seen["clears"] == 1
    assert not seen["model_heard_speech"]
    assert "conversation.item.truncate" in seen["sent"]


def test_turn_detection_and_voice_settings_reach_the_session():
    model = FakeModel([Say("Hello?"), Say("Okay.")])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=100, timeout=10)
        await harness.fake_model.drop()

    async def go():
        return await run_live_call(
            model, caller, flow=HOTLINE, gather_turns=["I need a person"],
            settings={"vad_silence_ms": 800, "vad_threshold": 0.7, "openai_realtime_model": "gpt-realtime-test"},
        )

    record, harness, fake = asyncio.run(go())
    session = fake.sessions[0].config
    detection = session["audio"]["input"]["turn_detection"]
    assert (detection["type"], detection["silence_duration_ms"], detection["threshold"]) == ("server_vad", 800, 0.7)
    assert session["audio"]["output"]["voice"] == "marin"
    assert fake.sessions[0].model == "gpt-realtime-test"


def test_a_known_issue_the_model_makes_up_is_refused_and_the_caller_reaches_a_person():
    def after_end_call(turn):
        refused = "error" in (turn.tool_output or "")
        if refused:
            return [ToolCall("route_call", {"intent": "talk_to_human", "summary": "VPN down", "details_declined": True})]
        return [Say("We know about it. Goodbye.")]

    model = FakeModel([
        Say("Hello, I'm ACME's on-call assistant. What's going on?"),
        ToolCall("end_call", {"reason": "known_issue", "summary": "VPN already being fixed"}),  # no fact says so
        after_end_call,
        Say("I'm connecting you now."),
    ])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=500, timeout=10)
        await call.wait_until_quiet(ms=300, timeout=10)
        await speak(call, harness.fake_model, "Hi, our VPN keeps dropping every few minutes")

    record, harness, fake = asyncio.run(run(model, caller))
    outputs = [json.loads(e["item"]["output"]) for e in fake.received
               if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"]
    assert "not a known issue" in outputs[0]["error"]
    assert record.dialled == ["+4930901820"], "the caller reaches the on-call engineer, not the known-issue goodbye"
    assert not any("We'll post updates on status.acme.example" in line for line in record.said)
    assert not fake.problems
