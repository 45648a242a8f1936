"""VAD: a local voice detector (Silero, shared) that hears the caller talk over the bot.

The model's own VAD hears the caller too, but its ``speech_started`` comes
after its prefix padding and a network round trip. This processor listens to
the caller's audio only while the bot is being heard (between transport out's
``BotStartedSpeakingFrame`` and ``BotStoppedSpeakingFrame``, which come
upstream) and pushes a ``VADUserStartedSpeakingFrame`` downstream when the
caller has spoken long enough to interrupt; the model decides whether that
is a barge-in. Caller audio goes on unchanged.

Caller audio takes the audio lane (:meth:`queue_frame`): 50 frames a second
per call go from stage to stage with one call each, not through Pipecat's
per-frame bookkeeping (event hooks, observer records); every other frame
takes the usual path.
"""

from __future__ import annotations

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.media.frames import CallerAudioFrame
from agent.media.vad import SpeechDetector


class BargeInDetector(FrameProcessor):
    def __init__(self, detector: SpeechDetector, **kwargs) -> None:
        super().__init__(enable_direct_mode=True, **kwargs)
        self._detector = detector
        self._bot_heard = False
        self._listening = False  # the detector has state from the current stretch of bot audio

    async def queue_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM, callback=None) -> None:
        if frame.__class__ is CallerAudioFrame and callback is None and self.next is not None:  # the audio lane
            await self._listen(frame.mulaw, self._detector.feed_mulaw)
            await self.next.queue_frame(frame, direction)
            return
        await super().queue_frame(frame, direction, callback)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, CallerAudioFrame):
            await self._listen(frame.mulaw, self._detector.feed_mulaw)
        elif isinstance(frame, InputAudioRawFrame):  # PCM from another transport
            await self._listen(frame.audio, self._detector.feed)
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._bot_heard = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_heard = False
        await self.push_frame(frame, direction)

    async def _listen(self, audio: bytes, feed) -> None:
        if self._bot_heard:
            self._listening = True
            if feed(audio):
                await self.push_frame(VADUserStartedSpeakingFrame())
        elif self._listening:
            self._detector.reset()
            self._listening = False
