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
class BotAudioMarkedFrame(SystemFrame):
    """Bot audio up to ``audio_ms`` of assistant item ``item_id`` was sent, followed by ``mark``."""

    mark: str = ""
    item_id: str = ""
    audio_ms: int = 0
    last: bool = False


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
class BotAudioFrame(SystemFrame):
    """Bot audio for Twilio exactly as the model sent it: base64 8 kHz mu-law, ``ms`` long.

    Sent to Twilio as it comes (Twilio buffers it and plays it in real time);
    marks, not pacing, tell what the caller has heard.
    """

    payload: str = ""
    ms: int = 0
    first: bool = False  # the first audio since the last mark: all that processors after the sender see
