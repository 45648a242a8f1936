"""Alert platforms and on-call directories: the plugin contract issue #4's integrations build on."""

import asyncio
import types

from agent import hookimpl
from agent.core.call import AlertReceipt
from agent.core.facts import OnCallShift
from agent.flow.loader import check_flow
from agent.core.registry import load_registry
from tests.helpers import simulate

FLOW = """
name: Platform
start: agent
nodes:
  agent:
    type: ai_agent
    greeting: Hello?
    intents: {talk_to_human: alert}
    fallback: alert
  alert:
    type: create_alert
    platform: {type: fake_platform, team: sre}
    next: page
  page:
    type: route_call
    on_call: {type: fake_directory}
    targets: [{type: on_call_schedule, id: primary}, {type: number, number: "+4930000000", name: Desk}]
"""


class Platform:
    opened = []

    def __init__(self, config, context):
        self.team = config["team"]

    async def open_alert(self, alert, call):
        self.opened.append((self.team, alert))
        return AlertReceipt(platform="fake", key="A-1", url="https://alerts.test/A-1")


class Directory:
    fail = False

    def __init__(self, config, context):
        pass

    async def on_call(self, target, call):
        if self.fail:
            await asyncio.sleep(60)
        return [OnCallShift(schedule=target.id, name="Eve", number="+4930111222")]


def plugin():
    module = types.ModuleType("fake_platforms")

    @hookimpl
    def register_alert_platforms(register):
        register("fake_platform", Platform)

    @hookimpl
    def register_oncall_directories(register):
        register("fake_directory", Directory)

    module.register_alert_platforms = register_alert_platforms
    module.register_oncall_directories = register_oncall_directories
    return module


def test_the_alert_is_opened_on_the_platform_and_the_directory_says_whom_to_dial(tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    Platform.opened.clear()
    call, outcome = simulate(flow, ["put me through to a person"], registry=load_registry([("fake", plugin())]))
    assert Platform.opened and Platform.opened[0][0] == "sre"
    assert outcome.alerts[0].receipt.url == "https://alerts.test/A-1"
    assert [d.number for d in outcome.dials] == ["+4930111222"]


def test_a_slow_directory_leaves_the_numbers_it_can_still_reach(tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.replace("{type: fake_directory}", "{type: fake_directory, timeout_ms: 200}"))
    Directory.fail = True
    try:
        call, outcome = simulate(flow, ["put me through to a person"], registry=load_registry([("fake", plugin())]))
    finally:
        Directory.fail = False
    assert [d.number for d in outcome.dials] == ["+4930000000"]
    assert any("on-call look-up for primary failed" in t.text for t in call.transcript if t.speaker == "system")


def test_unknown_platform_types_are_flow_errors(tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.replace("fake_platform", "ilertt"))
    _, problems = check_flow(flow, load_registry([("fake", plugin())]))
    assert any("unknown alert platform `ilertt`" in p.message for p in problems)
