"""Transport out: the bot's audio onto the Twilio socket, and what the caller has heard of it.

Pipecat's output transport would decode each chunk to PCM, re-chunk it, pace
it in real time with a sleep per chunk and encode it back to mu-law. Twilio
buffers media and plays it at the right speed by itself, and echoes each
``mark`` once the audio before it has played, so this processor writes each
:class:`BotAudioFrame` as it comes (one ``media`` message per model delta,
:class:`TwilioMediaSender`), follows every ~200 ms of it with a mark, and
keeps the ledger of what was sent and what Twilio reports played, per reply
item. From that ledger it tells the pipeline, as Pipecat's output transport
does, when the bot starts and stops being heard (``BotStartedSpeakingFrame``
when a reply item starts, ``BotStoppedSpeakingFrame`` once Twilio has echoed
everything; both directions); and on an ``InterruptionFrame`` (barge-in) it
clears Twilio's buffer and reports upstream what the caller heard
(:class:`PlaybackCutFrame`), for the model to truncate its item there.
Twilio's mark echoes (:class:`TwilioMarkFrame`, from transport in) end here,
like the audio they mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InterruptionFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.media.frames import BotAudioEndFrame, BotAudioFrame, PlaybackCutFrame, TwilioMarkFrame
from agent.media.processors.twilio_sender import TwilioMediaSender

MARK_EVERY_MS = 200


def audio_ms(payload: str) -> int:
    """Milliseconds of 8 kHz mu-law in a base64 payload."""
    return len(payload) * 3 // 4 // 8


@dataclass
class PlaybackLedger:
    """Per reply item: how much audio was sent to Twilio, how much Twilio reports played; the marks in flight."""

    item: str | None = None  # the item of the latest audio
    sent_ms: dict[str, int] = field(default_factory=dict)
    played_ms: dict[str, int] = field(default_factory=dict)
    unmarked_ms: int = 0  # sent since the last mark
    marks: dict[str, tuple[str, int]] = field(default_factory=dict)  # mark -> (item, sent ms of it at the mark)
    cut: set[str] = field(default_factory=set)  # items a barge-in cut off
    _mark_no: int = 0

    def unplayed(self) -> bool:
        """Some audio sent to Twilio was not reported played yet."""
        return self.unmarked_ms > 0 or bool(self.marks)

    def playing(self) -> bool:
        """Audio of the latest item was sent that Twilio has not reported played (and may still be cut)."""
        item = self.item
        return item is not None and item not in self.cut and self.sent_ms.get(item, 0) > self.played_ms.get(item, 0)

    def sent(self, item: str, ms: int) -> bool:
        """``ms`` of ``item`` went to Twilio; True when the caller starts hearing a new item (or after silence)."""
        starting = item != self.item or not self.unplayed()
        self.item = item
        self.sent_ms[item] = self.sent_ms.get(item, 0) + ms
        self.unmarked_ms += ms
        return starting

    def mark(self, item: str) -> str:
        """A new mark after what was sent of ``item``: its name."""
        self._mark_no += 1
        name = f"m{self._mark_no}"
        self.marks[name] = (item, self.sent_ms.get(item, 0))
        self.unmarked_ms = 0
        return name

    def echoed(self, name: str) -> bool:
        """Twilio echoed mark ``name``; True if it was one of ours still in flight."""
        item, ms = self.marks.pop(name, (None, 0))
        if item is None:
            return False
        if item not in self.cut:
            self.played_ms[item] = max(self.played_ms.get(item, 0), ms)
        return True

    def cut_off(self) -> tuple[str, int, int] | None:
        """Barge-in: the latest item, if playing, is cut; ``(item, heard ms, sent ms)``."""
        if not self.playing():
            return None
        item = self.item
        assert item is not None
        self.cut.add(item)
        # Twilio drops the audio it holds and echoes its marks, which no longer count.
        self.marks = {n: v for n, v in self.marks.items() if v[0] != item}
        self.unmarked_ms = 0
        return item, self.played_ms.get(item, 0), self.sent_ms.get(item, 0)


class TwilioMediaOutput(FrameProcessor):
    """Transport out of a Twilio media stream: consumes :class:`BotAudioFrame`, writes media, marks and clears."""

    def __init__(self, sender: TwilioMediaSender, *, mark_every_ms: int = MARK_EVERY_MS, **kwargs) -> None:
        super().__init__(enable_direct_mode=True, **kwargs)
        self._sender = sender
        self._mark_every = mark_every_ms
        self.ledger = PlaybackLedger()

    async def queue_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM, callback=None) -> None:
        """Bot audio takes the audio lane: written at once, without Pipecat's per-frame hooks."""
        if frame.__class__ is BotAudioFrame and callback is None:
            await self._play(frame.payload, frame.item_id)
            return
        await super().queue_frame(frame, direction, callback)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, BotAudioFrame):
            await self._play(frame.payload, frame.item_id)
            return  # the audio ends here
        if isinstance(frame, BotAudioEndFrame):
            if self.ledger.unmarked_ms and (frame.item_id or self.ledger.item):
                await self._mark(frame.item_id or self.ledger.item or "")
        elif isinstance(frame, TwilioMarkFrame):
            if self.ledger.echoed(frame.mark) and not self.ledger.unplayed():
                await self._both_ways(BotStoppedSpeakingFrame)
            return  # the marks end here, like the audio they mark: what follows hears BotStoppedSpeakingFrame
        elif isinstance(frame, InterruptionFrame) and direction == FrameDirection.DOWNSTREAM:
            await self._cut()
        await self.push_frame(frame, direction)

    async def _play(self, payload: str, item: str) -> None:
        if item in self.ledger.cut:
            return  # the rest of a reply the caller talked over
        ms = audio_ms(payload)
        starting = self.ledger.sent(item, ms)
        await self._sender.media(payload)
        if starting:
            await self._both_ways(BotStartedSpeakingFrame)
        if self.ledger.unmarked_ms >= self._mark_every:
            await self._mark(item)

    async def _mark(self, item: str) -> None:
        await self._sender.mark(self.ledger.mark(item))

    async def _cut(self) -> None:
        cut = self.ledger.cut_off()
        if cut is None:
            return
        await self._sender.clear()
        item, heard, sent = cut
        await self.push_frame(PlaybackCutFrame(item_id=item, heard_ms=heard, sent_ms=sent), FrameDirection.UPSTREAM)
        if not self.ledger.unplayed():
            await self._both_ways(BotStoppedSpeakingFrame)

    async def _both_ways(self, kind: type[Frame]) -> None:
        await self.push_frame(kind(), FrameDirection.DOWNSTREAM)
        await self.push_frame(kind(), FrameDirection.UPSTREAM)
