"""Fuzz: tool-call arguments from the model into ToolBox.

Every call answers a dict; a call outside the contract gets an ``error`` the
model can act on (never the generic "the tool failed", which means a bug),
and nothing raises. Oversized arguments are refused, stored text is bounded.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agent.conversation.tools import MAX_ARGUMENTS_CHARS, MAX_ITEMS, MAX_TEXT, ToolBox
from tests.fuzz.strategies import cases, deeply_nested, json_values, nasty_text
from tests.test_tools import NODE, make

TOOLS = ["record_details", "route_call", "check_status", "end_call"]
FIELD_NAMES = [g if isinstance(g, str) else g["name"] for g in NODE["gathers"]]
_loop = asyncio.new_event_loop()
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def call(box: ToolBox, name: Any, arguments: Any) -> dict[str, Any]:
    result = _loop.run_until_complete(box.call(name, arguments))
    assert isinstance(result, dict)
    json.dumps(result)  # goes back to the model as JSON
    assert "the tool failed" not in str(result.get("error", "")), result
    return result


def bounded(box: ToolBox) -> None:
    c = box.ctx.call
    assert len(c.summary or "") <= MAX_TEXT
    for value in c.fields.values():
        assert len(json.dumps(value)) <= 4 * MAX_TEXT * MAX_ITEMS
        assert not any(CONTROL.search(text) for text in strings(value)), value


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings(k) + strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


values = st.one_of(
    json_values(6),
    st.lists(nasty_text, max_size=MAX_ITEMS + 3),
    st.sampled_from(["x" * (MAX_TEXT + 1), ["y" * (MAX_TEXT + 1)], ["z"] * (MAX_ITEMS + 1), "Checkout API", "+4915112345678",
                     "jane@example.com", "production", "AC-1234", 12, -1, 1e308, True, "1e999", "NaN"]),
)

arguments = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES + ["intent", "summary", "details_declined", "service", "reason"]),
                              st.text(max_size=10)), values, max_size=6),
    st.fixed_dictionaries({}, optional={
        "intent": st.one_of(st.sampled_from(sorted(NODE["intents"]) + ["other"]), json_values(3)),
        "summary": values, "details_declined": json_values(2), "service": values,
        "reason": st.one_of(st.sampled_from(["known_issue", "caller_done", "wrong_number", "abusive"]), json_values(2)),
    }),
    json_values(8),
)

encoded = st.one_of(
    arguments,                                        # already parsed
    arguments.map(json.dumps),                        # a JSON string, as the realtime API sends it
    nasty_text,                                       # not JSON
    st.integers(1, 100_000).map(deeply_nested),       # nested past the recursion limit
    st.none(),
)

names = st.one_of(st.sampled_from(TOOLS), json_values(2))


@cases(800)
@given(st.lists(st.tuples(names, encoded), min_size=1, max_size=3))
def test_any_tool_call_answers_a_clear_result(calls: list[tuple[Any, Any]]) -> None:
    box = make()
    for name, args in calls:
        call(box, name, args)
        bounded(box)


def test_a_megabyte_argument_is_refused() -> None:
    box = make()
    big = json.dumps({"incident": "x" * 1_000_000})
    assert len(big) > MAX_ARGUMENTS_CHARS
    result = call(box, "record_details", big)
    assert "too long" in result["error"] and box.ctx.call.fields == {}
    result = call(box, "record_details", {"incident": "x" * 1_000_000})
    assert "too long" in result["invalid"]["incident"]


def test_deeply_nested_arguments_are_refused() -> None:
    box = make()
    assert "error" in call(box, "route_call", deeply_nested(100_000))
    assert "error" in call(box, "route_call", json.loads(deeply_nested(50)))


def test_wrong_types_get_explanations() -> None:
    box = make()
    for name, args in [
        ("route_call", {"intent": ["incident"], "summary": "x"}),
        ("route_call", {"intent": {"a": 1}}),
        ("end_call", {"reason": ["known_issue"]}),
        ("check_status", {"service": {"a": 1}}),
        (["route_call"], {}),
        ({"a": 1}, {}),
        (None, {}),
    ]:
        assert "error" in call(box, name, args), (name, args)
