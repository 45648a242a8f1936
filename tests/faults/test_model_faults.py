"""The realtime model misbehaves: the caller still reaches the deterministic mode (or the call just goes on)."""

from __future__ import annotations

import asyncio
import json

from agent.testing.fake_realtime import FakeModel, Say, ToolCall
from tests.faults.conftest import (
    FALLBACK_LINE,
    ON_CALL,
    QUICK_ON_CALL,
    quick_flow,
    run_fault_call,
)


def _reached_deterministic_mode(fc, kind: str, number: str = ON_CALL) -> None:
    assert FALLBACK_LINE in fc.said, fc.said
    assert fc.record.dialled == [number], fc.said
    assert len(fc.redirects) == 1 and "/twilio/continue?" in fc.redirects[0] and fc.redirects[0].endswith("e=gather")
    assert f'voice_agent_model_errors_total{{kind="{kind}"}} 1.0' in fc.metrics
    fc.assert_complete_outcome("connected")
    fc.assert_clean()


async def _listen(call, fc) -> None:
    await asyncio.sleep(20)


def test_model_refuses_the_connection():
    fc = asyncio.run(run_fault_call(
        FakeModel([]), _listen, fault=lambda fake: fake.refuse_connections(503), gather_turns=["I need a human"],
    ))
    _reached_deterministic_mode(fc, "connect")
    assert "could not connect to the realtime model" in fc.log and "503" in fc.log
    assert fc.media.first_audio_at is None, "no audio from a model that never answered"


def test_model_unreachable():
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    fc = asyncio.run(run_fault_call(
        FakeModel([]), _listen, gather_turns=["I need a human"],
        settings={"openai_realtime_url": f"ws://127.0.0.1:{port}/v1/realtime"},
    ))
    _reached_deterministic_mode(fc, "connect")
    assert "could not connect to the realtime model" in fc.log


GREETING = "Hello, what's going on?"


def _routing_model() -> FakeModel:
    """Greets, routes the caller to a person on their first turn, then says the handover line."""
    return FakeModel([
        Say(GREETING),
        ToolCall("route_call", {"intent": "talk_to_human", "summary": "wants a person"}),
        Say("Connecting you now."),
    ])


async def _say_hello_after(fault, call, fc) -> None:
    await call.wait_for_audio(ms=100, timeout=10)
    await call.wait_until_quiet(ms=300, timeout=10)
    await fault(fc.fake)
    await asyncio.sleep(0.2)
    fc.fake.caller_said("get me a person")
    await call.say(800)
    await call.silence(600)


def _went_on_normally(fc) -> None:
    assert FALLBACK_LINE not in fc.said, "no fail-over"
    assert len(fc.redirects) == 1 and fc.redirects[0].endswith("e=agent") and "Please hold while I connect you" in fc.said
    assert fc.record.dialled == [ON_CALL]
    assert "model_errors_total{" not in fc.metrics
    outcome = fc.assert_complete_outcome("connected")
    assert outcome.intent == "talk_to_human"
    fc.assert_clean()


def test_model_drops_the_socket_mid_sentence():
    model = FakeModel([Say("Hello, I am the on-call assistant of ACME, please tell me what is going on today.")])

    async def caller(call, fc):
        await call.wait_for_audio(ms=100, timeout=10)
        await asyncio.sleep(20)

    fc = asyncio.run(run_fault_call(
        model, caller, fault=lambda fake: fake.drop_after(3, of_type="response.output_audio.delta"),
        gather_turns=["I need a human"],
    ))
    deltas = [e for e in fc.fake.sent if e["type"] == "response.output_audio.delta"]
    assert len(deltas) == 3 and not any(e["type"] == "response.done" for e in fc.fake.sent), "cut mid-sentence"
    _reached_deterministic_mode(fc, "connection_lost")
    assert "lost the realtime connection" in fc.log


def test_model_sends_a_fatal_error_event():
    async def caller(call, fc):
        await call.wait_for_audio(ms=100, timeout=10)
        await fc.fake.send_error("server_error", "The server had an error while processing your request.")
        await asyncio.sleep(20)

    fc = asyncio.run(run_fault_call(FakeModel([Say(GREETING)]), caller, gather_turns=["I need a human"]))
    _reached_deterministic_mode(fc, "error_event")
    assert "error event server_error: The server had an error" in fc.log


def test_model_sends_a_benign_error_event_and_the_call_goes_on():
    async def fault(fake):
        await fake.send_error("conversation_already_has_active_response", "busy", type="invalid_request_error")

    fc = asyncio.run(run_fault_call(_routing_model(), lambda call, fc: _say_hello_after(fault, call, fc)))
    _went_on_normally(fc)


def test_model_answers_with_some_invalid_json_and_the_call_goes_on():
    async def fault(fake):
        for text in ("{not json", "[1, 2]", '{"no_type": true}', '{"type": "response.output_audio.delta"}'):
            await fake.send_raw(text)

    fc = asyncio.run(run_fault_call(_routing_model(), lambda call, fc: _say_hello_after(fault, call, fc)))
    _went_on_normally(fc)
    assert fc.log.count("skipped a realtime event") == 4
    assert "not a JSON event" in fc.log and "response.output_audio.delta without the expected fields" in fc.log


def test_model_answering_only_garbage_fails_over():
    async def caller(call, fc):
        await call.wait_for_audio(ms=100, timeout=10)
        for i in range(25):
            await fc.fake.send_raw(f"\x00garbage {i}")
        await asyncio.sleep(20)

    fc = asyncio.run(run_fault_call(FakeModel([Say(GREETING)]), caller, gather_turns=["I need a human"]))
    _reached_deterministic_mode(fc, "garbage")
    assert "the model sends garbage" in fc.log


def test_model_sends_unknown_events_and_the_call_goes_on():
    async def fault(fake):
        await fake.send_raw(json.dumps({"type": "response.brand_new_event", "event_id": "event_x", "payload": {"a": 1}}))
        await fake.send_raw(json.dumps({"type": "session.expiring_soon", "event_id": "event_y"}))

    fc = asyncio.run(run_fault_call(_routing_model(), lambda call, fc: _say_hello_after(fault, call, fc)))
    _went_on_normally(fc)
    assert "'response.brand_new_event', new to this agent" in fc.log


def test_model_stalls_before_answering():
    fc = asyncio.run(run_fault_call(
        FakeModel([Say(GREETING)]), _listen, fault=lambda fake: fake.stall(), gather_turns=["I need a human"],
    ))
    _reached_deterministic_mode(fc, "no_answer")
    assert "the model did not answer within" in fc.log
    assert fc.media.first_audio_at is None


def test_model_stalls_mid_call(tmp_path):
    """Stalled after the greeting: no speech events, no answer. Found hanging until the 5-minute limit."""

    async def caller(call, fc):
        await call.wait_for_audio(ms=100, timeout=10)
        await call.wait_until_quiet(ms=300, timeout=10)
        fc.fake.stall()
        fc.fake.caller_said("the checkout is down")
        await call.say(800)
        await asyncio.sleep(20)

    fc = asyncio.run(run_fault_call(
        FakeModel([Say(GREETING), Say("I see.")]), caller, flow=quick_flow(tmp_path), gather_turns=["I need a human"],
    ))
    # The silence rule had handed the call over; the stalled model never said the line, so Twilio says it, once.
    assert fc.said.count("I can't hear you, so I'll put you through to someone who can help.") == 1, fc.said
    assert FALLBACK_LINE not in fc.said, "the decision stands: no deterministic take-over of a call already handed on"
    assert fc.record.dialled == [QUICK_ON_CALL]
    assert 'voice_agent_model_errors_total{kind="no_answer"} 1.0' in fc.metrics
    assert "the model did not answer within 6 s of being asked to speak" in fc.log
    fc.assert_complete_outcome("connected")
    fc.assert_clean()
    asked = [e for e in fc.fake.received if e["type"] == "response.create"]
    assert len(asked) >= 2, "the greeting, then re-prompts the stalled model never answered"


def test_model_closes_the_session_cleanly_mid_call():
    """A close frame (e.g. the session's time limit) instead of a dropped socket: the same fail-over."""

    async def caller(call, fc):
        await call.wait_for_audio(ms=100, timeout=10)
        await fc.fake.drop(code=1000, reason="session expired")
        await asyncio.sleep(20)

    fc = asyncio.run(run_fault_call(FakeModel([Say(GREETING)]), caller, gather_turns=["I need a human"]))
    _reached_deterministic_mode(fc, "connection_lost")
    assert "lost the realtime connection" in fc.log
