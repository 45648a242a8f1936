"""Dialogue engines: who decides what the agent says. All act through :class:`agent.conversation.tools.ToolBox`."""

from __future__ import annotations

from typing import Protocol


class DialogueEngine(Protocol):
    """A conversation on text: the greeting, then one answer per caller line, until ``done``."""

    @property
    def done(self) -> bool: ...

    async def start(self) -> list[str]: ...

    async def reply(self, text: str) -> list[str]: ...
