"""Frames of our own, for what Pipecat has no frame for.

What travels between the processors of a live call (``pipelines/twilio_realtime.py``),
besides Pipecat's own frames (``UserStarted/StoppedSpeakingFrame``,
``BotStarted/StoppedSpeakingFrame``, ``VADUserStartedSpeakingFrame``,
``InputDTMFFrame``, ``TranscriptionFrame``, ``TTSTextFrame``,
``LLMFullResponseStart/EndFrame``, ``FunctionCallInProgressFrame``,
``FunctionCallResultFrame``, ``InterruptionFrame``):

* audio, 50+ frames a second: :class:`CallerAudioFrame` (transport in -> model),
  :class:`BotAudioFrame` (model -> transport out);
* low-rate events: :class:`TwilioMarkFrame`, :class:`TwilioStopFrame`,
  :class:`KeypadEntryFrame`, :class:`BotAudioEndFrame`,
  :class:`PlaybackCutFrame`, :class:`CallDecidedFrame`,
  :class:`SilenceFrame`, :class:`HandOverFrame`, :class:`ModelInstructionsFrame`.

All of them are system frames: they keep their order among themselves through
a processor of your own that queues (Pipecat runs system frames first, in order).
"""

from dataclasses import dataclass
from typing import Any

from pipecat.frames.frames import DataFrame, SystemFrame


@dataclass
class CallerSilenceFrame(DataFrame):
    """The caller said nothing for a whole turn (a silence timer fired, or a blank script line)."""

    seconds: float = 0.0


@dataclass
class CallerAudioFrame(SystemFrame):
    """The caller's audio exactly as Twilio sent it: 8 kHz mu-law, as base64 (``payload``) and as bytes.

    A system frame on the audio lane: the processors it passes (VAD, model)
    take it in ``queue_frame`` with one call each, not through a queue or
    Pipecat's per-frame hooks. It goes to the model untouched
    (``audio/pcmu``); only a processor that needs samples (the barge-in
    detector, while the bot speaks) decodes it.
    """

    payload: str = ""
    mulaw: bytes = b""


@dataclass
class BotAudioFrame(SystemFrame):
    """The bot's audio as the model sent it (base64 8 kHz mu-law), for reply item ``item_id``; on the audio lane to transport out."""

    payload: str = ""
    item_id: str = ""


@dataclass
class BotAudioEndFrame(SystemFrame):
    """The model sent the last audio of item ``item_id`` (transport out marks what is left)."""

    item_id: str = ""


@dataclass
class TwilioMarkFrame(SystemFrame):
    """Twilio played every byte of bot audio sent before the mark (or a ``clear`` dropped it)."""

    mark: str = ""


@dataclass
class TwilioStopFrame(SystemFrame):
    """Twilio ended the media stream (the call was redirected or hung up)."""


@dataclass
class PlaybackCutFrame(SystemFrame):
    """Transport out cut the bot off (barge-in): the caller heard ``heard_ms`` of the ``sent_ms`` sent of ``item_id``.

    Pushed upstream, for the model to truncate its item at what was heard.
    """

    item_id: str = ""
    heard_ms: int = 0
    sent_ms: int = 0


@dataclass
class KeypadEntryFrame(SystemFrame):
    """The caller keyed in ``digits`` (a pause or ``#`` ended the entry)."""

    digits: str = ""


@dataclass
class CallDecidedFrame(SystemFrame):
    """The conversation chose a branch (``decision``, an :class:`agent.conversation.session.Decision`).

    ``now``: the conversation is over (silence, time limit): the hand-over
    line is said at once, cutting any reply; otherwise after the model's
    current response (the tool call that decided it).
    """

    decision: Any = None
    now: bool = False


@dataclass
class SilenceFrame(SystemFrame):
    """Nobody has spoken for ``seconds``: the model is asked to re-prompt."""

    seconds: float = 0.0


@dataclass
class HandOverFrame(SystemFrame):
    """Stop the conversation and take the fallback branch (silence, time limit), saying so first."""

    reason: str = "no_input"


@dataclass
class ModelInstructionsFrame(SystemFrame):
    """New instructions for the model (the facts are ready), sent as soon as its session is up."""

    instructions: str = ""
