"""`voice-agent simulate --engine openai`: a scripted caller through the realtime model in text mode."""

import asyncio
import os
import subprocess
import sys
import textwrap
import time

from agent.core.call import Call
from agent.flow.loader import load_flow
from agent.core.registry import load_registry
from agent.simulation.scripts import ScriptedCaller, load_script, mismatches
from agent.core.settings import Settings
from agent.testing.fake_realtime import FakeModel, FakeRealtimeServer
from agent.testing.deterministic_brain import DeterministicBrain
from agent.simulation.simulator import WalkOptions, at_time, walk
from tests.conftest import EXAMPLES, HOTLINE


def test_example_scripts_pass_through_the_model_in_text_mode():
    async def one(name: str):
        script = load_script(EXAMPLES / "callers" / f"{name}.yaml")
        async with FakeRealtimeServer(FakeModel(DeterministicBrain(HOTLINE, caller_number=script.caller_number))) as fake:
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


# -- a model that cannot be reached: a clear message and a non-zero exit within seconds, never a hang ------------

def _simulate_openai(env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VOICE_AGENT_")}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", "from agent.cli.main import main; main()", "simulate", "--engine", "openai"],
        env={**clean, **env}, cwd=str(EXAMPLES), capture_output=True, text=True, timeout=60,
    )
    return result, time.monotonic() - started


def test_simulate_openai_without_a_key_names_the_setting_and_exits_non_zero():
    result, seconds = _simulate_openai({})
    assert result.returncode != 0, result.stdout + result.stderr
    assert "VOICE_AGENT_OPENAI_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr
    assert seconds < 20


def test_simulate_openai_with_an_unreachable_url_names_the_url_and_exits_non_zero():
    url = "ws://127.0.0.1:9/v1/realtime"  # the discard port: nothing listens, the connection is refused at once
    result, seconds = _simulate_openai({"VOICE_AGENT_OPENAI_API_KEY": "sk-test", "VOICE_AGENT_OPENAI_REALTIME_URL": url})
    assert result.returncode != 0, result.stdout + result.stderr
    assert f"could not connect to the OpenAI Realtime API at {url}" in result.stderr
    assert "VOICE_AGENT_OPENAI_REALTIME_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert seconds < 20


def test_an_engine_failing_at_its_greeting_or_mid_call_raises_and_the_pipeline_stops():
    """TextCall hands the engine's error to the caller instead of waiting; nothing is left running to hang shutdown."""
    code = textwrap.dedent("""
        import asyncio
        from agent.core.call import Call
        from pipelines.text_call import TextCall

        class Broken:
            done = False
            def __init__(self, greets):
                self.greets = greets
            async def start(self):
                if not self.greets:
                    raise RuntimeError("no greeting")
                return ["hello"]
            async def reply(self, text):
                raise RuntimeError("realtime model error: server_error")

        async def call(greets):
            async with TextCall(Broken(greets), Call(caller_number=None)) as conversation:
                await conversation.say("hi")

        for greets in (False, True):
            try:
                asyncio.run(call(greets))
            except RuntimeError as exc:
                print("raised:", exc)
    """)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == ["raised: no greeting", "raised: realtime model error: server_error"]
    assert time.monotonic() - started < 20
