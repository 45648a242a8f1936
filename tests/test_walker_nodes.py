"""Every non-AI node type, walked the way `voice-agent simulate` walks it."""

from pathlib import Path

from agent.simulation.simulator import CallerTurn
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


NIGHT_LINE = """
name: Night line
start: hours
nodes:
  hours:
    type: support_hours
    timezone: Europe/Berlin
    hours:
      - {days: [fri], start: "22:00", end: "06:00"}
    during: night
    outside: closed
  night: {type: hangup, text: The night shift is taking your call.}
  closed: {type: hangup, text: We are closed.}
"""


def test_support_hours_past_midnight_belong_to_the_day_they_start_on(tmp_path):
    path = tmp_path / "night.yaml"
    path.write_text(NIGHT_LINE)
    # Friday 2026-03-13 and the small hours of Saturday, Berlin time (UTC+1)
    for at, branch in [
        ("2026-03-13T23:30:00+01:00", "night"),   # Friday night: the window opened at 22:00
        ("2026-03-14T03:00:00+01:00", "night"),   # Saturday 03:00: still Friday's window
        ("2026-03-14T06:00:00+01:00", "night"),   # its last minute
        ("2026-03-14T06:01:00+01:00", "closed"),  # over
        ("2026-03-13T21:59:00+01:00", "closed"),  # Friday before it opens
        ("2026-03-13T03:00:00+01:00", "closed"),  # Friday's small hours are Thursday's night: not listed
        ("2026-03-14T23:30:00+01:00", "closed"),  # Saturday night: not listed
    ]:
        _, outcome = simulate(path, [], at=at)
        assert outcome.nodes == ["hours", branch], at


def test_parallel_route_call_rings_everyone_again_for_each_retry(tmp_path):
    path = tmp_path / "parallel.yaml"
    path.write_text(FLOW.replace("    retries: 1\n    completed", "    call_style: parallel\n    retries: 2\n    completed"))
    _, missed = simulate(path, [CallerTurn(dtmf="1"), ""], answer_calls=False)
    assert [d.name for d in missed.dials] == ["Dana", "Eli"] * 3
    assert missed.nodes[-2:] == ["vm", "bye"]
    _, taken = simulate(path, [CallerTurn(dtmf="1")])
    assert [d.name for d in taken.dials] == ["Dana", "Eli"] and taken.end_reason == "connected"
