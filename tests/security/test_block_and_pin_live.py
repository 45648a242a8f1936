"""block_numbers and pin_code through the real server, with Twilio's TwiML followed by the interpreter.

tests/test_walker_nodes.py covers the same nodes in the simulator; these prove
the live webhooks honour them: a blocked caller is never connected.
"""

from __future__ import annotations

import pytest

from agent.testing.twiml_interpreter import Spoken

ENGINEER = "+4930111111"
FLOW = """
name: Screened line
start: screen
nodes:
  screen:
    type: block_numbers
    numbers: ["+4930666666", "+1 (415) 555-0134"]
    block_anonymous: {anonymous}
    allowed: welcome
    blocked: blocked_goodbye
  blocked_goodbye: {{type: hangup, text: Sorry this line cannot take your call.}}
  welcome: {{type: audio_message, text: Welcome to the secure line., next: pin}}
  pin:
    type: pin_code
    prompt: Enter your PIN followed by hash.
    pins: ["4711"]
    attempts: 3
    match: engineer
    no_match: wrong_pin
  wrong_pin: {{type: hangup, text: Wrong PIN. Goodbye.}}
  engineer:
    type: route_call
    targets: [{{type: number, number: "{engineer}"}}]
    completed: null
    no_answer: null
"""


@pytest.fixture
def flow(tmp_path):
    def write(anonymous: bool = True):
        path = tmp_path / f"screened-{anonymous}.yaml"
        path.write_text(FLOW.format(anonymous=str(anonymous).lower(), engineer=ENGINEER))
        return path

    return write


@pytest.mark.parametrize("number", ["+4930666666", "+14155550134"])  # listed as written, and listed in another format
def test_a_blocked_caller_hears_the_blocked_branch_and_is_never_connected(gather_call, flow, number):
    record = gather_call(flow(), [Spoken(digits="4711#")] * 3, from_number=number)
    assert record.said == ["Sorry this line cannot take your call."]
    assert record.dialled == [] and record.whispers == []
    assert all("<Dial" not in url for url, _ in record.requests)
    assert len(record.requests) == 1, "one webhook: the call ends in the first TwiML"


@pytest.mark.parametrize("number", ["", "anonymous", "Restricted", "unknown"])
def test_anonymous_callers_are_blocked_when_block_anonymous(gather_call, flow, number):
    record = gather_call(flow(anonymous=True), [Spoken(digits="4711#")], from_number=number)
    assert record.said == ["Sorry this line cannot take your call."]
    assert record.dialled == []
    allowed = gather_call(flow(anonymous=False), [Spoken(digits="4711#")], from_number=number)
    assert allowed.dialled == [ENGINEER], "without block_anonymous they get through"


def test_wrong_pin_every_attempt_takes_the_no_match_branch(gather_call, flow):
    record = gather_call(flow(), [Spoken(digits="1234#"), Spoken(digits="0000#"), Spoken(digits="47110#")], from_number="+4930123456")
    assert record.said.count("Enter your PIN followed by hash.") == 3
    assert record.said.count("That PIN is not correct.") == 3  # every wrong PIN is told, the last one too (as the simulator does)
    assert record.said[-1] == "Wrong PIN. Goodbye."
    assert record.dialled == [] and record.whispers == []


def test_the_right_pin_takes_the_match_branch(gather_call, flow):
    record = gather_call(flow(), [Spoken(digits="0000#"), Spoken(digits="4711#")], from_number="+4930123456")
    assert record.said.count("That PIN is not correct.") == 1
    assert "Wrong PIN. Goodbye." not in record.said
    assert record.dialled == [ENGINEER]


def test_silence_at_the_pin_prompt_is_a_wrong_attempt(gather_call, flow):
    record = gather_call(flow(), [Spoken(), Spoken(), Spoken()], from_number="+4930123456")
    assert record.said[-1] == "Wrong PIN. Goodbye."
    assert record.dialled == []
