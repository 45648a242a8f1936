"""Every fixed line reaches the caller once, whoever says it: the model over the media stream, or Twilio's <Say>.

What the caller hears is the model's spoken lines (the fake model's
conversation) followed by the TwiML Twilio plays. A hand-over line the model
already said must not be said again by Twilio (in another voice), and one the
model never got to say must be said by Twilio.
"""

from __future__ import annotations

import asyncio

from agent.flow.loader import load_flow
from agent.live.runner import FAILOVER_MESSAGE
from agent.core.registry import load_registry
from agent.media.processors.realtime import SAY_LEAD
from agent.testing.fake_realtime import FakeModel, Say, ToolCall, Turn
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.live import Harness, run_live_call, speak
from tests.conftest import HOTLINE
from tests.test_live_realtime import QUICK_FLOW

GREETING = "Hello, I'm ACME's on-call assistant. What's going on?"
SILENCE_LINE = "I can't hear you, so I'll put you through to someone who can help."


def says_what_it_is_asked(turn: Turn) -> list[Say]:
    """A model that says the exact line the agent asks for (as the real one is told to), else a re-prompt."""
    asked = turn.instructions or ""
    return [Say(asked.removeprefix(SAY_LEAD) if asked.startswith(SAY_LEAD) else "Are you still there?")]


def heard(record, fake) -> list[str]:
    return [text for role, text in fake.session.dialogue() if role == "assistant"] + list(record.said)


def times(lines: list[str], text: str) -> int:
    return sum(line.count(text) for line in lines)


def asked_to_say(fake) -> list[str]:
    creates = [e for e in fake.received if e["type"] == "response.create"]
    return [i.removeprefix(SAY_LEAD) for e in creates if (i := (e.get("response") or {}).get("instructions") or "").startswith(SAY_LEAD)]


def test_the_model_decides_and_says_the_handover_line_twilio_does_not_repeat_it():
    model = FakeModel([
        Say(GREETING),
        ToolCall("route_call", {"intent": "talk_to_human", "summary": "wants a person", "details_declined": True}),
    ], default=says_what_it_is_asked)

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=300, timeout=10)
        await call.wait_until_quiet(ms=300, timeout=10)
        await speak(call, harness.fake_model, "get me a person please")

    record, harness, fake = asyncio.run(run_live_call(model, caller, flow=HOTLINE))
    lines = heard(record, fake)
    [handover] = asked_to_say(fake)
    assert times(lines, handover) == 1, lines
    assert times(lines, "Please hold while I connect you to the on-call engineer.") == 1
    assert record.dialled == ["+4930901820"]


def test_silence_hand_over_line_is_heard_once(tmp_path):
    flow = tmp_path / "quick.yaml"
    flow.write_text(QUICK_FLOW)
    model = FakeModel([Say("Hello, what's going on?")], default=says_what_it_is_asked)

    record, harness, fake = asyncio.run(run_live_call(model, lambda call, harness: asyncio.sleep(30), flow=flow))
    lines = heard(record, fake)
    assert times(lines, SILENCE_LINE) == 1, lines
    assert record.dialled == ["+4930555000"]


def test_failover_apology_and_greeting_are_heard_once():
    model = FakeModel([Say(GREETING)])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=300, timeout=10)
        await call.wait_until_quiet(ms=300, timeout=10)
        await harness.fake_model.drop()

    record, harness, fake = asyncio.run(run_live_call(model, caller, flow=HOTLINE, gather_turns=["I need a person"]))
    lines = heard(record, fake)
    assert times(lines, FAILOVER_MESSAGE) == 1, lines
    greeting = load_flow(HOTLINE, load_registry()).nodes["agent"].greeting
    assert not any(greeting in line for line in record.said), "the deterministic mode takes over without greeting again"
    assert record.dialled == ["+4930901820"]
