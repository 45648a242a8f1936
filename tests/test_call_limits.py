"""Every call-length and silence setting does what it says, in the simulator, over <Gather> and with the realtime model.

``silence_end_s`` (hand over once the caller has said nothing for this long
in all, re-prompts included), the node's ``max_duration_s`` and the server's
``max_call_seconds`` were read nowhere on some paths: a caller who stayed
silent was re-prompted ``max_no_input`` times whatever ``silence_end_s``
said, and a ``<Gather>`` conversation could run for ever.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from agent.core.call import Call
from agent.server.app import create_app
from agent.testing.fake_realtime import FakeModel, Say
from agent.testing.live import run_live_call
from agent.testing.twiml_interpreter import Spoken, TwimlInterpreter
from tests.helpers import agent_lines, simulate
from tests.test_fixed_lines_once import SILENCE_LINE, asked_to_say, says_what_it_is_asked
from tests.test_server_gather import PUBLIC, TOKEN, settings

FLOW = """
name: Limits
start: agent
nodes:
  agent:
    type: ai_agent
    greeting: Hello, what's going on?
    intents: {{incident: human, talk_to_human: human}}
    gathers: [caller_name, incident]
    fallback: human
    silence_reprompt_s: {reprompt}
    max_no_input: 10
    silence_end_s: {end}
    max_duration_s: 60
  human: {{type: route_call, targets: [{{type: number, number: "+4930555000"}}]}}
"""


def flow(tmp_path: Path, *, reprompt: float = 6, end: float = 12) -> Path:
    path = tmp_path / "limits.yaml"
    path.write_text(FLOW.format(reprompt=reprompt, end=end))
    return path


def test_the_simulator_hands_a_silent_caller_over_at_silence_end_not_after_max_no_input(tmp_path):
    call, outcome = simulate(flow(tmp_path), ["", "", "", "", "", ""])
    said = agent_lines(call)
    assert outcome.branch == "human"
    assert said.count("Sorry, I didn't catch that.") == 1, "one re-prompt: two silences of 6 s reach silence_end_s (12 s)"
    assert SILENCE_LINE in said


def test_a_gather_call_hands_a_silent_caller_over_at_silence_end(tmp_path):
    app = create_app(settings(flow=str(flow(tmp_path))))

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
            return await TwimlInterpreter(client, PUBLIC, auth_token=TOKEN).call([Spoken()] * 6)

    record = asyncio.run(go())
    assert record.said.count("Sorry, I didn't catch that.") == 1
    assert record.dialled == ["+4930555000"]


def test_a_gather_conversation_past_the_nodes_max_duration_is_handed_over(tmp_path, monkeypatch):
    app = create_app(settings(flow=str(flow(tmp_path))))
    clock = {"skew": 0.0}
    real = time.time
    monkeypatch.setattr("agent.flow.stepper.time.time", lambda: real() + clock["skew"])

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
            twilio = TwimlInterpreter(client, PUBLIC, auth_token=TOKEN)
            original = twilio.post

            async def post(url, form):
                if form.get("SpeechResult") == "still talking":
                    clock["skew"] = 61.0  # a minute later: past max_duration_s
                return await original(url, form)

            twilio.post = post
            return await twilio.call(["still talking", "and talking", "and talking"])

    record = asyncio.run(go())
    assert "Let me put you through to someone who can help you further." in record.said
    assert record.dialled == ["+4930555000"]


def test_max_call_seconds_bounds_every_ai_node(tmp_path):
    app = create_app(settings(flow=str(flow(tmp_path)), max_call_seconds=120))
    live = app.state.live
    node = live.flow.nodes["agent"]
    now = time.time()
    fresh = Call(call_id="CA" + "a" * 32, node="agent", started_at=now, node_since=now)
    assert 59 <= live.time_left(fresh, node) <= 60, "the node's own 60 s"
    late = Call(call_id="CA" + "a" * 32, node="agent", started_at=now - 100, node_since=now)
    assert 19 <= live.time_left(late, node) <= 20, "what is left of the call's 120 s"
    assert live.time_left(Call(call_id="CA" + "a" * 32, node="agent", started_at=now - 500, node_since=now), node) == 0


def test_the_realtime_agent_hands_a_silent_caller_over_at_silence_end(tmp_path):
    model = FakeModel([Say("Hello, what's going on?")], default=says_what_it_is_asked)
    record, harness, fake = asyncio.run(run_live_call(
        model, lambda call, harness: asyncio.sleep(30), flow=flow(tmp_path, reprompt=1, end=3),
    ))
    reprompts = [e for e in fake.received if e["type"] == "response.create" and "silent" in str((e.get("response") or {}).get("instructions"))]
    assert SILENCE_LINE in asked_to_say(fake)
    assert 1 <= len(reprompts) <= 3, "handed over after about 3 s of silence, not after 10 re-prompts"
    assert record.dialled == ["+4930555000"]
