"""A frame processor that lets a text engine answer: transcriptions in, text responses out."""

from __future__ import annotations

from pipecat.frames.frames import (
    Frame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    StartFrame,
    TextFrame,
    TranscriptionFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.engines import DialogueEngine
from agent.frames import CallerSilenceFrame


class TextEngineProcessor(FrameProcessor):
    """Answers each caller turn with one response (start, text frames, end); greets on start."""

    def __init__(self, engine: DialogueEngine, **kwargs) -> None:
        super().__init__(**kwargs)
        self._engine = engine

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self._respond(await self._engine.start())
        elif isinstance(frame, TranscriptionFrame):
            await self._respond(await self._engine.reply(frame.text))
        elif isinstance(frame, CallerSilenceFrame):
            await self._respond(await self._engine.reply(""))

    async def _respond(self, lines: list[str]) -> None:
        await self.push_frame(LLMFullResponseStartFrame())
        for line in lines:
            if line:
                await self.push_frame(TextFrame(text=line))
        await self.push_frame(LLMFullResponseEndFrame())
