"""Post-call artefacts (recording link, transcript, AI transcription on the alert) and one alert per outage."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import respx

from agent.core.call import Alert, AlertLink, AlertNote, AlertReceipt, Call
from agent.core.facts import OpenIncident
from agent.flow.models import PluginRef
from agent.core.registry import load_registry
from agent.core.alert_ledger import ALERT_LEDGER, MAX_REPORTS, AlertLedger, already_reported
from agent.server.app import create_app
from agent.core.settings import Settings
from agent.core.shared_state import MemoryState
from agent.core.sources import PluginContext, build_plugin
from agent.testing.settings import ACCOUNT, PUBLIC, TOKEN, agent_settings
from agent.testing.twiml_interpreter import TwimlInterpreter
from plugins import ilert, pagerduty
from tests.contracts.checker import Contract, checked, contract_route
from tests.helpers import agent_lines, simulate

FIXTURES = Path(__file__).parent / "fixtures"
ILERT = "https://ilert.test"
TWILIO = "https://twilio.test"
OPENAI = "https://openai.test/v1"
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
RECORDING = "RE5a1b2c3d4e5f60718293a4b5c6d7e8f9"


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


FLOW = """
name: after-call test
timezone: UTC
start: agent
after_call: {record: true, notice: "This call is recorded.", transcript: true, transcribe: true}
nodes:
  agent:
    type: ai_agent
    greeting: Hello, what's going on?
    intents: {incident: alert, system_outage: alert, talk_to_human: alert}
    gathers: [incident, affected_services, caller_name]
    enrichment:
      sources: [{type: static, facts: {services: [{service: Checkout, status: operational}]}}]
    known_issue: alert
    fallback: alert
  alert:
    type: create_alert
    platform: {type: ilert}
    next: page
  page:
    type: route_call
    targets: [{type: number, number: "+4930901800", name: Desk}]
"""


# --------------------------------------------------------------------------- the ledger


def test_a_report_is_known_until_its_time_is_up():
    now = [0.0]
    ledger = AlertLedger(MemoryState(clock=lambda: now[0]))
    alert = Alert(summary="Jane: checkout down", details="", dedup_key="system_outage:checkout", fields={"affected_services": ["Checkout"]},
                  receipt=AlertReceipt(platform="ilert", url="https://acme.ilert.com/alert/1"))
    assert asyncio.run(ledger.get("system_outage:checkout")) is None
    asyncio.run(ledger.record(alert, ttl_s=60))
    asyncio.run(ledger.record(alert, ttl_s=60))
    report = asyncio.run(ledger.get("system_outage:checkout"))
    assert (report.callers, report.url) == (2, "https://acme.ilert.com/alert/1")
    [fact] = asyncio.run(ledger.facts())
    assert fact.services == ["Checkout"] and fact.dedup_key == "system_outage:checkout"
    assert fact.speak(NOW, timezone.utc) == (
        "You're not the first to report this: a system outage of Checkout was reported by 2 other callers, "
        "and the on-call team has been alerted.")
    now[0] = 61
    assert asyncio.run(ledger.get("system_outage:checkout")) is None and asyncio.run(ledger.facts()) == []


def test_the_ledger_is_bounded_and_keeps_nothing_without_a_key():
    ledger = AlertLedger()
    asyncio.run(ledger.record(Alert(summary="s", details=""), ttl_s=60))
    assert asyncio.run(ledger.facts()) == []

    async def flood() -> None:
        for i in range(MAX_REPORTS + 5):
            await ledger.record(Alert(summary="s", details="", dedup_key=f"incident:svc{i}"), ttl_s=60)

    asyncio.run(flood())
    assert len(asyncio.run(ledger.facts())) == MAX_REPORTS
    assert asyncio.run(ledger.get("incident:svc0")) is None
    assert asyncio.run(ledger.get(f"incident:svc{MAX_REPORTS + 4}")) is not None


def test_a_platform_alert_with_the_same_key_counts_as_already_reported():
    alert = Alert(summary="s", details="", dedup_key="incident:checkout")
    other = OpenIncident(title="Checkout 5xx", dedup_key="incident:payments")
    same = OpenIncident(title="Checkout 5xx", dedup_key="incident:checkout")
    assert not asyncio.run(already_reported(alert, [other], AlertLedger()))
    assert asyncio.run(already_reported(alert, [other, same], AlertLedger()))


def test_platform_dedup_keys_reach_the_facts():
    settings = Settings(ilert_base_url=ILERT, ilert_api_key="t")
    source = build_plugin(PluginRef(type="ilert", information=[], include_alerts=True), load_registry([("ilert", ilert)]).sources,
                          PluginContext(settings, Path(".")), kind="source")
    with respx.mock(base_url=ILERT) as api:
        contract_route(api, "ilert", "GET", "/api/alerts", json=fixture("ilert/alerts.json"))
        facts = asyncio.run(source.fetch(Call(now=NOW)))
    assert [f.dedup_key for f in facts] == ["checkout-5xx", None]


# --------------------------------------------------------------------------- one outage, one alert (simulated)


@pytest.fixture
def ilert_env(monkeypatch):
    monkeypatch.setenv("VOICE_AGENT_ILERT_BASE_URL", ILERT)
    monkeypatch.setenv("VOICE_AGENT_ILERT_ALERT_SOURCE_KEY", "il1api-key")
    monkeypatch.setenv("VOICE_AGENT_ILERT_API_KEY", "secret-token")
    with respx.mock(base_url=ILERT, assert_all_called=False) as api:
        yield api


def test_a_later_caller_hears_they_are_not_the_first_and_joins_the_same_alert(tmp_path, ilert_env):
    events = contract_route(ilert_env, "ilert", "POST", "/api/events", status=202)
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    first_call, first = simulate(flow, ["This is Jane Doe, the checkout is down for everyone", "yes"], at=NOW.isoformat())
    assert not first.alerts[0].already_reported
    assert "not the first" not in " ".join(agent_lines(first_call))

    second_call, second = simulate(flow, ["Hi, this is Bob Smith. The checkout is down, nobody can pay", "no that's all"],
                                   at=NOW.isoformat())
    told = agent_lines(second_call)
    assert ("You're not the first to report this: a system outage of Checkout was reported by another caller, "
            "and the on-call team has been alerted.") in told
    assert not any("Jane" in line or "everyone" in line for line in told)  # nothing of the first caller's words
    assert "I've added your call" not in " ".join(told)  # told once is enough
    assert second.alerts[0].already_reported
    assert "Other callers reported the same problem." in second.briefing
    bodies = [json.loads(c.request.content) for c in events.calls]
    assert len(bodies) == 2 and bodies[0]["alertKey"] == bodies[1]["alertKey"] == "system_outage:checkout"


def test_an_open_platform_alert_with_the_same_key_is_joined_and_the_caller_told(tmp_path, ilert_env):
    contract_route(ilert_env, "ilert", "GET", "/api/alerts",
                   json=[{"id": 9100, "summary": "Checkout down", "status": "PENDING", "alertKey": "system_outage:checkout"}])
    events = contract_route(ilert_env, "ilert", "POST", "/api/events", status=202)
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.replace("sources: [", "sources: [{type: ilert, information: [], include_alerts: true}, "))
    call, outcome = simulate(flow, ["This is Jane Doe, the checkout is down for everyone", "yes"], at=NOW.isoformat())
    assert "You're not the first to report this. I've added your call to the alert that is already open." in agent_lines(call)
    assert outcome.alerts[0].already_reported
    assert json.loads(events.calls.last.request.content)["alertKey"] == "system_outage:checkout"


def test_a_failed_alert_is_not_counted_as_open(tmp_path, ilert_env):
    ilert_env.post("/api/events").mock(side_effect=checked("ilert", lambda request: httpx.Response(500)))  # fault injection
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    simulate(flow, ["This is Jane Doe, the checkout is down for everyone", "yes"], at=NOW.isoformat())
    assert asyncio.run(ALERT_LEDGER.facts()) == []


def test_the_transcript_goes_with_the_alert(tmp_path, ilert_env):
    events = contract_route(ilert_env, "ilert", "POST", "/api/events", status=202)
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    simulate(flow, ["This is Jane Doe, the checkout is down for everyone", "yes"], at=NOW.isoformat())
    transcript = json.loads(events.calls.last.request.content)["customDetails"]["transcript"]
    assert "Agent: Hello, what's going on?" in transcript
    assert "Caller: This is Jane Doe, the checkout is down for everyone" in transcript


def test_no_transcript_when_the_flow_says_so(tmp_path, ilert_env):
    events = contract_route(ilert_env, "ilert", "POST", "/api/events", status=202)
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.replace("transcript: true", "transcript: false"))
    simulate(flow, ["This is Jane Doe, the checkout is down for everyone", "yes"], at=NOW.isoformat())
    assert "transcript" not in json.loads(events.calls.last.request.content)["customDetails"]


# --------------------------------------------------------------------------- platforms: links and notes


def platform(kind: str, module, settings: Settings):
    registry = load_registry([(kind, module)])
    return build_plugin(PluginRef(type=kind), registry.alert_platforms, PluginContext(settings, Path(".")), kind="alert platform")


def test_ilert_adds_a_note_as_a_second_event_with_the_same_alert_key():
    settings = Settings(ilert_base_url=ILERT, ilert_alert_source_key="il1api-key")
    alert = Alert(summary="Checkout down", details="", dedup_key="incident:checkout",
                  receipt=AlertReceipt(platform="ilert", key="incident:checkout"))
    note = AlertNote(text="Transcription: the checkout is down", links=[AlertLink(href="https://rec/1.mp3", text="Call recording")])
    with respx.mock(base_url=ILERT) as api:
        route = contract_route(api, "ilert", "POST", "/api/events", status=202)
        asyncio.run(platform("ilert", ilert, settings).add_note(alert, note))
    assert json.loads(route.calls.last.request.content) == {
        "integrationKey": "il1api-key", "eventType": "ALERT", "summary": "Checkout down", "details": "Transcription: the checkout is down",
        "priority": "HIGH", "customDetails": {"note": "Transcription: the checkout is down"}, "alertKey": "incident:checkout",
        "links": [{"href": "https://rec/1.mp3", "text": "Call recording"}],
    }


def test_pagerduty_sends_links_and_the_transcript_and_adds_notes_under_the_dedup_key():
    settings = Settings(pagerduty_routing_key="R0UTING", pagerduty_events_url="https://events.pd.test")
    alert = Alert(summary="Checkout down", details="briefing", dedup_key="incident:checkout", transcript="Caller: it's down",
                  links=[AlertLink(href="https://rec/1.mp3", text="Call recording")])
    with respx.mock() as api:
        route = contract_route(api, "pagerduty-events", "POST", "https://events.pd.test/v2/enqueue", json=fixture("pagerduty/enqueue.json"), status=202)
        plugin = platform("pagerduty", pagerduty, settings)
        alert.receipt = asyncio.run(plugin.open_alert(alert, Call()))
        opened = json.loads(route.calls.last.request.content)
        asyncio.run(plugin.add_note(alert, AlertNote(text="Transcription: it's down")))
        noted = json.loads(route.calls.last.request.content)
    assert opened["links"] == [{"href": "https://rec/1.mp3", "text": "Call recording"}]
    assert opened["payload"]["custom_details"]["transcript"] == "Caller: it's down"
    assert noted["dedup_key"] == alert.receipt.key and noted["event_action"] == "trigger"
    assert noted["payload"]["custom_details"] == {"note": "Transcription: it's down"}
    assert noted["payload"]["summary"] == "Checkout down" and "links" not in noted


# --------------------------------------------------------------------------- a live call with recording and transcription


def live_settings(flow: Path) -> Settings:
    """The agent under test with Twilio's REST API, OpenAI (transcription) and ilert at the ``world`` mocks."""
    return agent_settings(
        flow, twilio_api_base_url=TWILIO, openai_api_key="sk-test", openai_base_url=OPENAI,
        ilert_base_url=ILERT, ilert_alert_source_key="il1api-key", rest_retries=0, recording_wait_s=5,
    )


def run_gather_call(settings: Settings, turns: list[str]):
    app = create_app(settings)

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
            twilio = TwimlInterpreter(client, PUBLIC, auth_token=TOKEN, from_number="+4915112345678")
            record = await twilio.call(turns)
        await app.state.live.drain(5)  # the after-call work runs once the call has ended
        return record, twilio.call_sid

    return asyncio.run(go())


@pytest.fixture
def world():
    """Twilio's REST API (recordings), OpenAI's transcription endpoint and ilert's events API."""
    with respx.mock(assert_all_called=False) as mock:
        recordings = mock.get(url__regex=rf"{TWILIO}/2010-04-01/Accounts/{ACCOUNT}/Calls/CA\w+/Recordings\.json").respond(
            json=fixture("twilio/call-recordings.json"))
        audio = mock.get(f"{TWILIO}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RECORDING}.mp3").respond(
            content=b"ID3fake-mp3-bytes", headers={"Content-Type": "audio/mpeg"})
        transcribe = contract_route(mock, "openai", "POST", f"{OPENAI}/audio/transcriptions", json=fixture("openai/transcription.json"))
        events = contract_route(mock, "ilert", "POST", f"{ILERT}/api/events", status=202)
        yield {"recordings": recordings, "audio": audio, "transcribe": transcribe, "events": events}


def test_a_recorded_call_puts_link_transcript_and_transcription_on_its_alert(tmp_path, world):
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    record, call_sid = run_gather_call(live_settings(flow), ["This is Jane Doe, the checkout is down for everyone", "yes"])

    assert record.said[0] == "This call is recorded."
    assert record.recordings == [{"channels": "dual", "track": "both"}]
    assert record.dialled == ["+4930901800"]

    opened, noted = [json.loads(c.request.content) for c in world["events"].calls]
    link = f"{TWILIO}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RECORDING}.mp3"
    assert opened["links"] == [{"href": link, "text": f"Call recording {RECORDING}"}]
    assert "Caller: This is Jane Doe, the checkout is down for everyone" in opened["customDetails"]["transcript"]
    assert world["recordings"].calls.last.request.url.path.endswith(f"/Calls/{call_sid}/Recordings.json")

    assert noted["alertKey"] == opened["alertKey"]  # the key the alert was opened with (ilert answers 202, no body)
    assert "customers get an error when they pay" in noted["details"]
    assert noted["links"] == [{"href": link, "text": f"Call recording {RECORDING}"}]
    upload = world["transcribe"].calls.last.request  # checked against OpenAI's spec by the route (multipart fields)
    assert upload.headers["Authorization"] == "Bearer sk-test"
    assert b"ID3fake-mp3-bytes" in upload.content and b"gpt-4o-transcribe" in upload.content


def test_the_transcription_waits_until_the_recording_is_ready(tmp_path, world):
    listing = fixture("twilio/call-recordings.json")
    processing = json.loads(json.dumps(listing))
    processing["recordings"][0]["status"] = "processing"
    world["recordings"].side_effect = [httpx.Response(200, json=listing), httpx.Response(200, json=processing), httpx.Response(200, json=listing)]
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    run_gather_call(live_settings(flow), ["This is Jane Doe, the checkout is down for everyone", "yes"])
    assert world["recordings"].call_count == 3  # the alert's link, then polled until completed
    assert world["transcribe"].call_count == 1


# OpenAI's documented 429 answer (ErrorResponse: every field of Error is required).
RATE_LIMITED = {"error": {"message": "Rate limit reached for requests", "type": "requests", "param": None, "code": "rate_limit_exceeded"}}


@pytest.mark.parametrize("failure", ["twilio", "openai"])
def test_a_failing_transcription_leaves_the_alert_as_it_was(tmp_path, world, failure):
    if failure == "twilio":
        world["audio"].respond(500)
    else:
        Contract.load("openai").check_response("POST", "/v1/audio/transcriptions", RATE_LIMITED, 429)
        world["transcribe"].side_effect = checked("openai", lambda request: httpx.Response(429, json=RATE_LIMITED))
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    record, _ = run_gather_call(live_settings(flow), ["This is Jane Doe, the checkout is down for everyone", "yes"])
    assert record.dialled == ["+4930901800"]
    assert world["events"].call_count == 1  # the alert, and no note


def test_without_recording_nothing_is_recorded_listed_or_transcribed(tmp_path, world):
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.replace("record: true", "record: false").replace("transcribe: true", "transcribe: false"))
    record, _ = run_gather_call(live_settings(flow), ["This is Jane Doe, the checkout is down for everyone", "yes"])
    assert record.recordings == [] and "This call is recorded." not in record.said
    assert world["recordings"].call_count == 0 and world["transcribe"].call_count == 0
    assert "links" not in json.loads(world["events"].calls.last.request.content)


def test_a_realtime_call_hands_the_conversation_to_the_alert(tmp_path):
    from agent.testing.fake_realtime import FakeModel
    from agent.testing.live import TWILIO_API, run_live_call, speak, twilio_rest
    from agent.testing.deterministic_brain import DeterministicBrain

    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.replace("record: true", "record: false").replace("transcribe: true", "transcribe: false"))
    model = FakeModel(DeterministicBrain(flow, caller_number="+4915112345678"))

    async def caller(call, harness) -> None:
        await call.wait_for_audio(ms=300, timeout=15)
        await call.wait_until_quiet(ms=400, timeout=15)
        for line in ["This is Jane Doe, the checkout is down for everyone", "yes"]:
            await speak(call, harness.fake_model, line, ms=900)
            await call.wait_for_audio(ms=200, timeout=15, new=True)
            await call.wait_until_quiet(ms=400, timeout=15)

    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        mock.post(url__startswith=f"{TWILIO_API}/2010-04-01/Accounts/{ACCOUNT}/Calls/").mock(side_effect=twilio_rest)
        events = contract_route(mock, "ilert", "POST", f"{ILERT}/api/events", status=202)
        record, _, _ = asyncio.run(run_live_call(model, caller, flow=flow, rest=mock, settings={
            "ilert_base_url": ILERT, "ilert_alert_source_key": "il1api-key"}))
    assert record.dialled == ["+4930901800"]
    transcript = json.loads(events.calls.last.request.content)["customDetails"]["transcript"]
    assert "Agent: Hello, what's going on?" in transcript
    assert "Caller: This is Jane Doe, the checkout is down for everyone" in transcript
