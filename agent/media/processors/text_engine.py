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

from collections.abc import Callable

from agent.conversation.engines import DialogueEngine
from agent.media.frames import CallerSilenceFrame


class TextEngineProcessor(FrameProcessor):
    """Answers each caller turn with one response (start, text frames, end); greets on start.

    An engine that raises is handed to ``on_error`` (the conversation waiting
    for the answer), not left to the pipeline, which would only log it.
    """

    def __init__(self, engine: DialogueEngine, on_error: Callable[[Exception], None] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self._engine = engine
        self._on_error = on_error

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        try:
            if isinstance(frame, StartFrame):
                await self._respond(await self._engine.start())
            elif isinstance(frame, TranscriptionFrame):
                await self._respond(await self._engine.reply(frame.text))
            elif isinstance(frame, CallerSilenceFrame):
                await self._respond(await self._engine.reply(""))
        except Exception as exc:
            if self._on_error is None:
                raise
            self._on_error(exc)

    async def _respond(self, lines: list[str]) -> None:
        await self.push_frame(LLMFullResponseStartFrame())
        for line in lines:
            if line:
                await self.push_frame(TextFrame(text=line))
        await self.push_frame(LLMFullResponseEndFrame())
