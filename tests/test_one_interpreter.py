"""What you simulate is what runs: every example caller script, in every mode, goes the same way.

The flow stepper (agent.flow.stepper) decides for all three modes; each mode
only renders its actions. Here the same caller drives:

- the simulator (``voice-agent simulate``),
- the ``<Gather>`` mode (the real server, a fake Twilio following its TwiML),
- the realtime node (the real server, Twilio Media Streams, a fake realtime model
  whose brain decides like the deterministic engine but acts only through tool calls),

and the nodes each call passed, and the actions the stepper gave, must be the same.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from agent.flow import actions as act
from agent.simulation.scripts import load_script
from agent.simulation.simulator import walk_file
from agent.testing.twiml_interpreter import Spoken
from tests.conftest import EXAMPLES, HOTLINE
from tests.test_live_scenarios import all_at_once

SCRIPTS = sorted((EXAMPLES / "callers").glob("*.yaml"))


def signature(action: act.Action) -> tuple:
    """What a caller (or an engineer, or an alert platform) would notice of an action."""
    if isinstance(action, (act.Note, act.AlertOpened)):
        return (type(action).__name__,)  # notes differ in wording between modes only where the mode knows more
    fields = {k: v for k, v in dataclasses.asdict(action).items() if k not in ("whisper",)}
    return (type(action).__name__, tuple(sorted((k, str(v)) for k, v in fields.items())))


def actions_of(steps: list) -> list[tuple]:
    return [signature(a) for _, step in steps for a in step.actions if not isinstance(a, (act.Note, act.AlertOpened))]


def simulated(script_path):
    script = load_script(script_path)
    steps: list = []
    from agent.core.registry import load_registry
    from agent.simulation import simulator

    registry = load_registry()

    async def go():
        original = simulator.WalkOptions

        def options(*args, **kwargs):
            return original(*args, **kwargs, on_step=[lambda call, step: steps.append((list(call.nodes), step))])

        simulator.WalkOptions = options  # type: ignore[assignment]
        try:
            return await walk_file(HOTLINE, script.caller_turns(), caller_number=script.caller_number, registry=registry)
        finally:
            simulator.WalkOptions = original  # type: ignore[assignment]

    call, outcome = asyncio.run(go())
    return script, steps, outcome


def gather_turns(script) -> list[Spoken]:
    return [Spoken(digits=t.dtmf) if t.dtmf is not None else Spoken(speech=t.text) for t in script.caller_turns()]


@pytest.mark.parametrize("script_path", SCRIPTS, ids=lambda p: p.stem)
def test_the_gather_mode_does_what_the_simulator_does(script_path, gather_call):
    script, sim_steps, outcome = simulated(script_path)
    steps: list = []
    from agent.live.runner import LiveFlow

    original = LiveFlow.stepper

    def watch(call, step):
        steps.append((list(call.nodes), step))

    def watched(self):
        if watch not in self.on_step:  # the server's LiveFlow, whichever request asks for its stepper
            self.on_step.append(watch)
        return original.fget(self)  # type: ignore[attr-defined]

    LiveFlow.stepper = property(watched)  # type: ignore[assignment]
    try:
        gather_call(HOTLINE, gather_turns(script), from_number=script.caller_number or "+15555550100")
    finally:
        LiveFlow.stepper = original  # type: ignore[assignment]
    assert steps, "the server ran the stepper"
    assert steps[-1][0] == outcome.nodes, "the same nodes, in the same order"
    live = actions_of(steps)
    simulated_actions = actions_of(sim_steps)
    if outcome.end_reason == "caller_hung_up":  # the script ran out: Twilio's caller stays silent until the flow ends it
        live = live[: len(simulated_actions)]
    assert live == simulated_actions


def test_the_realtime_node_goes_where_the_simulator_goes():
    """Outside the AI node (which the model runs instead of the deterministic engine), the same actions, nodes and branch."""
    for name, _, _, harness in asyncio.run(all_at_once()):
        steps = harness.steps
        _, sim_steps, outcome = simulated(EXAMPLES / "callers" / f"{name}.yaml")
        assert steps and steps[-1][0] == outcome.nodes, name
        assert isinstance(steps[0][1].waiting, act.Converse), f"{name}: the model runs the AI node"
        after_agent = [a for a in steps[-1][1].actions if not isinstance(a, (act.Note, act.AlertOpened))]
        sim_last = [a for a in sim_steps[-1][1].actions if not isinstance(a, (act.Note, act.AlertOpened))]
        # the simulator's last step starts with the deterministic engine's closing lines; the model said its own
        assert [signature(a) for a in after_agent] == [signature(a) for a in sim_last[len(sim_last) - len(after_agent):]], name
