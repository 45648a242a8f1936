"""Frames of our own, for what Pipecat has no frame for."""

from dataclasses import dataclass

from pipecat.frames.frames import DataFrame


@dataclass
class CallerSilenceFrame(DataFrame):
    """The caller said nothing for a whole turn (a silence timer fired, or a blank script line)."""

    seconds: float = 0.0
