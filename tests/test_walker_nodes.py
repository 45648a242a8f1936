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


def _engineer_hears(tmp_path: Path, keys: str | None, **route: object):
    from agent.core.call import Call
    from agent.core.registry import load_registry
    from agent.flow.actions import AskKeys, Hangup, Say
    from agent.flow.loader import load_flow
    from agent.flow.stepper import FlowServices, FlowStepper
    from agent.testing.settings import agent_settings

    flow = load_flow(_flow(tmp_path))
    node = flow.nodes["route"]
    for key, value in route.items():
        setattr(node, key, value)
    stepper = FlowStepper(flow, FlowServices(load_registry(), agent_settings(), tmp_path))
    call = Call(call_id="CA1", caller_number="+4915112345678", node="route", briefing="Jane Doe called about checkout.")
    call.fields["incident"] = "checkout is down"
    actions = stepper.whisper(call, keys)
    said = " ".join(a.prompt if isinstance(a, AskKeys) else a.text for a in actions if isinstance(a, (AskKeys, Say)))
    return actions, said, (AskKeys, Hangup, Say)


def test_the_engineer_takes_hears_or_passes_the_call_by_key(tmp_path):
    actions, said, (AskKeys, Hangup, Say) = _engineer_hears(tmp_path, None)
    assert isinstance(actions[0], AskKeys) and actions[0].purpose == "whisper" and actions[0].max_digits == 1
    assert said.startswith("Jane Doe called about checkout. Press 1 to take the call")
    assert isinstance(actions[-1], Hangup), "no key: the engineer's leg ends and the next target is rung"
    assert _engineer_hears(tmp_path, "1")[0] == [], "1 bridges at once"
    assert [type(a) for a in _engineer_hears(tmp_path, "3")[0]] == [Hangup]
    assert "The caller said: checkout is down." in _engineer_hears(tmp_path, "2")[1]


def test_without_whisper_accept_the_engineer_only_hears_the_briefing(tmp_path):
    actions, said, (_, _, Say) = _engineer_hears(tmp_path, None, whisper_accept=False)
    assert [type(a) for a in actions] == [Say] and said == "Jane Doe called about checkout."
    _, said, _ = _engineer_hears(tmp_path, None, whisper=False)
    assert "called about" not in said and "Press 1 to take the call" in said
