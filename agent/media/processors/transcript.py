"""Collects who said what into the call's transcript, and tells waiters when a response ended."""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import (
    Frame,
    LLMFullResponseEndFrame,
    TextFrame,
    TranscriptionFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.core.call import Call
from agent.media.frames import CallerSilenceFrame


class TranscriptCollector(FrameProcessor):
    """Appends caller transcriptions and agent text to ``call.transcript``."""

    def __init__(self, call: Call, **kwargs) -> None:
        super().__init__(**kwargs)
        self._call = call
        self.responses: asyncio.Queue[list[str]] = asyncio.Queue()
        self._current: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame):
            self._call.say("caller", frame.text)
        elif isinstance(frame, CallerSilenceFrame):
            self._call.say("caller", "")
        elif isinstance(frame, TextFrame):
            self._call.say("agent", frame.text)
            self._current.append(frame.text)
        elif isinstance(frame, LLMFullResponseEndFrame):
            self.responses.put_nowait(self._current)
            self._current = []
        await self.push_frame(frame, direction)
