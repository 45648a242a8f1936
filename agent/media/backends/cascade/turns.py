"""The caller's turns for a cascade: when they start and stop speaking, from the shared Silero model.

A speech-to-text service transcribes whole utterances, so something has to
say where one ends (Pipecat's segmented STT services wait for
``VADUserStoppedSpeakingFrame``). The barge-in detector
(:mod:`agent.media.vad`) only says when speech starts, and only while the bot
is heard; this one follows the caller the whole call, on the same shared
inference session (each call keeps its recurrent state). Windows too quiet to
be speech (line noise, a caller listening) cost an energy sum, not an
inference.
"""

from __future__ import annotations

from enum import Enum

import numpy as np

from agent.media import mulaw
from agent.media.vad import CONTEXT, QUIET_ENERGY, SAMPLE_RATE, WINDOW, SileroModel

WINDOW_MS = WINDOW * 1000 // SAMPLE_RATE  # 32
_FLOAT = mulaw.decode(bytes(range(256))).astype(np.float32) / 32768.0  # mu-law byte -> sample
_LOUD = bytes(int(abs(v) >= 0.004) for v in _FLOAT)  # 1 for a byte loud enough to matter (as agent.media.vad's gate)


class Turn(Enum):
    STARTED = "started"
    STOPPED = "stopped"


class TurnDetector:
    """Speech for ``start_ms`` starts a turn; silence for ``stop_ms`` ends it."""

    def __init__(self, model: SileroModel, *, threshold: float = 0.5, start_ms: int = 160, stop_ms: int = 640) -> None:
        self._model = model
        self._threshold = threshold
        self._start = max(1, start_ms // WINDOW_MS)
        self._stop = max(1, stop_ms // WINDOW_MS)
        self.speaking = False
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT), dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._run = 0  # windows in a row on the other side of the threshold from ``speaking``

    def feed(self, audio: bytes) -> Turn | None:
        """Add 8 kHz mu-law; a turn's start or stop if this audio made one."""
        if not self.speaking and not audio.translate(_LOUD).strip(b"\x00"):
            self._pending, self._run = self._pending[:0], 0  # every sample too quiet to be speech: not even decoded
            return None
        samples = _FLOAT[np.frombuffer(audio, dtype=np.uint8)]
        self._pending = np.concatenate((self._pending, samples)) if self._pending.size else samples
        change: Turn | None = None
        while self._pending.size >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            framed = np.concatenate((self._context, window[None, :]), axis=1)
            self._context = framed[:, -CONTEXT:]
            if float(np.dot(window, window)) < QUIET_ENERGY:
                voiced = False  # too quiet to be speech: no inference
            else:
                probability, self._state = self._model.probability(framed, self._state)
                voiced = probability >= self._threshold
            self._run = self._run + 1 if voiced != self.speaking else 0
            if self._run >= (self._stop if self.speaking else self._start):
                self.speaking, self._run = not self.speaking, 0
                change = Turn.STARTED if self.speaking else Turn.STOPPED
        return change
