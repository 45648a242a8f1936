"""A fake model's brain that understands callers like the deterministic engine, and acts through tool calls.

Give it to :class:`agent.testing.fake_realtime.FakeModel` to run a flow's
scenarios through the realtime path with a model that behaves plausibly:
each caller line goes to a shadow deterministic engine, whose tool calls become the
fake model's ``ToolCall`` actions and whose words become ``Say`` actions.
The server under test executes those tool calls for real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.conversation.session import NodeSession
from agent.core.call import Call
from agent.conversation.engines.deterministic import DeterministicEngine
from agent.flow.loader import load_flow
from agent.flow.models import AiAgentNode
from agent.core.registry import Registry, load_registry
from agent.conversation.realtime_client import SAY_LEAD
from agent.core.settings import Settings
from agent.core.sources import PluginContext, build_source, deadline_of, fetch_facts
from agent.testing.fake_realtime import Action, Say, ToolCall, Turn
from agent.conversation.tools import ToolBox


class _RecordingTools(ToolBox):
    """Runs tools on the shadow call and remembers them, so the fake model can make the same calls."""

    def __init__(self, ctx: NodeSession) -> None:
        super().__init__(ctx)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call(self, name: str, arguments: dict[str, Any] | str | None) -> dict[str, Any]:
        if isinstance(arguments, dict):
            self.calls.append((name, dict(arguments)))
        return await super().call(name, arguments)


class DeterministicBrain:
    """``FakeModel(DeterministicBrain(flow_path, caller_number=...))``."""

    def __init__(self, flow_path: Path, *, node_id: str | None = None, caller_number: str | None = None, registry: Registry | None = None) -> None:
        self._registry = registry or load_registry()
        flow = load_flow(flow_path, self._registry)
        node_id = node_id or next(iter(flow.ai_nodes()))
        node = flow.nodes[node_id]
        assert isinstance(node, AiAgentNode)
        self._node = node
        self._base_dir = flow_path.resolve().parent
        self._call = Call(caller_number=caller_number)
        self._ctx = NodeSession.build(node_id, node, self._call, self._registry, timezone=flow.timezone)
        self._tools = _RecordingTools(self._ctx)
        self._engine = DeterministicEngine(self._ctx, self._tools)
        self._pending: list[str] = []
        self._ready = False

    async def _prepare(self) -> None:
        if self._ready:
            return
        context = PluginContext(settings=Settings(), base_dir=self._base_dir)
        sources = [build_source(c, self._registry.sources, context) for c in self._node.enrichment.sources]
        self._call.facts = (await fetch_facts(sources, self._call, deadline_of(self._node.enrichment, Settings()))).facts
        await self._engine.start()
        self._ready = True

    async def __call__(self, turn: Turn) -> list[Action]:
        await self._prepare()
        asked = str((turn.response or {}).get("instructions") or "")
        for lead in ("Greet the caller with exactly these words: ", SAY_LEAD):
            if asked.startswith(lead):
                return [Say(asked[len(lead):])]
        if "silent" in asked:
            return [Say("Are you still there?")]
        if turn.tool_output is None and turn.user_text is not None:
            return await self._hear(turn.user_text.removeprefix("I keyed in on my phone: "))
        lines, self._pending = self._pending, []
        return [Say(" ".join(lines) or "Okay.")]

    async def _hear(self, text: str) -> list[Action]:
        self._tools.calls.clear()
        lines = await self._engine.reply(text)
        calls = list(self._tools.calls)
        if not calls:
            return [Say(" ".join(lines) or "Sorry?")]
        self._pending = [] if self._engine.done else lines
        return [ToolCall(name, args) for name, args in calls]

