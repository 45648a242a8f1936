"""The realtime model as a text engine: the same start/reply contract as the deterministic engine.

``voice-agent simulate --engine openai`` uses it to run a scripted caller
through the real model (or the fake in tests) without audio: caller lines go
in as ``input_text`` items, answers come back as ``output_text``, and tool
calls go through the same :class:`agent.conversation.tools.ToolBox`. The socket
and its events are :mod:`agent.conversation.realtime_client`'s, as for live calls.
"""

from __future__ import annotations

import asyncio
from typing import Any
from zoneinfo import ZoneInfo

from agent.conversation.prompt import build_instructions
from agent.conversation.realtime_client import EventDecoder, RealtimeConnection, RealtimeEndpoint, error_code, tool_output, user_text
from agent.conversation.session import NodeSession
from agent.conversation.tools import ToolBox
from agent.core.settings import Settings

MAX_TOOL_ROUNDS = 8
CONNECT_TIMEOUT_S = 10.0


class EngineUnavailable(RuntimeError):
    """The model cannot be reached at all (no key, or no connection): a setup problem, said in one line with its fix."""


class RealtimeTextEngine:
    def __init__(self, ctx: NodeSession, settings: Settings, *, timeout_s: float = 20.0) -> None:
        self.ctx = ctx
        self.tools = ToolBox(ctx)
        self._settings = settings
        self._timeout = timeout_s
        self._conn: RealtimeConnection | None = None
        self._events = EventDecoder(
            {"response.output_text.delta", "response.function_call_arguments.done", "error", "response.done"}, ignored=None,
        )

    @property
    def done(self) -> bool:
        return self.ctx.decision is not None

    async def connect(self) -> None:
        """Open the model's socket, or raise :class:`EngineUnavailable` saying which setting to fix."""
        if self._conn is not None:
            return
        if self._settings.openai_api_key is None:
            raise EngineUnavailable(
                "no OpenAI API key. Fix: set VOICE_AGENT_OPENAI_API_KEY (environment or .env), or use the deterministic engine"
            )
        url = self._settings.openai_realtime_url
        key = self._settings.openai_api_key.get_secret_value()
        try:
            self._conn = await asyncio.wait_for(
                RealtimeConnection.open(RealtimeEndpoint.openai(url, self._settings.openai_realtime_model, key)), min(self._timeout, CONNECT_TIMEOUT_S),
            )
        except Exception as exc:  # refused, unknown host, TLS, HTTP 401 on the upgrade, timeout: all the same to the user
            reason = str(exc) or type(exc).__name__
            raise EngineUnavailable(
                f"could not connect to the OpenAI Realtime API at {url}: {reason}. "
                "Fix: check the network and VOICE_AGENT_OPENAI_REALTIME_URL (and VOICE_AGENT_OPENAI_API_KEY)"
            ) from exc

    async def start(self) -> list[str]:
        await self.connect()
        instructions = build_instructions(self.ctx, self.ctx.call.facts, ZoneInfo(self.ctx.timezone))
        await self._send({"type": "session.update", "session": {
            "type": "realtime", "model": self._settings.openai_realtime_model, "output_modalities": ["text"],
            "instructions": instructions, "tools": self.tools.schemas(), "tool_choice": "auto",
        }})
        return await self._respond({"instructions": f"Greet the caller with exactly these words: {self.ctx.greeting}"})

    async def reply(self, text: str) -> list[str]:
        if self.done:
            return []
        content = text if text.strip() else "(the caller says nothing)"
        await self._send(user_text(content[:2000]))
        return await self._respond(None)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _send(self, event: dict[str, Any]) -> None:
        assert self._conn is not None, "connect() first"
        await self._conn.send(event)

    async def _respond(self, response: dict[str, Any] | None) -> list[str]:
        """Ask for a response; run its tool calls (and the follow-ups) until the model just talks."""
        lines: list[str] = []
        await self._send({"type": "response.create", **({"response": response} if response else {})})
        for _ in range(MAX_TOOL_ROUNDS):
            text, calls = await asyncio.wait_for(self._collect(), self._timeout)
            if text:
                lines.append(text)
            if not calls:
                return lines
            for call_id, name, arguments in calls:
                result = await self.tools.call(name, arguments)
                await self._send(tool_output(call_id, result))
            if self.done:
                decision = self.ctx.decision
                return lines + ([decision.say] if decision and decision.say else [])
            await self._send({"type": "response.create"})
        return lines

    async def _collect(self) -> tuple[str, list[tuple[str, str, str]]]:
        text: list[str] = []
        calls: list[tuple[str, str, str]] = []
        assert self._conn is not None, "connect() first"
        while True:
            event = self._events.decode(await self._conn.recv())
            kind = event.get("type") if event is not None else None
            if kind == "response.output_text.delta":
                text.append(str(event.get("delta", "")))
            elif kind == "response.function_call_arguments.done":
                calls.append((event["call_id"], event["name"], event.get("arguments") or "{}"))
            elif kind == "error":
                raise RuntimeError(f"realtime model error: {error_code(event)}")
            elif kind == "response.done":
                return "".join(text).strip(), calls
