"""`voice-agent simulate --engine openai`: a scripted caller through the realtime model in text mode."""

import asyncio

from agent.call import Call
from agent.flow.loader import load_flow
from agent.plugins import load_registry
from agent.scripts import ScriptedCaller, load_script, mismatches
from agent.settings import Settings
from agent.testing.fake_realtime import FakeModel, FakeRealtimeServer
from agent.testing.offline_brain import OfflineBrain
from agent.walker import WalkOptions, at_time, walk
from tests.conftest import EXAMPLES, HOTLINE


def test_example_scripts_pass_through_the_model_in_text_mode():
    async def one(name: str):
        script = load_script(EXAMPLES / "callers" / f"{name}.yaml")
        async with FakeRealtimeServer(FakeModel(OfflineBrain(HOTLINE, caller_number=script.caller_number))) as fake:
            settings = Settings(openai_realtime_url=fake.url, openai_api_key="sk-test")
            registry = load_registry()
            call = Call(caller_number=script.caller_number, now=at_time(None))
            options = WalkOptions(registry, settings, HOTLINE.parent, engine="openai")
            outcome = await walk(load_flow(HOTLINE, registry), ScriptedCaller(script.caller_turns()), call, options)
            modes = {e["session"].get("output_modalities", [None])[0] for e in fake.received if e["type"] == "session.update"}
            return name, script, outcome, modes, fake

    async def all_scripts():
        return await asyncio.gather(*(one(n) for n in ("new_outage", "known_incident", "wants_human", "corrects_detail")))

    for name, script, outcome, modes, fake in asyncio.run(all_scripts()):
        assert modes == {"text"}, name
        assert mismatches(script.expect, outcome) == [], name
        assert not fake.problems, name
