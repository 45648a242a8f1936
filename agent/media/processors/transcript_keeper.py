"""Keeps the call's transcript, and says when what the call knows has changed (caller data redacted by the log sink)."""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger
from pipecat.frames.frames import Frame, FunctionCallResultFrame, TranscriptionFrame, TTSTextFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.core.call import Call


class TranscriptKeeper(FrameProcessor):
    """Keeps each turn in the call's transcript; ``on_change`` hears of every turn and tool answer.

    It records no audio: what it keeps is the text of the conversation (and,
    through ``on_change``, the call's latest state is checkpointed).
    """

    MAX_TURNS = 400

    def __init__(self, call: Call, on_change: Callable[[], None] | None = None, **kwargs) -> None:
        super().__init__(enable_direct_mode=True, **kwargs)
        self._call = call
        self._on_change = on_change

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame):
            self._keep("caller", frame.text)
        elif isinstance(frame, TTSTextFrame):
            self._keep("agent", frame.text)
        elif isinstance(frame, FunctionCallResultFrame):
            self._changed()
        await self.push_frame(frame, direction)

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def _keep(self, speaker: str, text: str) -> None:
        if len(self._call.transcript) < self.MAX_TURNS:
            self._call.say(speaker, text)
        self._changed()
        logger.bind(conversation=True).info("call {} {}: {}", self._call.call_id, speaker, text)
