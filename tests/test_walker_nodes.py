"""Every non-AI node type, walked the way `voice-agent simulate` walks it."""

from pathlib import Path

from agent.walker import CallerTurn
from tests.helpers import agent_lines, simulate

FLOW = """
name: Nodes
start: screen
nodes:
  screen:
    type: block_numbers
    numbers: ["+4930666666"]
    block_anonymous: true
    allowed: menu
    blocked: null
  menu:
    type: ivr_menu
    prompt: Press 1 for support, 2 for the PIN line.
    options: {1: route, 2: pin}
    retries: 1
    no_input: vm
  pin:
    type: pin_code
    pins: ["4711"]
    attempts: 2
    match: route
    no_match: bye
  route:
    type: route_call
    targets:
      - {type: number, number: "+4930111111", name: Dana}
      - {type: number, number: "+4930222222", name: Eli}
    retries: 1
    completed: null
    no_answer: vm
  vm:
    type: voicemail
    prompt: Leave a message.
    left: bye
    not_left: bye
  bye: {type: hangup, text: Goodbye.}
"""


def _flow(tmp_path: Path) -> Path:
    path = tmp_path / "nodes.yaml"
    path.write_text(FLOW)
    return path


def test_blocked_and_anonymous_callers_are_turned_away(tmp_path):
    _, blocked = simulate(_flow(tmp_path), [], caller_number="+49 30 666666")
    _, anonymous = simulate(_flow(tmp_path), [], caller_number=None)
    assert blocked.nodes == ["screen"] and blocked.end_reason == "blocked"
    assert anonymous.end_reason == "blocked"


def test_ivr_key_routes_and_everyone_is_dialled_in_order_with_retries(tmp_path):
    call, outcome = simulate(_flow(tmp_path), [CallerTurn(dtmf="1"), "I'd like to leave a message"], answer_calls=False)
    assert outcome.nodes == ["screen", "menu", "route", "vm", "bye"]
    assert [d.name for d in outcome.dials] == ["Dana", "Eli", "Dana", "Eli"]
    assert outcome.alerts and "I'd like to leave a message" in outcome.alerts[0].details


def test_ivr_spoken_digit_and_invalid_keys_then_no_input_branch(tmp_path):
    _, spoken = simulate(_flow(tmp_path), ["two", "4711"])
    assert spoken.nodes[:3] == ["screen", "menu", "pin"]
    call, invalid = simulate(_flow(tmp_path), [CallerTurn(dtmf="9"), CallerTurn(dtmf="7"), ""])
    assert invalid.nodes == ["screen", "menu", "vm", "bye"]
    assert agent_lines(call).count("Press 1 for support, 2 for the PIN line.") == 2


def test_pin_code_match_and_no_match(tmp_path):
    _, good = simulate(_flow(tmp_path), [CallerTurn(dtmf="2"), CallerTurn(dtmf="4711#")])
    assert good.nodes == ["screen", "menu", "pin", "route"]
    assert good.end_reason == "connected" and good.dials[0].answered
    call, bad = simulate(_flow(tmp_path), [CallerTurn(dtmf="2"), CallerTurn(dtmf="1111"), CallerTurn(dtmf="2222")])
    assert bad.nodes == ["screen", "menu", "pin", "bye"]
    assert agent_lines(call).count("That PIN is not correct.") == 2


def test_caller_hanging_up_ends_the_walk_with_a_reason(tmp_path):
    _, outcome = simulate(_flow(tmp_path), [])
    assert outcome.nodes == ["screen", "menu"]
    assert outcome.end_reason == "caller_hung_up"
