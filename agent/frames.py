"""Frames of our own, for what Pipecat has no frame for."""

from dataclasses import dataclass

from pipecat.frames.frames import DataFrame, InputAudioRawFrame, SystemFrame


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
class TwilioAudioFrame(InputAudioRawFrame):
    """Caller audio as PCM for local listeners, plus Twilio's base64 mu-law, passed to the model untouched."""

    mulaw_b64: str = ""
