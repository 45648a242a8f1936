"""The deterministic engine on the labelled sets: intents from the matcher, fields from one engine turn."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agent.conversation.engines.deterministic import DeterministicEngine
from agent.conversation.matching import IntentMatcher
from agent.conversation.session import NodeSession
from agent.core.call import Call
from agent.core.intents import Intent
from agent.core.registry import Registry, load_registry
from agent.core.settings import Settings
from agent.core.sources import PluginContext, build_source, deadline_of, fetch_facts
from agent.flow.loader import load_flow
from agent.flow.models import AiAgentNode
from agent.simulation.simulator import at_time
from benchmarks.understanding.data import OFF_TOPIC, SlotTurn, Utterance

FLOWS = Path(__file__).resolve().parents[2] / "examples" / "flows"
HOTLINE = FLOWS / "hotline.yaml"
HOTLINES = {"en": HOTLINE, "de": FLOWS / "hotline_de.yaml"}  # a German caller calls the German hotline (German service names)
CALLER = "+4915112345678"  # a German mobile: numbers without a country code are German ones
AT = "2026-11-25T10:00:00+01:00"  # inside the hotline's support hours


def builtin_registry() -> Registry:
    """The built-in plugins only, so installed third-party intents do not change the figures."""
    return load_registry(use_entry_points=False)


def builtin_intents(registry: Registry) -> list[Intent]:
    return list(registry.intents.values())


def predict_intents(items: list[Utterance], intents: list[Intent]) -> list[str]:
    matcher = IntentMatcher(intents)
    out = []
    for item in items:
        match = matcher.match(item.text)
        out.append(match.intent if match else OFF_TOPIC)
    return out


class SlotRig:
    """Fresh example-hotline calls, one per turn, in the turn's language: what the engine keeps after one line."""

    def __init__(self, registry: Registry) -> None:
        self.rigs = {lang: _FlowRig(registry, path) for lang, path in HOTLINES.items()}

    def run(self, turns: list[SlotTurn]) -> list[dict[str, Any]]:
        return [asyncio.run(self.rigs.get(t.lang, self.rigs["en"]).turn(t)) for t in turns]


class _FlowRig:
    """A fresh call of one flow per turn, the agent having just asked ``turn.asking``."""

    def __init__(self, registry: Registry, flow_path: Path) -> None:
        self.registry = registry
        self.flow = load_flow(flow_path, registry)
        self.node_id = next(iter(self.flow.ai_nodes()))
        node = self.flow.nodes[self.node_id]
        assert isinstance(node, AiAgentNode)
        self.node = node
        context = PluginContext(settings=Settings(), base_dir=flow_path.resolve().parent)
        sources = [build_source(c, registry.sources, context) for c in node.enrichment.sources]
        probe = Call(caller_number=CALLER, now=at_time(AT))
        self.facts = asyncio.run(fetch_facts(sources, probe, deadline_of(node.enrichment, Settings()))).facts

    async def turn(self, turn: SlotTurn) -> dict[str, Any]:
        call = Call(caller_number=CALLER, now=at_time(AT))
        call.facts = list(self.facts)
        session = NodeSession.build(self.node_id, self.node, call, self.registry, region="US", timezone=self.flow.timezone)
        engine = DeterministicEngine(session)
        await engine.start()
        engine.state.asking = turn.asking
        engine.state.intent_score = 0.0
        await engine.reply(turn.text)
        kept: dict[str, Any] = dict(call.fields)
        for name, value in engine.state.confirming:  # read back before it is kept: still a value taken
            if not _offered(engine, session, name, value):
                kept.setdefault(name, value)
        return kept


def _offered(engine: DeterministicEngine, session: NodeSession, name: str, value: Any) -> bool:
    """Whether a value waiting for a yes is the engine's own offer (the caller ID for the next question), not a value the line gave."""
    gather = session.gather(name)
    if gather is None or name not in engine.state.optional_asked:
        return False
    return value == gather.default(session.gather_context())


def same_value(field: str, expected: Any, got: Any) -> bool:
    """Whether a kept value is the expected one; a description needs only contain the expected words."""
    if field == "incident":
        return isinstance(got, str) and " ".join(str(expected).lower().split()) in " ".join(got.lower().split())
    if isinstance(expected, list):
        return isinstance(got, list) and sorted(map(str, got)) == sorted(map(str, expected))
    return str(got) == str(expected)
