"""pytest fixtures for testing flows and plugins offline, registered through the ``pytest11`` entry point.

Installed with the package, so a plugin's own test suite gets them with no
import::

    def test_my_source_is_told_to_callers(simulate_call):
        outcome, transcript = simulate_call("flows/hotline.yaml", ["the checkout is down", "no, thanks"])
        assert outcome.branch == "known_goodbye"

    def test_my_flow_live(live_call):
        record, harness, fake = live_call("flows/hotline.yaml", FakeModel([...]), caller)

Fixtures:

- ``simulate_call(flow, turns, *, caller_number=..., at=None, answer_calls=True)``:
  a call walked through the whole flow with the deterministic engine; returns
  ``(Outcome, [(speaker, text), ...])``.
- ``gather_call(flow, turns, *, from_number=..., answer_dials=True)``: a live
  call in the deterministic mode (``<Gather>`` + Twilio speech recognition)
  through the real webhooks, signed like Twilio; returns what Twilio saw
  (:class:`~agent.testing.twiml_interpreter.TwilioCallRecord`).
- ``live_call(flow, model, caller, **kwargs)``: a live call with a fake
  realtime model over real sockets (see :func:`agent.testing.live.run_live_call`).
- ``fake_realtime_server``: the :class:`FakeRealtimeServer` class, for tests
  that drive the model protocol directly.
- ``voice_agent_fresh_state``: empties the shared fact cache and problem
  reports before and after the test (the call fixtures above use it).

Nothing is imported and nothing runs unless a test asks for one of them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

# Everything else is imported inside the fixtures, and no fixture here is autouse: the plugin is loaded in
# every project where the package is installed, and must not import the package (Pipecat logs at import)
# or run anything in test suites that use none of its fixtures.

PUBLIC = "https://voice-agent.test"


@pytest.fixture
def simulate_call(voice_agent_fresh_state):
    def run(flow: str | Path, turns: list, *, caller_number: str | None = "+15555550100", at: str | None = None, answer_calls: bool = True):
        from agent.core.registry import load_registry
        from agent.simulation.simulator import walk_file

        call, outcome = asyncio.run(walk_file(
            Path(flow), list(turns), caller_number=caller_number, at=at, answer_calls=answer_calls, registry=load_registry(),
        ))
        return outcome, [(t.speaker, t.text) for t in call.transcript]

    return run


@pytest.fixture
def gather_call(voice_agent_fresh_state):
    def run(flow: str | Path, turns: list, *, from_number: str = "+15555550100", answer_dials: Any = True, callee_keys: Any = "1", **settings: Any):
        import httpx

        from agent.server.app import create_app
        from agent.testing.settings import TOKEN, agent_settings
        from agent.testing.twiml_interpreter import TwimlInterpreter

        app = create_app(agent_settings(flow, **{"public_base_url": PUBLIC, **settings}))

        async def go():
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
                twilio = TwimlInterpreter(
                    client, PUBLIC, auth_token=TOKEN, from_number=from_number, answer_dials=answer_dials, callee_keys=callee_keys
                )
                return await twilio.call(turns)

        return asyncio.run(go())

    return run


@pytest.fixture
def live_call(voice_agent_fresh_state):
    def run(flow: str | Path, model: Any, caller: Any, **kwargs: Any):
        from agent.testing.live import run_live_call

        return asyncio.run(run_live_call(model, caller, flow=Path(flow), **kwargs))

    return run


@pytest.fixture
def fake_realtime_server():
    from agent.testing.fake_realtime import FakeRealtimeServer

    return FakeRealtimeServer


@pytest.fixture
def voice_agent_fresh_state():
    """Facts cached and problems reported by one call must not leak into the next (each test mocks its own APIs).

    Not autouse: a suite that never calls a voice agent pays nothing for this plugin. Every fixture here that
    runs a call uses it; a test driving the package itself can ask for it by name.
    """
    from agent.core.alert_ledger import ALERT_LEDGER
    from agent.core.shared_state import MemoryState
    from agent.core.sources import FACT_CACHE

    FACT_CACHE.clear()
    ALERT_LEDGER.use(MemoryState())
    yield
    FACT_CACHE.clear()
    ALERT_LEDGER.use(MemoryState())
