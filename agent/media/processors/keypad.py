"""The caller's key presses, gathered into one entry: ``InputDTMFFrame``s in, a :class:`KeypadEntryFrame` out.

An entry ends with ``#`` or after ``idle_s`` without a key. A side processor
(after transport out, like the supervisor): the key frames come down from
transport in through the model, and the entry goes back up to the model (and
on down, for whoever keeps the call's record), so the caller's audio, 50
frames a second, has one stage less to pass. The key frames go on too.
"""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import CancelFrame, EndFrame, Frame, InputDTMFFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.media.frames import KeypadEntryFrame


class KeypadCollector(FrameProcessor):
    def __init__(self, *, idle_s: float = 1.5, **kwargs) -> None:
        super().__init__(enable_direct_mode=True, **kwargs)
        self._idle = idle_s
        self._digits = ""
        self._timer: asyncio.Task[None] | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputDTMFFrame):
            key = str(frame.button.value)
            if key != "#":
                self._digits += key
            await self._end_entry_in(0 if key == "#" else self._idle)
        elif isinstance(frame, (EndFrame, CancelFrame)) and self._timer is not None:
            await self.cancel_task(self._timer)
            self._timer = None
        await self.push_frame(frame, direction)

    async def _end_entry_in(self, delay: float) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer = self.create_task(self._end_entry(delay), "dtmf")

    async def _end_entry(self, delay: float) -> None:
        await asyncio.sleep(delay)
        digits, self._digits = self._digits, ""
        if digits:
            await self.push_frame(KeypadEntryFrame(digits=digits), FrameDirection.UPSTREAM)
            await self.push_frame(KeypadEntryFrame(digits=digits), FrameDirection.DOWNSTREAM)
