"""Collects the call's transcript and logs its events (caller data redacted by the log sink)."""

from __future__ import annotations

from loguru import logger
from pipecat.frames.frames import Frame, TranscriptionFrame, TTSTextFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.call import Call


class CallRecorder(FrameProcessor):
    MAX_TURNS = 400

    def __init__(self, call: Call, **kwargs) -> None:
        super().__init__(**kwargs)
        self._call = call

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame):
            self._keep("caller", frame.text)
        elif isinstance(frame, TTSTextFrame):
            self._keep("agent", frame.text)
        await self.push_frame(frame, direction)

    def _keep(self, speaker: str, text: str) -> None:
        if len(self._call.transcript) < self.MAX_TURNS:
            self._call.say(speaker, text)
        logger.bind(conversation=True).info("call {} {}: {}", self._call.call_id, speaker, text)
