"""The cascade's model processor: the caller's turns -> STT -> LLM (our tools) -> TTS -> 8 kHz mu-law.

It stands where the realtime model stands in a call's pipeline and speaks the
same frames (``agent/media/backends/base.py``); inside, two small Pipecat
pipelines of Pipecat's own services::

    CallerAudioFrame -> TurnDetector (shared Silero) -> [STT]  -> TranscriptionFrame -> the context
    the context -> LLMContextFrame -> [LLM -> ReplyTap -> TTS] -> TTSAudioRawFrame -> ToMulaw -> BotAudioFrame

* **Turns.** The caller's audio is decoded and fed to the turn detector;
  only a turn (with ~0.5 s of audio from before its start) goes to the STT
  service, framed by ``VADUserStarted/StoppedSpeakingFrame`` as Pipecat's
  segmented STT services want: no queue hop per frame while the caller is
  silent. ``UserStarted/StoppedSpeakingFrame`` go on for the supervisor.
* **Early end of turn.** At a short pause inside a turn (``pause_ms``) the
  words so far go to a segmented STT as a segment of their own; the turn's
  segments are transcribed in order and joined, and the LLM gets them as
  soon as all are transcribed and the text reads finished
  (:func:`~.turn_end.reads_finished`), else at the turn's end (full
  silence). Speech after the pause opens the next segment (the STT's 1 s
  pre-roll keeps its first words); an answer the caller has not heard a
  sound of yet is dropped, out of the history too, and the next words join
  the turn's user message. An answer already heard is a barge-in.
* **The context** is ours (an ``LLMContext`` built per inference from the
  history; the node's instructions are the LLM service's system instruction,
  updated when the facts arrive), not Pipecat's aggregator pair: those run
  their own turn-taking and truncate by wall clock, where a call here is cut
  by what Twilio reports played (:class:`PlaybackCutFrame`).
* **Fixed lines** are said by the model, as on the realtime path (the
  greeting "with exactly these words", the hand-over line "in the language
  you are speaking"): the instruction joins the system instruction for that
  one inference; should the model say nothing, the TTS says the line as
  written. A hand-over line heard to its end (``BotStoppedSpeakingFrame``
  after its last audio) calls ``on_decision``, once.
* **Tools.** The tool schemas go to the LLM as Pipecat ``FunctionSchema`` objects
  (so every LLM vendor's adapter converts them); a catch-all Pipecat function
  handler bridges each call to the call's :class:`ToolHandlers` (one place
  runs tools, on every backend): a ``FunctionCallInProgressFrame`` goes
  downstream, the ``FunctionCallResultFrame`` comes back upstream and settles
  the handler (``run_llm=False``: this processor decides what comes next, as
  the realtime one does: the hand-over line after a decision, else the next
  inference).
* **Barge-in.** The caller speaking while the bot is heard (this turn
  detector or the barge-in VAD's ``VADUserStartedSpeakingFrame``) stops the
  LLM and TTS at once and broadcasts an ``InterruptionFrame``; transport out
  answers with what the caller heard of the reply, and the reply's assistant
  message keeps that much: whole sentences by their TTS audio, and of the
  sentence being played the share of its words that its audio heard so far
  is of its audio (HTTP TTS services give no word timestamps).
* **The bot's audio** (24 kHz from OpenAI's TTS) becomes 8 kHz mu-law in
  :class:`~agent.media.backends.cascade.audio.ToMulaw` (no buffering) and
  goes out in ``BotAudioFrame`` frames, one reply item per TTS context.
* **Fail-over.** An ``ErrorFrame`` from any service (HTTP error after the
  SDK's retries, refused connection), or no reply within ``answer_timeout_s``
  of the caller's turn (or of being asked to speak), calls ``on_failure`` once.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    CancelFrame,
    ErrorFrame,
    Frame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    FunctionCallResultProperties,
    FunctionCallsStartedFrame,
    InputAudioRawFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    LLMUpdateSettingsFrame,
    StartFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline, PipelineSink, PipelineSource
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import (
    FrameDirection,
    FrameProcessor,
    FrameProcessorSetup,
)
from pipecat.services.settings import LLMSettings
from pipecat.services.stt_service import SegmentedSTTService

from agent.conversation.realtime_client import SAY_LEAD
from agent.conversation.session import Decision
from agent.core.events import call_event
from agent.core.http_client import is_pooled
from agent.media import mulaw
from agent.media.backends.base import FailsOnce, HandOver, ModelProcessor
from agent.media.backends.cascade.audio import ToMulaw, mulaw_ms
from agent.media.backends.cascade.turn_end import reads_finished
from agent.media.backends.cascade.turns import Turn, TurnDetector
from agent.media.frames import (
    BotAudioEndFrame,
    BotAudioFrame,
    CallDecidedFrame,
    CallerAudioFrame,
    PlaybackCutFrame,
)
from agent.media.processors.realtime import (
    MAX_TRANSCRIPT_CHARS,
    REPROMPT,
    WATCHDOG_TICK_S,
)

PREROLL_MS = 480  # audio before the detector's start that goes to the STT with the turn
KEYED = "I keyed in on my phone: {digits}"  # as realtime.py's _keyed
GREET = "Greet the caller with exactly these words: {greeting}"  # as RealtimeConfig.greet (agent/conversation/realtime_client.py)
ENDING = "Thank you."  # the hand-over line when a decision brings none


def function_schemas(tools: list[dict[str, Any]]) -> ToolsSchema:
    """Our tool contract (``ToolBox.schemas()``, OpenAI function tools) as Pipecat's vendor-neutral schemas."""
    return ToolsSchema(standard_tools=[
        FunctionSchema(
            name=tool["name"], description=tool.get("description", ""),
            properties=(tool.get("parameters") or {}).get("properties", {}),
            required=list((tool.get("parameters") or {}).get("required", [])),
        )
        for tool in tools
    ])


@dataclass
class Reply:
    """One thing the bot says: an LLM response or a fixed line; its text as synthesized, its audio as sent."""

    item_id: str = field(default_factory=lambda: f"reply_{uuid.uuid4().hex[:12]}")
    message: dict[str, Any] | None = None  # its assistant message in the history
    text: list[str] = field(default_factory=list)  # the LLM's text
    calls: dict[str, FunctionCallInProgressFrame] = field(default_factory=dict)  # tool_call_id -> the call
    results: dict[str, Any] = field(default_factory=dict)  # tool_call_id -> its answer
    ended: bool = False  # the LLM's response is over (all its text and calls known)
    line: str | None = None  # a fixed line this reply is to say (greeting, hand-over line): said as written if the LLM says nothing
    handover: bool = False  # the hand-over line
    voiced: bool = False  # it has something for the TTS
    requested: list[str] = field(default_factory=list)  # sentences sent to the TTS, in order
    spoken: list[tuple[str, int]] = field(default_factory=list)  # (sentence, its audio ms) once the TTS finished it
    audio_ms: int = 0  # audio sent for this reply
    spoken_ms: int = 0  # audio of the sentences in ``spoken``
    done_speaking: bool = False  # the TTS finished it
    turn: int = 0  # the caller's turn it answers (the latest when it was asked for)
    dropped: bool = False  # the caller went on before hearing any of it

    def spoken_text(self) -> str:
        """What it has to say, whitespace collapsed: the LLM's text, or the line."""
        text = "".join(self.text) if self.text else (self.message or {}).get("content") or self.line or ""
        return " ".join(text.split())

    def heard_text(self, heard_ms: int) -> str:
        """What the caller heard of it after ``heard_ms``: whole sentences by their audio, the one in play by its share."""
        words: list[str] = []
        start = 0
        for index, text in enumerate(self.requested):
            length = self.spoken[index][1] if index < len(self.spoken) else self.audio_ms - self.spoken_ms
            if start + length <= heard_ms:
                words.extend(text.split())
            else:
                if length > 0 and heard_ms > start:
                    parts = text.split()
                    words.extend(parts[: int(len(parts) * (heard_ms - start) / length)])
                break
            start += length
        return " ".join(words)


@dataclass(eq=False)
class CallerTurn:
    """One turn of the caller's: its segments sent to the STT, their transcripts, how much of it the LLM has."""

    number: int
    texts: list[str] = field(default_factory=list)  # the segments' transcripts, in order (empty ones left out)
    pending: int = 0  # segments sent to the STT, not transcribed yet
    open: bool = True  # a segment is being recorded: the caller speaks
    stopped: bool = False  # full silence: the turn is over
    handed: int = 0  # how many of ``texts`` the LLM has
    message: dict[str, Any] | None = None  # its user message in the history
    timestamp: str = ""  # of its latest transcript
    unanswered: bool = False  # its answer was dropped (the caller went on): one is due even if nothing more is said

    def answered(self) -> bool:
        """All it said is with the LLM (nothing left to transcribe or hand over)."""
        return self.handed > 0 and not self.pending and not self.open and self.handed == len(self.texts) and not self.unanswered


class ReplyTap(FrameProcessor):
    """Between the LLM and the TTS: shows the cascade each response's text and tool calls as they stream."""

    def __init__(self, owner: CascadeProcessor, **kwargs: Any) -> None:
        super().__init__(enable_direct_mode=True, **kwargs)
        self._owner = owner

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM:
            if isinstance(frame, (FunctionCallInProgressFrame, FunctionCallResultFrame)):
                return  # the LLM service's own bookkeeping of our bridge: the cascade sends its own
            if not await self._owner.llm_frame(frame):
                return
        await self.push_frame(frame, direction)


class CascadeProcessor(FailsOnce, ModelProcessor):
    """STT -> LLM -> TTS between the VAD and the tool handlers (see the module's doc); the ``cascade`` backend's processor."""

    failing_label = "cascade model"

    def __init__(
        self, *, stt: FrameProcessor, llm: Any, tts: Any, turns: TurnDetector, instructions: str, tools: list[dict[str, Any]],
        greeting: str, on_decision: Callable[[Decision], Awaitable[None]], on_failure: Callable[[str, str], Awaitable[None]],
        call_id: str | None = None, answer_timeout_s: float = 6.0, **kwargs: Any,
    ) -> None:
        super().__init__(enable_direct_mode=True, **kwargs)
        self.answer_timeout_s = answer_timeout_s
        self._call_id = call_id
        self._on_failure = on_failure
        self.handover = HandOver(on_decision, call_id)
        self._turns = turns
        self._stt, self._llm, self._tts = stt, llm, tts
        self._segmented = isinstance(stt, SegmentedSTTService)  # one transcript per segment sent: turns are followed by segment
        self._turn: CallerTurn | None = None  # the caller's latest turn
        self._segments: deque[CallerTurn] = deque()  # the turn of each segment the STT has not transcribed yet, in order
        self._listen = Pipeline([stt], source=PipelineSource(self._service_upstream), sink=PipelineSink(self._transcribed))
        self._speak = Pipeline([llm, ReplyTap(self), tts], source=PipelineSource(self._service_upstream), sink=PipelineSink(self._voiced))
        llm.register_function(None, self._bridge)
        tts.add_event_handler("on_tts_request", self._tts_request)
        llm_settings = getattr(type(llm), "Settings", LLMSettings)  # the service's own settings (a delta: only what is given changes)
        self._instructions_update = lambda text: LLMUpdateSettingsFrame(delta=llm_settings(system_instruction=text))
        self._instructions = instructions
        self.history: list[dict[str, Any]] = []  # the conversation the LLM sees (chat messages, after its system instruction)
        self._tools = function_schemas(tools)
        self._greeting = greeting
        self._preroll: deque[bytes] = deque(maxlen=PREROLL_MS // mulaw.FRAME_MS)
        self._asked: deque[Reply] = deque()  # inferences sent to the LLM, not started yet
        self._generating: Reply | None = None  # the LLM's response in progress
        self._tools_pending: Reply | None = None  # a response waiting on its tool answers
        self._unvoiced: deque[Reply] = deque()  # replies with text the TTS has not started on, in order
        self._by_context: dict[str, Reply] = {}  # TTS context id -> reply
        self._by_item: dict[str, Reply] = {}
        self._resample: dict[int, ToMulaw] = {}
        self._calls: dict[str, asyncio.Future[Any]] = {}  # tool_call_id -> the bridge's wait for ToolHandlers
        self._rerun = False  # the caller said or keyed something while the LLM was busy
        self._awaiting_since: float | None = None
        self._bot_heard = False
        self._started = False
        self.failed = False
        self.closing = False
        self._watchdog: asyncio.Task[None] | None = None

    # -- Pipecat plumbing ------------------------------------------------------------------------
    async def setup(self, setup: FrameProcessorSetup) -> None:
        await super().setup(setup)
        await self._listen.setup(setup)
        await self._speak.setup(setup)

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._listen.cleanup()
        await self._speak.cleanup()
        for service in (self._stt, self._llm, self._tts):
            await close_client(service)

    # -- the frame hooks (ModelProcessor dispatches the frames) ----------------------------------------
    async def _caller_audio(self, frame: CallerAudioFrame) -> None:
        await self._hear(frame.mulaw)

    async def _pcm_audio(self, frame: InputAudioRawFrame) -> None:
        await self._hear(mulaw.encode(frame.audio))

    def _stream_ending(self) -> None:
        self.closing = True

    async def _start(self, frame: StartFrame) -> None:
        await self._listen.queue_frame(frame)
        await self._speak.queue_frame(frame)
        await self._speak.queue_frame(self._instructions_update(self._instructions))
        self._started = True
        self._watchdog = self.create_task(self._watch(), "cascade-watchdog")
        if self._greeting:  # as the realtime path greets: the model says the node's words (they open the history)
            await self._infer(GREET.format(greeting=self._greeting), line=self._greeting)

    async def _close(self) -> None:
        self.closing = True
        if self._watchdog is not None and not self._watchdog.done():
            await self.cancel_task(self._watchdog)
        for future in self._calls.values():
            future.cancel()
        if self._started:
            self._started = False
            await self._listen.queue_frame(CancelFrame())
            await self._speak.queue_frame(CancelFrame())

    async def _watch(self) -> None:
        while not self.closing and not self.failed:
            await asyncio.sleep(WATCHDOG_TICK_S)
            since = self._awaiting_since
            if since is not None and not self.handover.delivered and time.monotonic() - since > self.answer_timeout_s:
                await self.fail("no_answer", f"the cascade did not answer within {self.answer_timeout_s:g} s")

    async def _service_upstream(self, frame: Frame, direction: FrameDirection) -> None:
        """What the services push upstream: only their errors matter here."""
        if isinstance(frame, ErrorFrame):
            await self._service_error(frame)

    async def _service_error(self, frame: ErrorFrame) -> None:
        source = frame.processor
        stage = "stt" if source is self._stt else "llm" if source is self._llm else "tts" if source is self._tts else "service"
        await self.fail(f"{stage}_error", f"{stage}: {str(frame.error)[:200]}")

    # -- the caller ------------------------------------------------------------------------------
    async def _hear(self, audio: bytes) -> None:
        event = self._turns.feed(audio)
        if event is Turn.STARTED:
            self._turn = CallerTurn(number=self._turn.number + 1 if self._turn else 1)
            await self._listen.queue_frame(VADUserStartedSpeakingFrame())
            pcm = mulaw.decode(b"".join(self._preroll) + audio).tobytes()
            self._preroll.clear()
            await self._listen.queue_frame(InputAudioRawFrame(audio=pcm, sample_rate=mulaw.SAMPLE_RATE, num_channels=1))
            await self.push_frame(UserStartedSpeakingFrame())
            await self._barge_in()
        elif self._turns.speaking:  # in a pause too: the STT keeps the last second of it, the next segment's pre-roll
            await self._listen.queue_frame(InputAudioRawFrame(audio=mulaw.decode(audio).tobytes(), sample_rate=mulaw.SAMPLE_RATE, num_channels=1))
            if event is Turn.PAUSED:
                await self._segment_ends()
            elif event is Turn.RESUMED:
                await self._resumed()
        elif event is Turn.STOPPED:
            await self._turn_ends()
        else:
            self._preroll.append(audio)

    async def _segment_ends(self) -> None:
        """The caller went quiet: what they said since the turn's start (or its last pause) goes to the STT."""
        await self._listen.queue_frame(VADUserStoppedSpeakingFrame())
        await self.push_frame(UserStoppedSpeakingFrame())
        turn = self._turn
        if turn is not None and turn.open:
            turn.open = False
            if self._segmented:
                turn.pending += 1
                self._segments.append(turn)

    async def _resumed(self) -> None:
        """Speech after a pause: the turn's next segment; an answer to its start that the caller has not heard goes."""
        await self._listen.queue_frame(VADUserStartedSpeakingFrame())
        turn = self._turn
        if turn is not None:
            turn.open = True
        await self.push_frame(UserStartedSpeakingFrame())
        if turn is not None and turn.handed and self.handover.decision is None:
            await self._drop_unheard(turn)
        await self._barge_in()

    async def _turn_ends(self) -> None:
        """Full silence: the turn is over (no segment more if nothing was said since its last pause)."""
        turn = self._turn
        if turn is None or turn.open:
            await self._segment_ends()
        if turn is None:
            return
        turn.stopped = True
        if self.handover.decision is None and not turn.answered():
            self._awaiting_since = time.monotonic()  # the caller's turn is over: an answer is due
        if self._segmented:
            await self._hand_over(turn)

    async def _hand_over(self, turn: CallerTurn) -> None:
        """The turn's new words go to the LLM once all are transcribed, the caller is quiet, and they read finished or the turn is over."""
        if turn.pending or turn.open:
            return
        new = " ".join(turn.texts[turn.handed:])
        if not new and not turn.unanswered:
            if turn.stopped and not turn.handed and not self._busy():
                self._awaiting_since = None  # nothing was said: nothing to answer
            return
        if not turn.stopped and not reads_finished(" ".join(turn.texts)):
            return  # wait: for more words, or for the full silence
        turn.handed, turn.unanswered = len(turn.texts), False
        if new:
            await self.push_frame(TranscriptionFrame(text=new[:MAX_TRANSCRIPT_CHARS], user_id="caller", timestamp=turn.timestamp))
            await self._user_turn(new, turn)
        elif self.handover.decision is None:
            await self._infer()  # the caller went on and said nothing more (a cough): the dropped answer is asked for again

    async def _drop_unheard(self, turn: CallerTurn) -> None:
        """The caller goes on after their turn went to the LLM early: its answer, not heard yet, goes (out of the history too).

        An answer with a tool call stays (the call happened): its result comes
        first, then the next inference hears the rest. One with audio sent is
        heard: a barge-in (:meth:`_barge_in`).
        """
        generating = self._generating
        if self._tools_pending is not None or (generating is not None and generating.calls):
            return
        unheard = [r for r in (*self._asked, *self._by_item.values())
                   if r.turn == turn.number and not r.audio_ms and not r.calls and not r.dropped]
        if not unheard:
            return
        turn.unanswered = True
        for reply in unheard:
            reply.dropped = reply.ended = True
            if reply.message is not None:
                self.history[:] = [m for m in self.history if m is not reply.message]
                reply.message = None
        if generating is not None and generating.dropped:
            self._generating = None
        self._rerun = False
        self._awaiting_since = None  # the caller has the word again
        call_event(self._call_id, "answer_dropped", replies=len(unheard))
        await self._stop_speaking()

    async def _transcribed(self, frame: Frame, direction: FrameDirection) -> None:
        """What comes out of the STT service: the caller's words (an empty transcript: nothing was said)."""
        if isinstance(frame, ErrorFrame):
            await self._service_error(frame)
            return
        if not isinstance(frame, TranscriptionFrame):
            return
        text = frame.text.strip()
        turn = self._segments.popleft() if self._segments else None
        if turn is not None:  # a segmented STT: the transcript of the oldest segment sent
            turn.pending -= 1
            if text:
                turn.texts.append(text)
                turn.timestamp = frame.timestamp
            await self._hand_over(turn)
            return
        if not text:  # a streaming STT's transcript: a turn of its own
            if not self._busy():
                self._awaiting_since = None
            return
        await self.push_frame(TranscriptionFrame(text=text[:MAX_TRANSCRIPT_CHARS], user_id="caller", timestamp=frame.timestamp))
        await self._user_turn(text)

    async def _user_turn(self, text: str, turn: CallerTurn | None = None) -> None:
        """The caller's words for the LLM: they join the turn's user message if nothing came after it (an unheard answer dropped)."""
        if turn is not None and turn.message is not None and self.history and self.history[-1] is turn.message:
            turn.message["content"] = f"{turn.message['content']} {text}"
        else:
            message = {"role": "user", "content": text}
            self.history.append(message)
            if turn is not None:
                turn.message = message
        if self.handover.decision is not None:
            return  # the conversation is over; the hand-over line is said whatever the caller adds
        if self._generating is not None and not self._generating.voiced and not self._generating.calls:
            await self._stop_speaking()  # a response nobody heard yet: answer what the caller just said instead
        await self._infer()

    async def _keyed(self, digits: str) -> None:
        if not self._started:
            return
        await self.push_frame(TranscriptionFrame(text=f"(keys {digits})", user_id="caller", timestamp=str(time.time())))
        self.history.append({"role": "user", "content": KEYED.format(digits=digits)})
        if self.handover.decision is None:
            await self._infer()

    async def _instruct(self, instructions: str) -> None:
        """New instructions (the facts): the LLM service's system instruction, from its next inference on."""
        self._instructions = instructions
        if self._started:
            await self._speak.queue_frame(self._instructions_update(instructions))  # in order with the inferences

    async def _reprompt(self) -> None:
        if not self._started or self._busy() or self.handover.decision is not None:
            return
        await self._infer(extra=REPROMPT)

    # -- asking the LLM, saying lines ------------------------------------------------------------
    def _busy(self) -> bool:
        return bool(self._asked) or self._generating is not None or self._tools_pending is not None

    async def _infer(self, extra: str | None = None, *, line: str | None = None, handover: bool = False) -> None:
        """One inference over the history (the instructions are the LLM service's; ``extra``: one-off instructions added to them)."""
        if self.failed or self.closing:
            return
        if self._busy():
            self._rerun = True
            return
        reply = Reply(line=line, handover=handover, turn=self._turn.number if self._turn else 0)
        self._asked.append(reply)
        self._awaiting_since = self._awaiting_since or time.monotonic()
        if extra:  # for this inference only, after the node's instructions (the realtime path's response instructions)
            await self._speak.queue_frame(self._instructions_update(f"{self._instructions}\n\n{extra}"))
        await self._speak.queue_frame(LLMContextFrame(context=LLMContext(messages=[dict(m) for m in self.history], tools=self._tools)))
        if extra:
            await self._speak.queue_frame(self._instructions_update(self._instructions))

    async def _handover_line(self, text: str) -> None:
        """The hand-over line, as the realtime path has it said: by the model, in the language of the conversation."""
        self.handover.line_asked = True
        await self._infer(f"{SAY_LEAD}{text}", line=text, handover=True)

    async def _say(self, text: str, *, handover: bool = False) -> None:
        """A fixed line straight to the TTS (one the LLM was asked to say and did not); it joins the history as said."""
        reply = Reply(message={"role": "assistant", "content": text}, ended=True, handover=handover, voiced=True,
                      turn=self._turn.number if self._turn else 0)
        self.history.append(reply.message)  # type: ignore[arg-type]
        self._by_item[reply.item_id] = reply
        self._unvoiced.append(reply)
        self._awaiting_since = self._awaiting_since or time.monotonic()
        await self._speak.queue_frame(TTSSpeakFrame(text=text, append_to_context=False))

    async def llm_frame(self, frame: Frame) -> bool:
        """A frame from the LLM on its way to the TTS (:class:`ReplyTap`); False drops it."""
        if isinstance(frame, LLMFullResponseStartFrame):
            if not self._asked:
                return False  # a response interrupted before it started
            self._generating = self._asked.popleft()
            self._by_item[self._generating.item_id] = self._generating
            await self.push_frame(LLMFullResponseStartFrame())
            return True
        reply = self._generating
        if reply is None:
            return not isinstance(frame, (LLMTextFrame, LLMFullResponseEndFrame))  # left over from an interrupted response
        if isinstance(frame, LLMTextFrame):
            reply.text.append(frame.text)
            if not reply.voiced and frame.text.strip():
                reply.voiced = True
                self._unvoiced.append(reply)
        elif isinstance(frame, FunctionCallsStartedFrame):
            for call in frame.function_calls:
                reply.calls[call.tool_call_id] = FunctionCallInProgressFrame(
                    function_name=call.function_name, tool_call_id=call.tool_call_id, arguments=json.dumps(call.arguments),
                )
            self._awaiting_since = None  # the model answered (a tool call is an answer)
        elif isinstance(frame, LLMFullResponseEndFrame):
            await self._response_ended(reply)
        return True

    async def _response_ended(self, reply: Reply) -> None:
        self._generating = None
        reply.ended = True
        text = "".join(reply.text).strip()
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if reply.calls:
            message["tool_calls"] = [
                {"id": key, "type": "function", "function": {"name": call.function_name, "arguments": call.arguments}}
                for key, call in reply.calls.items()
            ]
        if text or reply.calls:
            reply.message = message
            self.history.append(message)
        await self.push_frame(LLMFullResponseEndFrame())
        if reply.line is not None and not text:
            await self._say(reply.line, handover=reply.handover)  # the model said nothing: the line as written
        elif not reply.voiced and not reply.calls:
            self._awaiting_since = None  # an empty answer: nothing to wait for
        if reply.calls:
            self._tools_pending = reply
            for call in reply.calls.values():
                await self.push_frame(FunctionCallInProgressFrame(
                    function_name=call.function_name, tool_call_id=call.tool_call_id, arguments=call.arguments,
                ))
            await self._after_tools()
        elif self._rerun:
            self._rerun = False
            await self._infer()

    async def _bridge(self, params: Any) -> None:
        """The Pipecat function handler of every tool: the call's ToolHandlers answer it (see the module's doc)."""
        future = self._calls.setdefault(params.tool_call_id, asyncio.get_running_loop().create_future())
        try:
            result = await future
        finally:
            self._calls.pop(params.tool_call_id, None)
        await params.result_callback(result, properties=FunctionCallResultProperties(run_llm=False))

    async def _tool_answered(self, frame: FunctionCallResultFrame) -> None:
        future = self._calls.setdefault(frame.tool_call_id, asyncio.get_running_loop().create_future())
        if not future.done():
            future.set_result(frame.result)
        reply = self._tools_pending
        if reply is not None and frame.tool_call_id in reply.calls:
            reply.results[frame.tool_call_id] = frame.result
            await self._after_tools()

    async def _after_tools(self) -> None:
        """Every tool call of the response answered: their results join the history; then the hand-over line or the next inference."""
        reply = self._tools_pending
        if reply is None or set(reply.results) != set(reply.calls):
            return
        self._tools_pending = None
        # Right after the assistant message that made the calls, as chat completions require (the caller may have
        # said something meanwhile: that comes after).
        at = next((i + 1 for i, m in enumerate(self.history) if m is reply.message), len(self.history))
        answers = [{"role": "tool", "tool_call_id": key, "content": json.dumps(reply.results[key])} for key in reply.calls]
        self.history[at:at] = answers
        self._rerun = False
        if self.handover.decision is None:
            await self._infer()
        elif not self.handover.line_asked:
            await self._handover_line(self.handover.decision.say or ENDING)

    async def _decided(self, frame: CallDecidedFrame) -> None:
        if self.handover.decision is not None:
            return
        self.handover.decision = frame.decision
        if not frame.now:
            return  # the line is said once the response with the tool call is answered
        if self.failed or not self._started:
            await self.handover.deliver(heard=False)
            return
        self._tools_pending = None
        await self._stop_speaking()  # the reply in progress (what Twilio already has plays on)
        await self._handover_line(frame.decision.say or ENDING)

    # -- the bot's voice -------------------------------------------------------------------------
    async def _tts_request(self, tts: Any, context_id: str, text: str) -> None:
        """The TTS starts on a sentence: the first of a context belongs to the oldest reply not voiced yet."""
        reply = self._by_context.get(context_id)
        if reply is None:
            if not self._unvoiced:
                return
            sentence = " ".join(text.split())
            # The oldest reply whose text has this sentence: one the TTS found nothing to say in is passed over
            # (none has it, e.g. a text transform changed it: the oldest).
            match = next((i for i, r in enumerate(self._unvoiced) if sentence in r.spoken_text()), 0)
            for _ in range(match):
                self._unvoiced.popleft()
            reply = self._by_context[context_id] = self._unvoiced.popleft()
        reply.requested.append(text.strip())

    async def _voiced(self, frame: Frame, direction: FrameDirection) -> None:
        """What comes out of the TTS: audio for Twilio, the spoken text for the transcript."""
        if isinstance(frame, TTSAudioRawFrame):
            reply = self._by_context.get(frame.context_id or "")
            if reply is None or reply.dropped:
                return
            convert = self._resample.get(frame.sample_rate)
            if convert is None:
                convert = self._resample[frame.sample_rate] = ToMulaw(frame.sample_rate)
            audio = convert(frame.audio)
            if audio:
                self._awaiting_since = None
                reply.audio_ms += mulaw_ms(audio)
                await self.push_frame(BotAudioFrame(payload=base64.b64encode(audio).decode(), item_id=reply.item_id))
        elif isinstance(frame, TTSTextFrame):
            reply = self._by_context.get(frame.context_id or "")
            if reply is not None and len(reply.spoken) < len(reply.requested):
                reply.spoken.append((frame.text, reply.audio_ms - reply.spoken_ms))
                reply.spoken_ms = reply.audio_ms
            await self.push_frame(TTSTextFrame(text=frame.text[:MAX_TRANSCRIPT_CHARS], text_type="sentence"))
        elif isinstance(frame, TTSStoppedFrame):
            reply = self._by_context.get(frame.context_id or "")
            if reply is not None:
                await self._spoken(reply)
        elif isinstance(frame, ErrorFrame):
            await self._service_error(frame)

    async def _spoken(self, reply: Reply) -> None:
        """The TTS is done with a reply: transport out marks its end; a hand-over line moves on once heard."""
        reply.done_speaking = True
        if reply.audio_ms:
            await self.push_frame(BotAudioEndFrame(item_id=reply.item_id))
        if reply.handover and self.handover.decision is not None and not self.handover.delivered:
            if reply.audio_ms and self._bot_heard:
                self.handover.awaiting_playback = True
            else:
                await self.handover.deliver(heard=bool(reply.audio_ms))

    async def _barge_in(self) -> None:
        """The caller talks over the bot: stop the LLM and TTS, and interrupt (transport out clears Twilio, says what was heard)."""
        if self._bot_heard and self.handover.decision is None:
            await self._stop_speaking()
            await self.broadcast_interruption()

    async def _stop_speaking(self) -> None:
        """Stop the LLM's response and the TTS (what was already sent to Twilio plays on unless transport out is interrupted)."""
        interrupted = self._generating
        if interrupted is not None:
            self._generating = None
            interrupted.ended = True
            text = "".join(interrupted.text).strip()
            if text:
                interrupted.message = {"role": "assistant", "content": text}
                self.history.append(interrupted.message)
        self._asked.clear()
        self._unvoiced.clear()
        await self._speak.queue_frame(InterruptionFrame())

    async def _cut(self, cut: PlaybackCutFrame) -> None:
        """Transport out cut the bot off: the reply's message keeps what the caller heard."""
        call_event(self._call_id, "barge_in", heard_ms=cut.heard_ms, sent_ms=cut.sent_ms)
        reply = self._by_item.get(cut.item_id)
        if reply is None or reply.message is None:
            return
        heard = reply.heard_text(cut.heard_ms)
        if reply.calls:
            reply.message["content"] = heard or None
        elif heard:
            reply.message["content"] = heard
        else:
            self.history.remove(reply.message)  # nothing of it was heard
            reply.message = None


async def close_client(service: Any) -> None:
    """Close the HTTP client a service opened for this call alone (Pipecat's services leave theirs open).

    The ``openai`` SDK's ``close()`` closes the ``httpx`` client under it, so
    one on the process's pool for its endpoint (``agent.core.http_client``) is
    left open: the next call reuses its warm connections, and the server's
    shutdown closes it. A client of the call's own (another vendor's, or
    built outside a running loop) would leak its connections until the
    garbage collector closes them, on whatever loop is current then.
    """
    client = getattr(service, "_client", None)
    close = getattr(client, "close", None)
    if close is None or not asyncio.iscoroutinefunction(close) or is_pooled(getattr(client, "_client", None)):
        return
    try:
        await close()
    except Exception as exc:  # noqa: BLE001 - a client already closed, a connection already gone
        logger.debug("closing {}'s client: {!r}", service, exc)

