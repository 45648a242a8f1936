"""The caller hangs up mid-call: the call is cleaned up and still leaves one outcome record (``caller_hung_up``)."""

from __future__ import annotations

import asyncio

import httpx

from agent.testing.fake_realtime import FakeModel, Say, ToolCall
from tests.faults.conftest import hang_up, run_fault_call

LONG_GREETING = "Hello, I'm ACME's on-call assistant. " + "Please tell me in detail what is going on today. " * 4


def _hung_up(fc, *, rest_attempts: int = 0):
    assert fc.hung_up and not fc.stream_closed_by_server
    assert len(fc.rest_attempts) == rest_attempts
    assert fc.record.dialled == [] and fc.record.requests[-1][0].endswith("/twilio/voice"), "Twilio ran no more TwiML"
    outcome = fc.assert_complete_outcome("caller_hung_up")
    assert outcome.nodes[-1] == "agent" or rest_attempts, outcome.nodes
    assert "hung up during the AI agent node" in fc.log
    assert "model_errors_total{" not in fc.metrics, "a hang-up is not a model failure"
    assert 'voice_agent_flow_outcomes_total{outcome="caller_hung_up"} 1.0' in fc.metrics
    fc.assert_clean()
    return outcome


def test_caller_hangs_up_during_the_greeting():
    async def caller(call, fc):
        await call.wait_for_audio(ms=300, timeout=10)
        await hang_up(fc, call)

    fc = asyncio.run(run_fault_call(FakeModel([Say(LONG_GREETING)]), caller))
    _hung_up(fc)
    assert fc.media.played_ms < 2000, "hung up while the greeting still played"


def test_caller_hangs_up_while_the_model_is_mid_tool_turn():
    async def thinking(turn):
        await asyncio.sleep(10)  # the model takes its time to answer the tool result
        return Say("Thanks.")

    model = FakeModel([
        Say("Hello, what's going on?"),
        ToolCall("record_details", {"caller_name": "Jane Doe", "incident": "payments API returns errors"}),
        thinking,
    ])

    async def caller(call, fc):
        await call.wait_for_audio(ms=100, timeout=10)
        await call.wait_until_quiet(ms=300, timeout=10)
        fc.fake.caller_said("Jane Doe here, the payments API returns errors")
        await call.say(800)
        await fc.fake.wait_for("conversation.item.create", timeout=10)  # the tool's result
        await fc.fake.wait_for("response.create", count=2, timeout=10)  # ... and the model asked to go on
        await hang_up(fc, call)

    fc = asyncio.run(run_fault_call(model, caller))
    outcome = _hung_up(fc)
    assert outcome.fields.get("caller_name") == "Jane Doe", "what the tool recorded is in the outcome"
    assert "payments" in outcome.fields.get("incident", "")


def test_caller_hangs_up_during_the_redirect():
    model = FakeModel([
        [Say("Hello."), ToolCall("route_call", {"intent": "talk_to_human", "summary": "wants a person"})],
        Say("Connecting you now."),
    ])

    async def twilio_rest(request: httpx.Request, fc):
        fc.notes["redirecting"].set()
        await asyncio.sleep(0.5)  # meanwhile the caller hangs up
        return httpx.Response(400, json={"code": 21220, "message": "Call is not in-progress. Cannot redirect."})

    async def caller(call, fc):
        fc.notes["redirecting"] = asyncio.Event()
        await asyncio.wait_for(fc.notes["redirecting"].wait(), 10)
        await hang_up(fc, call)

    fc = asyncio.run(run_fault_call(model, caller, rest=twilio_rest))
    outcome = _hung_up(fc, rest_attempts=1)
    assert outcome.intent == "talk_to_human", "the agent's decision is kept"
    assert "had already ended" in fc.log
