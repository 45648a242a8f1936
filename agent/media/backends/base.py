"""The contract of a model backend: how an AI node talks to the caller on a live call.

A backend is the one part of a call's pipeline that differs by model (see
``pipelines/twilio_realtime.py``)::

    transport in -> VAD -> [the backend's ModelProcessor] -> tool handlers -> transport out
                                                        (+ keypad, supervisor, transcript keeper)

Its :class:`ModelProcessor` takes the frames its neighbours send and sends the
frames they expect, whatever the model behind it:

in (downstream unless noted)
    ``CallerAudioFrame`` (8 kHz mu-law as Twilio sent it; also in ``queue_frame``, the audio lane),
    ``VADUserStartedSpeakingFrame`` (local VAD: the caller speaks; barge in at once if the bot is heard),
    ``PlaybackCutFrame`` (transport out cut the bot: keep only the ``heard_ms`` the caller heard in the context),
    ``FunctionCallResultFrame`` (upstream, from the tool handlers: give the answer to the model),
    ``CallDecidedFrame`` (a tool or the supervisor chose a branch: have ``decision.say`` said, then
    call ``on_decision`` once the caller heard it: ``BotStoppedSpeakingFrame``),
    ``KeypadEntryFrame`` (the caller keyed digits: the model hears them as the caller's turn),
    ``SilenceFrame`` (re-prompt the caller), ``ModelInstructionsFrame`` (new instructions: the facts),
    ``BotStarted/StoppedSpeakingFrame`` (from transport out), ``StartFrame``/``EndFrame``/``CancelFrame``.
out (downstream)
    ``BotAudioFrame``/``BotAudioEndFrame`` (8 kHz mu-law for transport out, per reply ``item_id``),
    ``UserStarted/StoppedSpeakingFrame``, ``TranscriptionFrame`` (the caller's words),
    ``TTSTextFrame`` (the bot's words), ``LLMFullResponseStart/EndFrame``,
    ``FunctionCallInProgressFrame`` (for the tool handlers), and an ``InterruptionFrame`` broadcast on barge-in.
failure
    anything that means the model cannot go on (refused connection, lost socket,
    error, no answer in ``answer_timeout_s``) calls ``on_failure(kind, reason)``
    once: the call continues in the deterministic mode with what was gathered.

A backend plugin registers its class with ``register_model_backends(register)``
(see ``agent.hookspecs``); an AI node picks one with ``model: {backend: <name>, ...}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    FunctionCallResultFrame,
    InputAudioRawFrame,
    StartFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pydantic import BaseModel, ConfigDict

from agent.core.events import call_event
from agent.media.frames import (
    CallDecidedFrame,
    CallerAudioFrame,
    KeypadEntryFrame,
    ModelInstructionsFrame,
    PlaybackCutFrame,
    SilenceFrame,
    TwilioStopFrame,
)

from agent.core.settings import ENV_PREFIX, PluginSettings

if TYPE_CHECKING:
    from agent.conversation.session import Decision, NodeSession
    from agent.conversation.tools import ToolBox
    from agent.core.settings import Settings
    from agent.flow.models import AiAgentNode


class BackendOptions(BaseModel):
    """A backend's options from the flow's ``model:`` block (secrets never: those are settings)."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class ModelRequest:
    """Everything a backend needs to run one AI node of one call."""

    call_id: str
    node: AiAgentNode
    session: NodeSession  # gathers, intents, lines, greeting, voice, language: what the node knows
    tools: ToolBox  # ``tools.schemas()``: the tool contract; the tool handlers run the calls
    instructions: str  # the node's instructions before facts arrive (a ModelInstructionsFrame brings them)
    settings: Settings
    options: BackendOptions  # validated from the node's ``model:`` block (else the backend's defaults)
    on_decision: Callable[[Decision], Awaitable[None]]
    on_failure: Callable[[str, str], Awaitable[None]]
    preconnected: asyncio.Future[Any] | None = None  # what :meth:`ModelBackend.connect_early` started, if anything


class FailsOnce:
    """Every backend's fail-over rule: the model is reported gone to ``on_failure`` once, never while the stream is ending.

    Mixed into what holds a call's model session; it sets ``_on_failure`` and
    ``_call_id``, and names itself in ``failing_label`` for the log line.
    """

    failing_label: ClassVar[str] = "model"
    failed: bool = False
    closing: bool = False  # the stream is ending: nothing is a failure any more
    _call_id: str | None
    _on_failure: Callable[[str, str], Awaitable[None]]

    async def fail(self, kind: str, reason: str) -> None:
        """Report the model gone, once (and never while the stream is ending)."""
        if self.failed or self.closing:
            return
        self.failed = True
        logger.warning("{} failed: {}", self.failing_label, reason)
        call_event(self._call_id, "model_error", kind=kind, reason=reason[:200])
        await self._on_failure(kind, reason)


class HandOver:
    """The branch the conversation chose and its hand-over line: said once, heard, then ``on_decision``, once."""

    def __init__(self, on_decision: Callable[[Decision], Awaitable[None]], call_id: str | None = None) -> None:
        self._on_decision = on_decision
        self._call_id = call_id
        self.decision: Decision | None = None
        self.line_asked = False
        self.awaiting_playback = False  # the line was spoken: deliver once the caller has heard it all
        self.delivered = False

    async def deliver(self, *, heard: bool) -> None:
        """``on_decision``, once; a hand-over line the caller ``heard`` is not handed on to be said again."""
        if self.decision is None or self.delivered:
            return
        self.delivered = True
        self.awaiting_playback = False
        decision = self.decision
        call_event(self._call_id, "decided", exit=decision.exit, branch=decision.target, reason=decision.reason, line_heard=heard)
        await self._on_decision(replace(decision, say="") if heard else decision)


class ModelProcessor(FrameProcessor):
    """The model's place in the pipeline: the frame contract of the module's doc, dispatched to one hook per frame.

    A backend's processor sets ``handover`` (a :class:`HandOver`) and implements
    the hooks; caller audio (50 frames a second) takes the audio lane: straight
    from ``queue_frame`` to :meth:`_caller_audio`, without Pipecat's per-frame hooks.
    """

    #: Seconds the model may take to start answering before the call fails over.
    answer_timeout_s: float = 6.0
    handover: HandOver
    _bot_heard: bool = False  # between transport out's BotStarted- and BotStoppedSpeakingFrame

    @property
    def decision(self) -> Decision | None:
        """The branch the conversation chose (delivered or not); None until then."""
        return self.handover.decision

    async def fail(self, kind: str, reason: str) -> None:
        """The call cannot go on with the model (e.g. it stalled): report ``on_failure`` once."""
        raise NotImplementedError

    async def queue_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM, callback=None) -> None:
        if frame.__class__ is CallerAudioFrame and callback is None:
            await self._caller_audio(frame)
            return
        await super().queue_frame(frame, direction, callback)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, CallerAudioFrame):
            await self._caller_audio(frame)
            return  # nothing after the model needs the caller's audio
        if isinstance(frame, InputAudioRawFrame):  # PCM from another transport
            await self._pcm_audio(frame)
            return
        if isinstance(frame, (EndFrame, CancelFrame)):
            await self._close()
        await self.push_frame(frame, direction)
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_heard = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_heard = False
            if self.handover.awaiting_playback:
                await self.handover.deliver(heard=True)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            await self._barge_in()
        elif isinstance(frame, PlaybackCutFrame):
            await self._cut(frame)
        elif isinstance(frame, FunctionCallResultFrame) and direction == FrameDirection.UPSTREAM:
            await self._tool_answered(frame)
        elif isinstance(frame, CallDecidedFrame):
            await self._decided(frame)
        elif isinstance(frame, KeypadEntryFrame):
            await self._keyed(frame.digits)
        elif isinstance(frame, SilenceFrame):
            await self._reprompt()
        elif isinstance(frame, ModelInstructionsFrame):
            await self._instruct(frame.instructions)
        elif isinstance(frame, StartFrame):
            await self._start(frame)
        elif isinstance(frame, TwilioStopFrame):
            self._stream_ending()

    # -- the hooks a backend implements (one per frame of the contract) ---------------------------------
    async def _caller_audio(self, frame: CallerAudioFrame) -> None:
        """The caller's 8 kHz mu-law, as Twilio sent it."""
        raise NotImplementedError

    async def _pcm_audio(self, frame: InputAudioRawFrame) -> None:
        """PCM caller audio from another transport."""
        raise NotImplementedError

    async def _start(self, frame: StartFrame) -> None:
        """The pipeline started: connect, greet."""
        raise NotImplementedError

    async def _close(self) -> None:
        """The pipeline ends: let go of the model."""
        raise NotImplementedError

    def _stream_ending(self) -> None:
        """Twilio ended the stream: what fails from now on is no failure."""
        raise NotImplementedError

    async def _barge_in(self) -> None:
        """The caller speaks: stop the bot at once if it is heard."""
        raise NotImplementedError

    async def _cut(self, cut: PlaybackCutFrame) -> None:
        """Keep only what the caller heard of the bot's reply in the model's context."""
        raise NotImplementedError

    async def _tool_answered(self, frame: FunctionCallResultFrame) -> None:
        raise NotImplementedError

    async def _decided(self, frame: CallDecidedFrame) -> None:
        """A branch was chosen: have its hand-over line said (``handover``)."""
        raise NotImplementedError

    async def _keyed(self, digits: str) -> None:
        raise NotImplementedError

    async def _reprompt(self) -> None:
        raise NotImplementedError

    async def _instruct(self, instructions: str) -> None:
        raise NotImplementedError


class ModelBackend:
    """A kind of model an AI node can talk through; one instance per process, shared by calls."""

    #: The name flows use (``model: {backend: <name>}``).
    name: ClassVar[str]
    #: The ``model:`` options; unknown keys and bad values fail ``flow validate`` with file:line.
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    #: Rules of the call this backend cannot keep, and what the caller loses (``flow validate`` warns).
    limits: ClassVar[dict[str, str]] = {}
    #: Its own settings (keys, base URLs: never in a flow), read with ``settings.plugin_settings(cls)``.
    settings_classes: ClassVar[tuple[type[PluginSettings], ...]] = ()
    #: The agent's own settings it reads (``Settings`` field names, e.g. ``openai_api_key``).
    settings_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def env_vars(cls) -> list[str]:
        """Every environment variable this backend reads (``voice-agent plugins`` lists them)."""
        names = [f"{ENV_PREFIX}{field}".upper() for field in cls.settings_fields]
        return names + [name for settings in cls.settings_classes for name in settings.env_vars()]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def problems(self, options: BackendOptions, node: AiAgentNode) -> list[str]:
        """What stops this node from running on this backend with these options (missing keys, URLs).

        Each is ``"what is wrong; what to do"``: ``flow validate`` reports it at the node's ``model:`` line.
        """
        return []

    def ready(self, options: BackendOptions) -> bool:
        """Whether calls can use this model as configured: its keys are set, or it points at a server of your own.

        With ``VOICE_AGENT_ENGINE=auto`` the server answers AI nodes with their
        model only when every node's backend is ready, else in the deterministic
        mode (``openai`` and ``deterministic`` decide outright). Default: ready.
        """
        return True

    def connect_early(self, options: BackendOptions) -> asyncio.Future[Any] | None:
        """Start connecting while Twilio opens the media stream (None: nothing to start)."""
        return None

    def processor(self, request: ModelRequest) -> ModelProcessor:
        """The model processor of one call."""
        raise NotImplementedError


def openai_hosted(url: str) -> bool:
    """Whether ``url`` is OpenAI's own API (which needs a key), not a compatible server of your own."""
    return (urlsplit(url).hostname or "").endswith("openai.com")
