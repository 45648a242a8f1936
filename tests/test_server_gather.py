"""Live calls without a realtime model: the deterministic engine behind Twilio's <Gather>, end to end."""

import asyncio

import httpx
import pytest

from agent.server.app import create_app
from agent.core.settings import Settings
from agent.testing.twiml_interpreter import Spoken, TwimlInterpreter
from tests.conftest import HOTLINE
from tests.test_walker_nodes import NIGHT_LINE  # the same flow the simulator is tested with

PUBLIC = "https://voice.example.test"
TOKEN = "twilio-auth-token"


def settings(**overrides) -> Settings:
    values = dict(
        flow=str(HOTLINE), public_base_url=PUBLIC, twilio_auth_token=TOKEN, twilio_account_sid="AC" + "1" * 32,
        engine="deterministic", openai_api_key=None,
    )
    values.update(overrides)
    return Settings(**values)


def run_call(turns, *, app=None, answer_dials=True, from_number="+4915112345678", auth_token=TOKEN):
    app = app or create_app(settings())

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
            twilio = TwimlInterpreter(client, PUBLIC, auth_token=auth_token, from_number=from_number, answer_dials=answer_dials)
            return await twilio.call(turns)

    return asyncio.run(go())


def test_outage_call_gathers_details_and_dials_on_call_with_a_whisper(gather_call):
    record = gather_call(HOTLINE, [
        "Hi, this is Jane Doe from Initech. Our users can't log in at all, the login page just times out.",
        "yes",
        "jane dot doe at initech dot com",
        "yes",
        Spoken(digits="2093155"),
    ], from_number="+4915112345678")
    said = " ".join(record.said)
    assert "You've reached the ACME on-call hotline." in said
    assert "Can we reach you at +49 1511 2345678?" in said
    assert "I have jane dot doe at initech dot com as your e-mail. Is that right?" in said
    assert record.dialled == ["+4930901820"]
    assert record.whispers and "Jane Doe called the hotline about: system outage" in record.whispers[0]
    assert all(status == 200 for status in record.statuses)


def test_known_incident_caller_hears_it_and_nobody_is_dialled(gather_call):
    record = gather_call(HOTLINE, ["the checkout is broken, customers can't pay", "no that's all"])
    said = " ".join(record.said)
    assert "Checkout API returning 502 errors" in said
    assert "We'll post updates on status.acme.example. Goodbye." in said
    assert record.dialled == [] and record.hung_up


def test_silence_reprompts_then_reaches_a_human(gather_call):
    record = gather_call(HOTLINE, [Spoken(), Spoken(), Spoken()])
    assert record.said.count("Sorry, I didn't catch that.") == 2
    assert record.dialled == ["+4930901820"]


def test_nobody_answers_so_every_target_is_tried_then_voicemail(gather_call):
    record = gather_call(HOTLINE, ["put me through to a person please", "Jane here, checkout is down, call me back"], answer_dials=False)
    assert record.dialled == ["+4930901820", "+4930901821", "+4930901820", "+4930901821"]
    assert "Please leave a message" in " ".join(record.said)
    assert "Thank you. Someone will call you back as soon as possible." in record.said


def test_a_missing_or_wrong_signature_is_refused():
    record = run_call(["hello"], auth_token=None)
    assert record.statuses == [403]
    wrong = run_call(["hello"], auth_token="not-the-token")
    assert wrong.statuses == [403]


def test_a_tampered_or_foreign_token_is_refused():
    app = create_app(settings())

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
            first = TwimlInterpreter(client, PUBLIC, auth_token=TOKEN)
            response = await first.post("/twilio/voice", {"CallSid": first.call_sid, "From": "+4915112345678"})
            action = response.text.split('action="')[1].split('"')[0].replace("&amp;", "&")
            other = TwimlInterpreter(client, PUBLIC, auth_token=TOKEN)
            stolen = await other.post(action, {"CallSid": other.call_sid, "SpeechResult": "hi"})
            tampered = await first.post(action.replace("t=", "t=x"), {"CallSid": first.call_sid, "SpeechResult": "hi"})
            genuine = await first.post(action, {"CallSid": first.call_sid, "SpeechResult": "I need a human"})
            return stolen.status_code, tampered.status_code, genuine.status_code

    assert asyncio.run(go()) == (403, 403, 200)


def test_health_and_metrics():
    app = create_app(settings())

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
            twilio = TwimlInterpreter(client, PUBLIC, auth_token=TOKEN)
            await twilio.call(["the checkout is broken", "no that's all"])
            await twilio.post("/twilio/status", {"CallSid": twilio.call_sid, "CallStatus": "completed"})
            return (await client.get("/healthz")).json(), (await client.get("/metrics")).text

    health, metrics = asyncio.run(go())
    assert health == {"status": "ok", "flow": "ACME on-call hotline"}
    assert "voice_agent_calls_active 0.0" in metrics
    assert 'voice_agent_calls_total{outcome="completed"} 1.0' in metrics
    assert 'voice_agent_flow_outcomes_total{outcome="hangup"} 1.0' in metrics


def test_the_server_needs_a_public_url():
    with pytest.raises(ValueError, match="VOICE_AGENT_PUBLIC_BASE_URL"):
        create_app(settings(public_base_url=None))


def test_a_caller_from_germany_is_answered_in_german_in_the_deterministic_mode(gather_call, tmp_path):
    flow = tmp_path / "de.yaml"
    flow.write_text("""
name: Multilingual
start: agent
nodes:
  agent:
    type: ai_agent
    greeting: Hello, what's wrong?
    language: en
    languages:
      de: {greeting: "Hallo, was ist passiert?", messages: {handover: "Ich verbinde Sie jetzt."}}
    intents: {talk_to_human: human}
    fallback: human
  human: {type: route_call, targets: [{type: number, number: "+4930555000"}]}
""")
    german = gather_call(flow, ["I need a person"], from_number="+4930123456")
    american = gather_call(flow, ["I need a person"], from_number="+14155550134")
    assert german.said[:2] == ["Hallo, was ist passiert?", "Ich verbinde Sie jetzt."]
    assert american.said[:2] == ["Hello, what's wrong?", "I'm connecting you now."]


def test_the_engineer_takes_the_call_with_a_key_and_can_hear_the_callers_words_first(gather_call):
    record = gather_call(HOTLINE, ["the export job keeps failing every night", "Sam Lee", "yes", "no", "no"], callee_keys="21")
    assert record.dialled == ["+4930901820"]
    assert any("The caller said: the export job keeps failing every night." in w for w in record.whispers)
    assert "Press 1 to take the call" in record.whispers[0]


def test_a_pass_or_a_voicemail_box_moves_on_to_the_next_engineer(gather_call):
    keys = {"+4930901820": "3", "+4930901821": ""}  # Alice passes; Bob's voicemail presses nothing
    record = gather_call(HOTLINE, ["put me through to a person please", "Jane here, call me back"], callee_keys=lambda n: keys.get(n, "1"))
    assert record.dialled == ["+4930901820", "+4930901821", "+4930901820", "+4930901821"]
    assert "Please leave a message" in " ".join(record.said)




@pytest.mark.parametrize(("now", "said"), [
    ("2026-03-13T23:30:00+01:00", "The night shift is taking your call."),  # Friday night
    ("2026-03-14T03:00:00+01:00", "The night shift is taking your call."),  # Saturday 03:00: Friday's window
    ("2026-03-14T07:00:00+01:00", "We are closed."),
    ("2026-03-13T03:00:00+01:00", "We are closed."),  # Friday's small hours belong to Thursday's night
])
def test_support_hours_past_midnight_on_a_live_call(gather_call, tmp_path, monkeypatch, now, said):
    from datetime import datetime

    from agent.core import call as call_module

    monkeypatch.setattr(call_module, "utc_now", lambda: datetime.fromisoformat(now))
    flow = tmp_path / "night.yaml"
    flow.write_text(NIGHT_LINE)
    record = gather_call(flow, [])
    assert record.said == [said] and record.hung_up


def test_parallel_route_call_rings_everyone_again_for_each_retry(gather_call, tmp_path):
    flow = tmp_path / "parallel.yaml"
    flow.write_text("""
name: Parallel
start: page
nodes:
  page:
    type: route_call
    targets: [{type: number, number: "+4930111111"}, {type: number, number: "+4930222222"}]
    call_style: parallel
    retries: 2
    whisper: false
    no_answer: sorry
  sorry: {type: hangup, text: Nobody answered.}
""")
    record = gather_call(flow, [], answer_dials=False)
    assert record.dialled == ["+4930111111", "+4930222222"] * 3
    assert record.said[-1] == "Nobody answered."


def test_whisper_accept_keeps_voicemail_out_without_a_briefing(gather_call, tmp_path):
    flow = tmp_path / "accept.yaml"
    flow.write_text("""
name: Accept without a briefing
start: page
nodes:
  page:
    type: route_call
    targets: [{type: number, number: "+4930111111"}, {type: number, number: "+4930222222"}]
    whisper: false
    no_answer: sorry
  sorry: {type: hangup, text: Nobody answered.}
""")
    keys = {"+4930111111": ""}  # a voicemail box: presses nothing
    record = gather_call(flow, [], callee_keys=lambda n: keys.get(n, "1"))
    assert record.dialled == ["+4930111111", "+4930222222"], "the voicemail box did not take the call"
    assert record.whispers and all("called the hotline" not in w for w in record.whispers), "no briefing"
    assert "Press 1 to take the call" in record.whispers[0]
