"""Frames of our own, for what Pipecat has no frame for."""

from dataclasses import dataclass

from pipecat.frames.frames import DataFrame, SystemFrame


@dataclass
class CallerSilenceFrame(DataFrame):
    """The caller said nothing for a whole turn (a silence timer fired, or a blank script line)."""

    seconds: float = 0.0


@dataclass
class TwilioMarkFrame(SystemFrame):
    """Twilio played every byte of bot audio sent before the mark (or a ``clear`` dropped it)."""

    mark: str = ""


@dataclass
class TwilioStopFrame(SystemFrame):
    """Twilio ended the media stream (the call was redirected or hung up)."""


@dataclass
class SpeakerFrame(SystemFrame):
    """Who is speaking now: ``caller``, ``bot`` or ``nobody``."""

    speaker: str = "nobody"


@dataclass
class SilenceFrame(SystemFrame):
    """Nobody has spoken for ``seconds``; ``final`` means the caller should be handed over."""

    seconds: float = 0.0
    final: bool = False


@dataclass
class HandOverFrame(SystemFrame):
    """Stop the conversation and take the fallback branch (silence, time limit), saying so first."""

    reason: str = "no_input"


@dataclass
class CallerAudioFrame(SystemFrame):
    """The caller's audio exactly as Twilio sent it: 8 kHz mu-law, as base64 (``payload``) and as bytes.

    A system frame, so it skips Pipecat's audio queue and every stage's input
    queue: 50 frames a second per call take one hop per stage. It goes to the
    model untouched (``audio/pcmu``); only a processor that needs samples (the
    barge-in detector, while the bot speaks) decodes it.
    """

    payload: str = ""
    mulaw: bytes = b""


@dataclass
class BotPlaybackFrame(SystemFrame):
    """The caller starts (``playing``) or stops hearing the bot.

    Pushed when bot audio starts after silence or a new reply item starts,
    and when Twilio has echoed the last mark (or a barge-in cut the audio):
    the supervisor's timers need to know who is being heard, not every chunk.
    """

    playing: bool = False


@dataclass
class ToolCalledFrame(SystemFrame):
    """The model called a tool (``name``): what the call knows may have changed, so it is worth keeping."""

    name: str = ""
