"""Issue 15 item 5: per-field no-match and no-input counters, the same on the realtime path's tools as in the deterministic engine."""

from __future__ import annotations

import asyncio
from typing import Any

from agent.conversation.counters import INTENT_QUESTION, FieldCounters
from agent.conversation.session import NodeSession
from agent.conversation.tools import ToolBox
from agent.core.call import Call
from agent.core.registry import load_registry
from agent.flow.models import AiAgentNode
from tests.conftest import HOTLINE
from tests.helpers import agent_lines, simulate

REGISTRY = load_registry()
NODE = {
    "type": "ai_agent",
    "greeting": "Hello, what's going on?",
    "intents": {"incident": "alert", "talk_to_human": "page_oncall"},
    "gathers": ["incident", "caller_name", "contact_number", {"name": "email", "required": False}],
    "fallback": "page_oncall",
    "max_no_match": 1,
    "max_no_input": 1,
}


def make() -> ToolBox:
    call = Call(caller_number="+4915112345678")
    ctx = NodeSession.build("agent", AiAgentNode.model_validate(NODE), call, REGISTRY, region="DE", timezone="Europe/Berlin")
    return ToolBox(ctx)


def run(box: ToolBox, arguments: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(box.call("record_details", arguments))


def test_counters_count_per_question_and_say_when_past_the_limit() -> None:
    counters = FieldCounters(max_no_match=1, max_no_input=2)
    assert counters.miss("email", "no_match") is False
    assert counters.miss("caller_name", "no_match") is False  # another field has its own count
    assert counters.miss("email", "no_match") is True
    assert counters.miss(None, "no_input") is False and counters.count(INTENT_QUESTION, "no_input") == 1


def test_an_invalid_value_twice_for_one_field_hands_the_call_on_like_the_deterministic_engine() -> None:
    box = make()
    first = run(box, {"email": "not an email"})
    assert "email" in first["invalid"] and "handed_on" not in first
    assert box.ctx.decision is None
    second = run(box, {"email": "still no address", "caller_name": "Jane Doe"})
    assert second["saved"] == {"caller_name": "Jane Doe"}
    assert "email" in second["handed_on"]
    assert box.ctx.decision is not None and box.ctx.decision.exit == "fallback" and box.ctx.decision.target == "page_oncall"
    # the call is handed on: further tool calls are refused, as after route_call
    assert "error" in asyncio.run(box.call("record_details", {"email": "jane@acme.com"}))


def test_a_valid_value_between_misses_of_another_field_does_not_count() -> None:
    box = make()
    run(box, {"email": "not an email"})
    run(box, {"contact_number": "0171 2345678"})
    assert box.ctx.decision is None
    assert box.counters.count("email", "no_match") == 1 and box.counters.count("contact_number", "no_match") == 0


def test_silences_count_against_the_open_field() -> None:
    box = make()
    run(box, {"incident": "the checkout is down"})
    assert box.note_no_input() is False
    assert box.counters.count("caller_name", "no_input") == 1  # the first missing field is the one asked
    run(box, {"caller_name": "Jane Doe"})
    assert box.note_no_input() is False  # a new question starts at zero
    assert box.note_no_input() is True


def test_the_deterministic_engine_counts_no_match_per_field() -> None:
    # the name is asked; two answers that are no name (hotline: max_no_match 2), then a third, hands on
    call, outcome = simulate(HOTLINE, ["the login page shows an error for some users", "no, that's all", "yes", "nothing else"])
    said = agent_lines(call)
    assert said.count("May I have your name, please?") == 3
    assert outcome.branch == "page_oncall" and "caller_name" not in outcome.fields
