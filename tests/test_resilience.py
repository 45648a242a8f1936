"""A failing or slow plugin never ends a call: it is left out, logged by name, and the call goes on."""

import asyncio
import types

from loguru import logger

from agent import hookimpl
from agent.core.facts import CustomFact
from agent.core.registry import load_registry
from tests.conftest import HOTLINE
from tests.helpers import agent_lines, simulate


class _Hanging:
    name = "hanging"

    def __init__(self, config, context):
        pass

    async def fetch(self, call):
        await asyncio.sleep(30)
        return [CustomFact(text="never", services=["Login"])]


class _Raising:
    name = "raising"

    def __init__(self, config, context):
        pass

    async def fetch(self, call):
        raise RuntimeError("backend exploded")


def _bad_plugin():
    module = types.ModuleType("bad_plugin")

    @hookimpl
    def register_enrichment_sources(register):
        register("hanging", _Hanging)
        register("raising", _Raising)

    @hookimpl
    def call_started(call):
        raise RuntimeError("lifecycle boom")

    @hookimpl
    async def call_ended(call, outcome):
        raise RuntimeError("export failed")

    module.register_enrichment_sources = register_enrichment_sources
    module.call_started = call_started
    module.call_ended = call_ended
    return module


def test_hanging_and_failing_sources_are_dropped_and_the_call_goes_on(tmp_path):
    flow = tmp_path / "flow.yaml"
    facts = HOTLINE.parent.parent / "facts" / "acme.yaml"
    flow.write_text(
        f"""
name: Resilience
start: agent
nodes:
  agent:
    type: ai_agent
    greeting: Hello, what's wrong?
    intents: {{system_outage: bye, talk_to_human: bye}}
    gathers: [incident, affected_services]
    enrichment:
      deadline_ms: 300
      sources:
        - {{type: hanging}}
        - {{type: raising}}
        - {{type: static, path: {facts}}}
    known_issue: bye
    fallback: bye
  bye: {{type: hangup, text: Bye}}
"""
    )
    registry = load_registry([("bad_plugin", _bad_plugin())])
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(str(m)), level="WARNING")
    try:
        call, outcome = simulate(flow, ["the checkout is down", "no that's all"], registry=registry)
    finally:
        logger.remove(sink)
    assert outcome.branch == "bye"
    assert "open_incident:INC-1042" in outcome.facts_used, "the healthy source's facts still arrive"
    assert "enrichment.hanging" not in outcome.timings_ms
    log = "\n".join(messages)
    assert "hanging dropped: missed the 300 ms deadline" in log
    assert "raising dropped" in log and "backend exploded" in log
    assert "bad_plugin failed in call_started" in log
    assert "bad_plugin failed in call_ended" in log


def test_a_failing_fallback_plugin_still_reaches_the_fallback_branch(tmp_path):
    module = types.ModuleType("broken_fallback")

    @hookimpl
    def register_fallbacks(register):
        def explode(call, reason):
            raise ValueError("no")

        register("explode", explode)

    module.register_fallbacks = register_fallbacks
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        """
name: Fallback
start: agent
nodes:
  agent:
    type: ai_agent
    greeting: Hello?
    intents: {incident: human}
    fallback: human
    fallback_plugin: explode
    max_no_input: 0
  human: {type: route_call, targets: [{type: number, number: "+4930111111"}]}
"""
    )
    call, outcome = simulate(flow, [""], registry=load_registry([("broken_fallback", module)]))
    assert outcome.branch == "human"
    assert outcome.dials[0].number == "+4930111111"
    assert "Let me put you through to someone who can help." in agent_lines(call)
