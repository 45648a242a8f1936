"""Who is speaking, and what to do about silence and overlong calls.

The bot counts as speaking while the caller hears it (transport out's
``BotStartedSpeakingFrame`` .. ``BotStoppedSpeakingFrame``: from its first
audio until Twilio echoes the mark sent after its last audio): audio reaches
Twilio faster than it plays, so a timer that started when the audio was
*sent* would fire while the caller is still listening. The caller counts as speaking between the model's
``speech_started`` and ``speech_stopped``. Each time nobody has spoken for the
node's re-prompt time a :class:`SilenceFrame` goes upstream: the tool handlers
count it against the question open (past the node's ``max_no_input`` the call
takes the fallback branch, as in the deterministic engine), else the model
re-prompts. Once nobody has spoken for ``silence_end_s`` in all since the
caller's last words (the bot's re-prompts do not count as silence, nor reset
it), or at the node's maximum duration, the call is handed over (a
:class:`HandOverFrame` upstream). A ``CallDecidedFrame`` with ``now`` (from the
tool handlers, downstream) means the call was handed over: no more timers but
the model's answer.
A model that says nothing within ``answer_timeout_s`` of being asked to
(a re-prompt or the hand-over line) is reported through ``on_no_answer``:
it has stalled, and the call must go on without it.

Per frame this does attribute checks only; the timers run in one task that
wakes twice a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    StartFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.core.events import call_event
from agent.media.frames import CallDecidedFrame, HandOverFrame, SilenceFrame

TICK_S = 0.5  # timers here are seconds long; fewer wake-ups per call


class CallSupervisor(FrameProcessor):
    def __init__(
        self, *, reprompt_after_s: float, max_duration_s: float, silence_end_s: float | None = None,
        answer_timeout_s: float | None = None, on_no_answer: Callable[[str], Awaitable[None]] | None = None,
        call_id: str | None = None, **kwargs,
    ) -> None:
        super().__init__(enable_direct_mode=True, **kwargs)
        self._call_id = call_id  # the call event log's key
        self._answer_timeout = answer_timeout_s
        self._on_no_answer = on_no_answer
        self._asked_at: float | None = None  # when the model was last asked to speak, until it does
        self._reprompt_after = reprompt_after_s
        self._max_duration = max_duration_s
        self._silence_end = silence_end_s
        self._silence_total = 0.0  # silence since the caller's last words, before the current quiet stretch
        self._nobody_since = time.monotonic()
        self._caller_speaking = False
        self._bot_heard = False
        self._quiet_since = time.monotonic()
        self._started = time.monotonic()
        self._handed_over = False
        self._timer: asyncio.Task[None] | None = None
        self.speaker = "nobody"

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, (BotStartedSpeakingFrame, BotStoppedSpeakingFrame)):
            playing = isinstance(frame, BotStartedSpeakingFrame)
            if playing:
                self._asked_at = None  # the model answered
            self._bot_heard = playing
            await self._update()
        elif isinstance(frame, UserStartedSpeakingFrame):
            self._asked_at = None  # the model's VAD spoke up: it is alive
            self._caller_speaking = True
            self._silence_total = 0.0
            await self._update()
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._caller_speaking = False
            await self._update()
        elif isinstance(frame, CallDecidedFrame) and frame.now:
            self._handed_over = True  # the tool handlers ended the conversation (the caller's silence)
        elif isinstance(frame, StartFrame):
            self._started = self._quiet_since = self._nobody_since = time.monotonic()
            self._timer = self.create_task(self._watch(), "silence-watchdog")
        elif isinstance(frame, (EndFrame, CancelFrame)) and self._timer is not None:
            await self.cancel_task(self._timer)
            self._timer = None
        await self.push_frame(frame, direction)

    async def _update(self) -> None:
        if self._caller_speaking:
            speaker = "caller"
        elif self._bot_heard:
            speaker = "bot"
        else:
            speaker = "nobody"
        if speaker != self.speaker:
            now = time.monotonic()
            if self.speaker == "nobody":
                self._silence_total += now - self._nobody_since
            self.speaker = speaker
            call_event(self._call_id, "speaker", now=speaker)
            if speaker == "nobody":
                self._quiet_since = self._nobody_since = now

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            if self._asked_at is not None and self._answer_timeout is not None and now - self._asked_at > self._answer_timeout:
                self._asked_at = None
                if self._on_no_answer is not None:
                    await self._on_no_answer(f"the model did not answer within {self._answer_timeout:.0f} s of being asked to speak")
                return
            if self._handed_over:
                continue
            if now - self._started >= self._max_duration:
                await self._hand_over("max_duration")
            elif self._silence_end is not None and self._silence(now) >= self._silence_end:
                await self._hand_over("no_input")
            elif self.speaker == "nobody" and now - self._quiet_since >= self._reprompt_after:
                self._quiet_since = now
                self._asked_at = self._asked_at or now  # to re-prompt, or to say the hand-over line
                await self.push_frame(SilenceFrame(seconds=self._reprompt_after), FrameDirection.UPSTREAM)

    def _silence(self, now: float) -> float:
        """Seconds nobody has spoken since the caller's last words."""
        return self._silence_total + (now - self._nobody_since if self.speaker == "nobody" else 0.0)

    async def _hand_over(self, reason: str) -> None:
        call_event(self._call_id, "hand_over", reason=reason, after_s=round(time.monotonic() - self._started, 1))
        self._handed_over = True
        self._asked_at = self._asked_at or time.monotonic()
        await self.push_frame(HandOverFrame(reason=reason), FrameDirection.UPSTREAM)

