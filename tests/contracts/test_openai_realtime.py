"""OpenAI Realtime (GA): what our fake server sends and what our code sends, against the SDK's typed models.

The contract is ``openai.types.realtime`` (see tests/contracts/openai_realtime.py). The events come from
the project's own scenarios, not from hand-written samples: the fake server's test scenarios
(tests/test_fake_realtime.py), live calls of tests/test_live_realtime.py (our realtime processor through
the real server, the fake Twilio and the fake model) and the realtime text engine.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
from collections import Counter
from pathlib import Path

import pytest
from openai.types.audio import Transcription

from agent.testing import fake_realtime
from agent.testing.fake_realtime import FakeModel, FakeRealtimeServer, Say, ToolCall
from tests.contracts.checker import RECORDED
from tests.contracts.openai_realtime import (
    SDK_VERSION,
    ContractViolation,
    check_client_event,
    check_client_events,
    check_model,
    check_server_event,
    check_server_events,
    client_event_types,
    realtime_events_checked,  # noqa: F401  (autouse: checks everything crossing the fake in these tests)
)
from tests.contracts.twilio.rest import twilio_rest_checked  # noqa: F401  (autouse)
from tests.contracts.twiml import twiml_checked  # noqa: F401  (autouse)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openai"

# Each fixture file and the SDK model its body is an instance of.
FIXTURE_MODELS = {
    "transcription.json": Transcription,  # POST /v1/audio/transcriptions, response_format=json
}


@pytest.fixture
def servers(monkeypatch) -> list[FakeRealtimeServer]:
    """Every FakeRealtimeServer started during the test."""
    started: list[FakeRealtimeServer] = []
    start = FakeRealtimeServer.start

    async def recording_start(self):
        started.append(self)
        return await start(self)

    monkeypatch.setattr(FakeRealtimeServer, "start", recording_start)
    return started


async def _read_until(conn, kind: str) -> list[dict]:
    """Read (and so drain) the connection until an event of ``kind``; the events read."""
    events = []
    while not events or events[-1]["type"] != kind:
        events.append(json.loads(await asyncio.wait_for(conn.recv_bytes(), 5)))
    return events


def _types(events) -> Counter:
    return Counter(e.get("type") for e in events)


def test_the_contract_is_the_installed_sdk():
    assert SDK_VERSION.split(".")[0] == "3", "the contract (and the README) were written against openai 3.x"
    assert {"session.update", "input_audio_buffer.append", "conversation.item.create", "conversation.item.truncate",
            "response.create", "response.cancel"} <= client_event_types()


def test_every_event_the_fake_sends_in_its_own_scenarios_is_a_ga_server_event(servers, realtime_events_checked):
    import tests.test_fake_realtime as scenarios  # its tests, run again here with the fake's send path checked

    ran = 0
    for name, scenario in inspect.getmembers(scenarios, inspect.isfunction):
        if not name.startswith("test_") or scenario.__module__ != scenarios.__name__:
            continue
        params = inspect.signature(scenario).parameters
        calls = [(fake_realtime.PCMU, 8), (fake_realtime.PCM, 48)] if params else [()]
        for args in calls:
            scenario(*args)
            ran += 1
    sent = [event for server in servers for event in server.sent]
    assert ran >= 10 and len(sent) > 200
    assert check_server_events(sent) == len(sent)
    assert realtime_events_checked == []
    seen = _types(sent)
    for kind in ("session.created", "session.updated", "error", "input_audio_buffer.speech_started",
                 "input_audio_buffer.committed", "conversation.item.added", "conversation.item.done",
                 "conversation.item.input_audio_transcription.completed", "conversation.item.truncated",
                 "response.created", "response.output_item.added", "response.content_part.added",
                 "response.output_audio.delta", "response.output_audio_transcript.delta", "response.output_text.delta",
                 "response.function_call_arguments.done", "response.done", "rate_limits.updated"):
        assert seen[kind], f"the fake's scenarios never sent {kind}: the check saw less than it should"


def test_what_our_processor_sends_in_live_calls_is_ga_client_events(servers, realtime_events_checked):
    import tests.test_live_realtime as live  # real calls: server + fake Twilio + fake model

    live.test_barge_in_clears_twilio_and_truncates_at_what_was_heard()
    live.test_keyed_in_digits_reach_the_model_as_text()
    received = [event for server in servers for event in server.received]
    sent = [event for server in servers for event in server.sent]
    assert check_client_events(received) == len(received)
    assert check_server_events(sent) == len(sent)
    assert realtime_events_checked == []
    seen = _types(received)
    for kind in ("session.update", "input_audio_buffer.append", "response.create", "conversation.item.truncate",
                 "conversation.item.create"):
        assert seen[kind], f"the live calls never sent {kind}"
    items = Counter(e["item"]["type"] for e in received if e["type"] == "conversation.item.create")
    assert items["function_call_output"] and items["message"]


def test_what_the_realtime_text_engine_sends_is_ga_client_events(servers, realtime_events_checked):
    from agent.core.call import Call
    from agent.flow.loader import load_flow
    from agent.core.registry import load_registry
    from agent.simulation.scripts import ScriptedCaller, load_script
    from agent.core.settings import Settings
    from agent.testing.deterministic_brain import DeterministicBrain
    from agent.simulation.simulator import WalkOptions, at_time, walk
    from tests.conftest import EXAMPLES, HOTLINE

    script = load_script(EXAMPLES / "callers" / "wants_human.yaml")

    async def go():
        async with FakeRealtimeServer(FakeModel(DeterministicBrain(HOTLINE, caller_number=script.caller_number))) as fake:
            settings = Settings(openai_realtime_url=fake.url, openai_api_key="sk-test")
            registry = load_registry()
            options = WalkOptions(registry, settings, HOTLINE.parent, engine="openai")
            call = Call(caller_number=script.caller_number, now=at_time(None))
            await walk(load_flow(HOTLINE, registry), ScriptedCaller(script.caller_turns()), call, options)
            return fake

    fake = asyncio.run(go())
    assert check_client_events(fake.received) == len(fake.received)
    assert {"session.update", "response.create", "conversation.item.create"} <= set(_types(fake.received))
    assert realtime_events_checked == []


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_openai_fixtures_are_sdk_model_instances(name):
    assert name in FIXTURE_MODELS, f"tests/fixtures/openai/{name}: say which SDK model it is an instance of"
    check_model(FIXTURE_MODELS[name], json.loads((FIXTURES / name).read_text()))


# --- the checks can fail ------------------------------------------------------------------------------------

AUDIO_DELTA = {"type": "response.output_audio.delta", "event_id": "event_1", "response_id": "resp_1", "item_id": "item_1",
               "output_index": 0, "content_index": 0, "delta": "AAAA"}
TRUNCATE = {"type": "conversation.item.truncate", "item_id": "item_1", "content_index": 0, "audio_end_ms": 800}


def _renamed(event: dict, path: tuple, new: str) -> dict:
    event = copy.deepcopy(event)
    node = event
    for key in path[:-1]:
        node = node[key]
    node[new] = node.pop(path[-1])
    return event


def test_a_renamed_field_in_a_server_event_fails():
    check_server_event(AUDIO_DELTA)
    with pytest.raises(ContractViolation, match=r"\$\.item_id: Field required"):
        check_server_event(_renamed(AUDIO_DELTA, ("item_id",), "itemId"))
    with pytest.raises(ContractViolation, match=r"\$\.type: 'response.audio.delta' is not a GA server event type"):
        check_server_event({**AUDIO_DELTA, "type": "response.audio.delta"})  # the beta name


def test_a_renamed_nested_field_in_a_server_event_fails():
    done = {"type": "response.done", "event_id": "event_2", "response": {
        "id": "resp_1", "object": "realtime.response", "status": "completed",
        "output": [{"id": "item_1", "type": "message", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_audio", "transcript": "Hello"}]}]}}
    check_server_event(done)
    with pytest.raises(ContractViolation, match=r"\$\.response\.output\[0\]\.content\[0\]\.transcrip"):
        check_server_event(_renamed(done, ("response", "output", 0, "content", 0, "transcript"), "transcrip"))


def test_a_renamed_field_in_a_client_event_fails():
    check_client_event(TRUNCATE)
    with pytest.raises(ContractViolation, match=r"\$\.audio_end_ms: Field required"):
        check_client_event(_renamed(TRUNCATE, ("audio_end_ms",), "audio_end"))
    with pytest.raises(ContractViolation, match=r"\$\.audio_end_ms: Input should be a valid integer"):
        check_client_event({**TRUNCATE, "audio_end_ms": "800"})


@pytest.mark.parametrize("session, where", [
    ({"type": "realtime", "modalities": ["audio"]}, r"\$\.session\.modalities: `modalities` is not a field"),  # beta
    ({"type": "realtime", "temperature": 0.8}, r"\$\.session\.temperature"),  # removed in GA
    ({"type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_ms": 500}}}},
     r"\$\.session\.audio\.input\.turn_detection\.silence_ms"),
    ({"type": "realtime", "input_audio_format": "g711_ulaw"}, r"\$\.session\.input_audio_format"),  # beta
])
def test_beta_or_misspelt_session_fields_fail(session, where):
    with pytest.raises(ContractViolation, match=where):
        check_client_event({"type": "session.update", "session": session})


def test_the_hook_records_what_the_fake_sends_off_contract(monkeypatch, realtime_events_checked):
    """A fake that sent a beta-shaped event would be caught on its send path (and fail the test)."""
    from openai import AsyncOpenAI

    checked_emit = fake_realtime.FakeRealtimeServer._emit

    async def beta_emit(self, sess, event):  # a regression: the beta name of audio deltas
        if event.get("type") == "response.output_audio.delta":
            event = {**event, "type": "response.audio.delta"}
        await checked_emit(self, sess, event)

    monkeypatch.setattr(fake_realtime.FakeRealtimeServer, "_emit", beta_emit)

    async def go():
        async with FakeRealtimeServer(FakeModel([Say("Hi there.")])) as fake:
            client = AsyncOpenAI(api_key="sk-test", websocket_base_url=fake.url.removesuffix("/realtime"), max_retries=0)
            async with client.realtime.connect(model="gpt-realtime") as conn:
                await conn.recv()
                await conn.send_raw(json.dumps({"type": "response.create"}))
                await _read_until(conn, "response.done")

    asyncio.run(go())
    assert realtime_events_checked and "'response.audio.delta' is not a GA server event type" in str(realtime_events_checked[0])
    RECORDED.clear()  # expected here


def test_the_hook_records_what_our_client_sends_off_contract(realtime_events_checked):
    """A client event with a misspelt field, sent by an openai-SDK client, is recorded."""
    from openai import AsyncOpenAI

    async def go():
        async with FakeRealtimeServer(FakeModel([Say("Hi.")])) as fake:
            client = AsyncOpenAI(api_key="sk-test", websocket_base_url=fake.url.removesuffix("/realtime"), max_retries=0)
            async with client.realtime.connect(model="gpt-realtime") as conn:
                await conn.recv()
                await conn.send_raw(json.dumps({"type": "response.create", "response": {"modalities": ["text"]}}))
                await fake.wait_for("response.create")

    asyncio.run(go())
    assert [str(v) for v in realtime_events_checked if "response.modalities" in str(v)]
    RECORDED.clear()  # expected here


def test_tool_call_scenario_events_are_checked_both_ways(servers, realtime_events_checked):
    """A short scripted tool turn through the SDK client: both directions are contract instances."""
    from openai import AsyncOpenAI

    async def go():
        model = FakeModel([ToolCall("lookup", {"q": "x"}), Say("Done.")])
        async with FakeRealtimeServer(model) as fake:
            client = AsyncOpenAI(api_key="sk-test", websocket_base_url=fake.url.removesuffix("/realtime"), max_retries=0)
            async with client.realtime.connect(model="gpt-realtime") as conn:
                await conn.recv()
                await conn.send_raw(json.dumps({"type": "session.update", "session": {
                    "type": "realtime", "output_modalities": ["text"],
                    "tools": [{"type": "function", "name": "lookup", "description": "d",
                               "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]}}))
                await conn.send_raw(json.dumps({"type": "response.create"}))
                done = [e for e in await _read_until(conn, "response.done") if e["type"] == "response.function_call_arguments.done"]
                await conn.send_raw(json.dumps({"type": "conversation.item.create", "item": {
                    "type": "function_call_output", "call_id": done[0]["call_id"], "output": "{}"}}))
                await conn.send_raw(json.dumps({"type": "response.create"}))
                await _read_until(conn, "response.done")
            return fake

    fake = asyncio.run(go())
    check_client_events(fake.received)
    check_server_events(fake.sent)
    assert realtime_events_checked == [] and not fake.problems
