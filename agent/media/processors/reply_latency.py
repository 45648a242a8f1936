"""Voice to voice: from the caller's end of turn to the first audio of the bot's reply, reported to a callback."""

from __future__ import annotations

import time
from collections.abc import Callable

from pipecat.frames.frames import BotStartedSpeakingFrame, Frame, UserStoppedSpeakingFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class ReplyLatencyMeter(FrameProcessor):
    """``on_latency(seconds)`` for each ``UserStoppedSpeakingFrame`` followed by a ``BotStartedSpeakingFrame``."""

    def __init__(self, on_latency: Callable[[float], None], **kwargs) -> None:
        super().__init__(enable_direct_mode=True, **kwargs)
        self._on_latency = on_latency
        self._stopped_at: float | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, UserStoppedSpeakingFrame):
            self._stopped_at = time.monotonic()
        elif isinstance(frame, BotStartedSpeakingFrame) and self._stopped_at is not None:
            self._on_latency(time.monotonic() - self._stopped_at)
            self._stopped_at = None
        await self.push_frame(frame, direction)
