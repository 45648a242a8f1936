"""Issue 15 item 5: a silent caller is counted per question on a live call exactly as in ``voice-agent simulate``.

On the realtime path each silence at the node's re-prompt time (the
supervisor's ``SilenceFrame``) counts one no-input against the question open
(the first missing field, else the intent question); past the node's
``max_no_input`` the call takes the node's fallback branch with reason
``no_input`` and its line (``fallback_no_input``), as the deterministic engine
does. The caller's other words reset nothing: a count belongs to its question.

Each scenario runs the same flow and the same caller twice: through the
simulator (the deterministic engine) and as a live call (the real server,
Twilio Media Streams' fake, the fake OpenAI Realtime server whose brain
understands callers like the deterministic engine and acts through tools),
and both must re-prompt as often and end on the same branch, for the same reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from agent.core.call import Outcome
from agent.media.processors.realtime import REPROMPT
from agent.testing.deterministic_brain import DeterministicBrain
from agent.testing.fake_realtime import FakeModel, FakeRealtimeServer
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.live import Harness, run_live_call, speak
from tests.helpers import agent_lines, answered, simulate
from tests.test_fixed_lines_once import SILENCE_LINE, asked_to_say

FLOW = """
name: Silent callers
start: agent
nodes:
  agent:
    type: ai_agent
    greeting: Hello, what's going on?
    intents: {{incident: oncall, talk_to_human: oncall}}
    gathers: [caller_name, contact_number]
    fallback: desk
    silence_reprompt_s: 1
    max_no_input: {max_no_input}
    silence_end_s: 60
  oncall: {{type: route_call, targets: [{{type: number, number: "+4930111111"}}]}}
  desk: {{type: route_call, targets: [{{type: number, number: "+4930555000"}}]}}
"""
DESK = "+4930555000"  # the fallback branch's number; the intents' branch dials +4930111111
CALLER = "+4915112345678"
INCIDENT = "there is an incident, our website is down"  # the deterministic engine's intent: it asks for the name next
NO_INPUT = "Sorry, I didn't catch that."  # the deterministic engine's re-prompt after a silence


def flow(tmp_path: Path, max_no_input: int) -> Path:
    path = tmp_path / "silent.yaml"
    path.write_text(FLOW.format(max_no_input=max_no_input))
    return path


@pytest.fixture
def decided() -> Iterator[list[dict]]:
    """The live calls' ``decided`` events (branch, reason) from the call event log."""
    records: list[dict] = []
    sink = logger.add(lambda m: records.append(dict(m.record["extra"])), level="INFO", filter=lambda r: r["extra"].get("event") == "decided")
    yield records
    logger.remove(sink)


def simulated(path: Path, turns: list[str]) -> tuple[int, list[str], Outcome]:
    """The simulator's re-prompts after silence, lines and outcome (a blank turn is silence, as in ``voice-agent simulate``)."""
    call, outcome = simulate(path, turns, caller_number=CALLER)
    lines = agent_lines(call)
    return lines.count(NO_INPUT), lines, outcome


def live(path: Path, caller) -> tuple[int, list[str], object, Harness, FakeRealtimeServer]:
    """A live call on ``path``: the model's re-prompts (asked for by the server), the lines it was asked to say, and the call."""
    model = FakeModel(DeterministicBrain(path, caller_number=CALLER))
    record, harness, fake = asyncio.run(run_live_call(model, caller, flow=path, from_number=CALLER))
    creates = [e for e in fake.received if e["type"] == "response.create"]
    reprompts = sum((e.get("response") or {}).get("instructions") == REPROMPT for e in creates)
    return reprompts, asked_to_say(fake), record, harness, fake


def test_a_caller_silent_throughout_is_re_prompted_max_no_input_times_then_takes_the_fallback_branch_in_both(tmp_path, decided):
    path = flow(tmp_path, max_no_input=2)
    sim_reprompts, sim_lines, outcome = simulated(path, ["", "", "", ""])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await asyncio.sleep(30)  # says nothing at all

    reprompts, asked, record, harness, _ = live(path, caller)
    assert sim_reprompts == 2 and SILENCE_LINE in sim_lines and outcome.branch == "desk"
    assert reprompts == sim_reprompts, "re-prompted as often as the simulator: max_no_input times"
    assert asked == [SILENCE_LINE], "then the fallback's no-input line, once"
    assert record.dialled == [DESK], "the node's fallback branch, not an intent's"
    assert harness.steps[-1][0] == outcome.nodes == ["agent", "desk"]
    assert [(d["exit"], d["branch"], d["reason"]) for d in decided] == [("fallback", "desk", "no_input")]


def test_silence_counts_per_question_an_answered_question_leaves_the_next_one_at_zero(tmp_path, decided):
    """Silent twice on the name (max_no_input 2: re-prompted twice), the name, then silent on the number:
    the number's own count, from zero (two re-prompts more), not the call's."""
    path = flow(tmp_path, max_no_input=2)
    turns = [INCIDENT, "", "", "Jane Doe", "", "", ""]
    sim_reprompts, sim_lines, outcome = simulated(path, turns)

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await answered(call)  # the greeting
        await speak(call, harness.fake_model, INCIDENT)
        await answered(call)  # "May I have your name, please?"
        for _ in range(2):
            await answered(call)  # silent: re-prompted
        await speak(call, harness.fake_model, "Jane Doe")
        await asyncio.sleep(30)  # silent on the callback number until handed on

    reprompts, asked, record, harness, _ = live(path, caller)
    assert sim_reprompts == 4 and outcome.fields == {"caller_name": "Jane Doe"} and outcome.branch == "desk"
    assert sim_lines.index("Can we reach you at +49 1511 2345678?") < sim_lines.index(SILENCE_LINE)
    assert reprompts == sim_reprompts, "two re-prompts on the name, two more on the number"
    assert asked == [SILENCE_LINE]
    assert record.dialled == [DESK]
    assert "Jane Doe" in record.whispers[0], "the name given between the silences was kept"
    assert harness.steps[-1][0] == outcome.nodes
    assert [(d["branch"], d["reason"]) for d in decided] == [("desk", "no_input")]


def test_the_callers_other_words_do_not_reset_the_open_questions_count(tmp_path, decided):
    """max_no_input 1: silent on the name, words that are no name, silent again: the name's second silence hands on.

    (A count of silences in a row, reset by any speech, would have re-prompted again.)"""
    path = flow(tmp_path, max_no_input=1)
    sim_reprompts, sim_lines, outcome = simulated(path, [INCIDENT, "", "hmm, hang on", "", ""])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await answered(call)  # the greeting
        await speak(call, harness.fake_model, INCIDENT)
        await answered(call)  # "May I have your name, please?"
        await answered(call)  # silent: re-prompted
        await speak(call, harness.fake_model, "hmm, hang on")
        await asyncio.sleep(30)

    reprompts, asked, record, harness, _ = live(path, caller)
    assert sim_reprompts == 1 and outcome.branch == "desk" and SILENCE_LINE in sim_lines
    assert reprompts == sim_reprompts == 1
    assert asked == [SILENCE_LINE]
    assert record.dialled == [DESK]
    assert harness.steps[-1][0] == outcome.nodes
    assert [(d["branch"], d["reason"]) for d in decided] == [("desk", "no_input")]


def test_a_silence_at_the_greeting_counts_against_what_the_caller_wants_not_the_first_field(tmp_path, decided):
    """The greeting asks what the caller wants: a silence there is the intent question's, so the name's count
    starts at zero once the problem is told (max_no_input 2: one re-prompt at the greeting, two on the name)."""
    path = flow(tmp_path, max_no_input=2)
    sim_reprompts, sim_lines, outcome = simulated(path, ["", INCIDENT, "", "", ""])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await answered(call)  # the greeting
        await answered(call)  # silent: re-prompted
        await speak(call, harness.fake_model, INCIDENT)
        await asyncio.sleep(30)  # silent on the name until handed on

    reprompts, asked, record, harness, _ = live(path, caller)
    assert sim_reprompts == 3 and outcome.branch == "desk" and SILENCE_LINE in sim_lines
    assert reprompts == sim_reprompts, "one re-prompt at the greeting, two on the name, as the simulator"
    assert asked == [SILENCE_LINE]
    assert record.dialled == [DESK]
    assert harness.steps[-1][0] == outcome.nodes
    assert [(d["branch"], d["reason"]) for d in decided] == [("desk", "no_input")]
