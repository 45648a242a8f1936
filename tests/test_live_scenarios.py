"""Every example caller script, live: real Twilio protocol, realtime path, redirect to the expected branch.

The fake model's brain is a shadow deterministic engine (agent.testing.deterministic_brain):
it decides like the deterministic engine, but acts only through tool calls that the
server under test executes. All scenarios run at once, as concurrent calls.
"""

from __future__ import annotations

import asyncio

from agent.simulation.scripts import load_script
from agent.testing.fake_realtime import FakeModel
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.deterministic_brain import DeterministicBrain
from tests.conftest import EXAMPLES, HOTLINE
import respx

from agent.testing.live import ACCOUNT, TWILIO_API, Harness, run_live_call, speak, twilio_rest

SCENARIOS = ["new_outage", "known_incident", "wants_human", "off_topic", "corrects_detail", "maintenance"]


async def one(name: str, rest: respx.MockRouter | None = None):
    script = load_script(EXAMPLES / "callers" / f"{name}.yaml")
    model = FakeModel(DeterministicBrain(HOTLINE, caller_number=script.caller_number))
    lines = [t for t in script.turns if isinstance(t, str)]

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=300, timeout=15)
        await call.wait_until_quiet(ms=400, timeout=15)
        for line in lines:
            await speak(call, harness.fake_model, line, ms=900)
            await call.wait_for_audio(ms=200, timeout=15, new=True)
            await call.wait_until_quiet(ms=400, timeout=15)

    record, harness, fake = await run_live_call(model, caller, flow=HOTLINE, from_number=script.caller_number, rest=rest)
    return name, script, record, harness


async def all_at_once():
    """Every scenario as concurrent live calls, Twilio's REST API mocked for all of them."""
    with respx.mock(assert_all_called=False) as rest:
        rest.route(host="127.0.0.1").pass_through()
        rest.post(url__startswith=f"{TWILIO_API}/2010-04-01/Accounts/{ACCOUNT}/Calls/").mock(side_effect=twilio_rest)
        return await asyncio.gather(*(one(name, rest) for name in SCENARIOS))


def test_every_example_scenario_completes_live_with_the_expected_branch():
    for name, script, record, harness in asyncio.run(all_at_once()):
        expect = script.expect
        assert len(harness.redirects) == 1, name
        target = expect.branch
        node_text = {
            "alert": "Please hold while I connect you to the on-call engineer.",
            "page_oncall": "Please hold while I connect you to the on-call engineer.",
            "known_goodbye": "We'll post updates on status.acme.example.",
        }[target]
        assert node_text in record.said[-1], f"{name}: the redirect reached branch {target}"
        if target in ("alert", "page_oncall"):
            assert record.dialled == ["+4930901820"], name
        else:
            assert record.dialled == [], name
        for field, value in expect.fields.items():
            spoken = value if isinstance(value, str) else ", ".join(value)
            if field in ("caller_name",):
                assert spoken in record.whispers[0], f"{name}: {field} reached the engineer's briefing"
