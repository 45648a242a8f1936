"""Every call has an event log an operator can follow, keyed by the call id its outcome record carries.

Before, a call logged 2–7 INFO lines: nothing about barge-ins, tool calls and
their results, speaker changes, re-prompts, model errors or the fail-over.
Events carry system data only: which fields a tool saved, never their values.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from loguru import logger

from agent.core.events import call_event
from agent.core.logs import setup_logging
from agent.testing.fake_realtime import FakeModel, Say, ToolCall
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.live import Harness, run_live_call, speak
from tests.conftest import HOTLINE
from tests.test_server_gather import run_call

NAME, NUMBER, PROBLEM = "Jane Doe", "+4915112345678", "the login page times out for everyone"


@pytest.fixture
def events():
    records: list[dict] = []
    sink = logger.add(lambda message: records.append(message.record), level="INFO", filter=lambda r: "event" in r["extra"])
    yield records
    logger.remove(sink)


def of(records: list[dict], call_id: str) -> list[tuple[str, dict]]:
    return [(r["extra"]["event"], r["extra"]) for r in records if r["extra"].get("call_id") == call_id]


def no_caller_data(records: list[dict]) -> None:
    for record in records:
        text = record["message"] + json.dumps(record["extra"], default=str)
        for secret in (NAME, NUMBER, "login page times out", "1511"):
            assert secret not in text, (secret, text)


def test_a_realtime_call_logs_barge_in_tools_speakers_decision_and_outcome(events):
    model = FakeModel([
        Say("Hello, I'm ACME's on-call assistant. " + "Please tell me in detail what is going on today. " * 4),
        ToolCall("record_details", {"caller_name": NAME, "incident": PROBLEM, "affected_services": ["login"], "contact_number": NUMBER}),
        ToolCall("route_call", {"intent": "system_outage", "summary": "Login down"}),
        Say("I'm connecting you now."),
    ])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=1200, timeout=10)
        await speak(call, harness.fake_model, f"sorry, {NAME} here, {PROBLEM}")

    record, harness, fake = asyncio.run(run_live_call(model, caller, flow=HOTLINE, from_number=NUMBER))
    log = of(events, harness.call_sid)
    kinds = [kind for kind, _ in log]
    for kind in ("call_started", "node", "speaker", "barge_in", "tool", "decided", "moves_on", "dial_result", "outcome"):
        assert kind in kinds, (kind, kinds)
    tools = [fields for kind, fields in log if kind == "tool"]
    assert tools[0]["name"] == "record_details" and tools[0]["saved"] == "affected_services,caller_name,contact_number,incident"
    assert [f["now"] for k, f in log if k == "speaker"][:2] == ["bot", "caller"]
    outcome = [f for k, f in log if k == "outcome"][-1]
    assert outcome["end_reason"] == "connected" and outcome["branch"] == "alert"
    assert kinds[0] == "call_started" and kinds[-1] == "outcome"
    no_caller_data(events)


def test_a_model_failure_is_logged_with_the_fail_over(events):
    model = FakeModel([Say("Hello, what's going on?")])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=300, timeout=10)
        await harness.fake_model.drop()

    record, harness, fake = asyncio.run(run_live_call(model, caller, flow=HOTLINE, gather_turns=["I need a person"]))
    log = of(events, harness.call_sid)
    errors = [f for k, f in log if k == "model_error"]
    assert errors and errors[0]["kind"] == "connection_lost"
    assert any(k == "moves_on" and "deterministic mode" in f["why"] for k, f in log)
    assert any(k == "turn" and f["mode"] == "deterministic" for k, f in log), "the deterministic mode's turns are logged too"


def test_a_gather_call_logs_its_turns_and_outcome_under_its_call_id(events):
    record = run_call([f"Hi, this is {NAME}. {PROBLEM}.", "yes", "no", "no"])
    call_id = record.requests[0][1]["CallSid"]
    kinds = [k for k, _ in of(events, call_id)]
    assert kinds.count("turn") >= 2 and "node" in kinds and kinds[-1] == "outcome"
    no_caller_data(events)


def test_json_logs_carry_the_call_id_and_event(capsys):
    setup_logging("INFO", json=True)
    try:
        call_event("CA" + "f" * 32, "reprompt", silent_s=6.0, reprompts=1)
    finally:
        setup_logging("WARNING")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert {k: line[k] for k in ("call_id", "event", "silent_s", "reprompts", "level")} == {
        "call_id": "CA" + "f" * 32, "event": "reprompt", "silent_s": 6.0, "reprompts": 1, "level": "INFO",
    }
    assert line["message"] == f"call {'CA' + 'f' * 32} reprompt silent_s=6.0 reprompts=1"


def test_json_logs_are_redacted_value_by_value(capsys):
    setup_logging("INFO", json=True)
    try:
        logger.info("callback wanted on {}", NUMBER)
    finally:
        setup_logging("WARNING")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "callback wanted on [phone]", "a valid JSON line whose text is masked"
