"""The testing kit reaches plugin authors' own test suites through the pytest11 entry point."""

import sys

pytest_plugins = ["pytester"]

FLOW = sys.modules[__name__].__file__.rsplit("/tests/", 1)[0] + "/examples/flows/hotline.yaml"


def test_fixtures_are_available_without_imports(pytester):
    pytester.makepyfile(
        f"""
        from datetime import datetime

        import pytest

        FLOW = {FLOW!r}
        WEDNESDAY_MORNING = "2026-11-25T10:00:00+01:00"  # the hotline answers weekdays 08:00-18:00 Berlin time

        @pytest.fixture(autouse=True)
        def inside_support_hours(monkeypatch):  # live calls read this clock
            from agent.core import call as call_module
            monkeypatch.setattr(call_module, "utc_now", lambda: datetime.fromisoformat(WEDNESDAY_MORNING))

        def test_simulated(simulate_call):
            outcome, transcript = simulate_call(FLOW, ["the checkout is down", "no, that's all"], at=WEDNESDAY_MORNING)
            assert outcome.branch == "known_goodbye"
            assert ("caller", "the checkout is down") in transcript

        def test_gather(gather_call):
            record = gather_call(FLOW, ["put me through to a person please"])
            assert record.dialled == ["+4930901820"]

        def test_fake_model_class(fake_realtime_server):
            assert fake_realtime_server.__name__ == "FakeRealtimeServer"

        def test_live(live_call):  # the README's example
            from agent.testing.fake_realtime import FakeModel, Say, ToolCall
            model = FakeModel([Say("Hello?"), ToolCall("route_call", {{"intent": "talk_to_human", "summary": "wants a person"}}), Say("Connecting you.")])
            async def caller(call, harness):
                await call.wait_for_audio(ms=200, timeout=10)
                harness.fake_model.caller_said("get me a person")
                await call.say(1000)
            record, harness, fake = live_call(FLOW, model, caller)
            assert record.dialled
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_a_suite_using_none_of_the_fixtures_imports_nothing_of_the_package(pytester):
    """The plugin is loaded in every project where the package is installed: it must cost them nothing."""
    pytester.makepyfile(
        """
        import sys

        LOADED_BY_PLUGIN = {"agent", "agent.hookspecs", "agent.testing", "agent.testing.pytest_plugin"}

        def test_one():
            assert 1 + 1 == 2

        def test_nothing_heavy_is_imported():
            assert "agent.testing.pytest_plugin" in sys.modules  # the plugin is loaded, through its entry point
            heavy = [m for m in ("pipecat", "openai", "loguru", "agent.server", "agent.simulation.simulator") if m in sys.modules]
            assert heavy == []
            imported = sorted(m for m in sys.modules if m.split(".")[0] == "agent" and m not in LOADED_BY_PLUGIN)
            assert imported == []
        """
    )
    plan = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--setup-plan").stdout.str()
    ours = ("_fresh_fact_cache", "voice_agent_fresh_state", "simulate_call", "gather_call", "live_call", "fake_realtime_server")
    assert [name for name in ours if name in plan] == []  # no fixture of the plugin is set up either
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
