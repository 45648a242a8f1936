"""The hand-over line is played before the call moves on, however its events and Twilio's echoes interleave."""

from __future__ import annotations

import base64
import json

import pytest

from agent.media import mulaw
from tests.fuzz.test_fuzz_realtime_events import Probe

AUDIO_100MS = base64.b64encode(mulaw.tone(440, 100)).decode()


def event(probe: Probe, kind: str, **fields) -> None:
    probe.receive(json.dumps({"type": kind, **fields}))


def echo(probe: Probe, *marks: str) -> None:
    probe.echo(*marks)


def decided_and_speaking(probe: Probe) -> list[str]:
    """The model routes the call and speaks the hand-over line (300 ms); the marks Twilio was sent."""
    event(probe, "response.created")
    event(probe, "response.function_call_arguments.done", name="route_call", call_id="c1",
          arguments=json.dumps({"intent": "talk_to_human", "summary": "wants a person"}))
    event(probe, "response.done", response={"status": "completed"})  # -> the hand-over line is asked for
    event(probe, "response.created")
    for _ in range(3):
        event(probe, "response.output_audio.delta", item_id="handover", delta=AUDIO_100MS)
    event(probe, "response.output_audio.done", item_id="handover")
    return [json.loads(m)["mark"]["name"] for m in probe.to_twilio if '"event":"mark"' in m]


@pytest.mark.parametrize("echo_first", [False, True], ids=["done-then-echo", "echo-then-done"])
def test_the_call_moves_on_once_the_handover_line_was_heard(echo_first: bool) -> None:
    probe = Probe()
    marks = decided_and_speaking(probe)
    assert marks and probe.decisions == []
    if echo_first:  # Twilio played it all before the model's response.done arrived
        echo(probe, *marks)
        assert probe.decisions == [], "not before the model finished the response"
        event(probe, "response.done", response={"status": "completed"})
    else:
        event(probe, "response.done", response={"status": "completed"})
        echo(probe, *marks[:-1])
        assert probe.decisions == [], "not before the last mark is echoed"
        echo(probe, marks[-1])
    assert [d.target for d in probe.decisions] == [probe.model.decision.target]
    event(probe, "response.done", response={"status": "completed"})  # a late or repeated event
    echo(probe, marks[-1])
    assert len(probe.decisions) == 1, "the decision is delivered once"
