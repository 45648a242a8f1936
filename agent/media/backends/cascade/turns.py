"""The caller's turns for a cascade: when they start and stop speaking, from the shared Silero model.

A speech-to-text service transcribes whole utterances, so something has to
say where one ends (Pipecat's segmented STT services wait for
``VADUserStoppedSpeakingFrame``). The barge-in detector
(:mod:`agent.media.vad`) only says when speech starts, and only while the bot
is heard; this one follows the caller the whole call, on the same shared
inference session (each call keeps its recurrent state). Windows too quiet to
be speech (line noise, a caller listening) cost an energy sum, not an
inference.

Inside a turn, a shorter silence (``pause_ms``) is a pause: the cascade has
the words so far transcribed then, and answers early if they read finished
(:mod:`.turn_end`). Speech after a pause resumes the turn by the same rule
that starts one (``start_ms`` of speech in a row: a click is no speech, nor
does it reset the silence that ends the turn); ``stop_ms`` of silence
since the turn's last speech always ends it.
"""

from __future__ import annotations

from enum import Enum

import numpy as np

from agent.media.vad import CONTEXT, LOUD_BYTES, MULAW_FLOAT, QUIET_ENERGY, SAMPLE_RATE, WINDOW, SileroModel

WINDOW_MS = WINDOW * 1000 // SAMPLE_RATE  # 32


class Turn(Enum):
    STARTED = "started"
    PAUSED = "paused"  # silent for pause_ms, still inside the turn
    RESUMED = "resumed"  # speech again after a pause
    STOPPED = "stopped"


class TurnDetector:
    """Speech for ``start_ms`` starts a turn; silence for ``pause_ms`` pauses it (0: never), for ``stop_ms`` ends it."""

    def __init__(self, model: SileroModel, *, threshold: float = 0.5, start_ms: int = 160, pause_ms: int = 0, stop_ms: int = 640) -> None:
        self._model = model
        self._threshold = threshold
        self._start = max(1, start_ms // WINDOW_MS)
        self._stop = max(1, stop_ms // WINDOW_MS)
        self._pause = max(1, pause_ms // WINDOW_MS) if pause_ms > 0 else 0
        if self._pause >= self._stop:
            self._pause = 0  # the turn ends first
        self.speaking = False  # inside a turn (its pauses too)
        self.paused = False
        self._silent = 0  # windows since the turn's last speech (a click in a pause does not count as speech)
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT), dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._run = 0  # windows in a row on the other side of the threshold from ``speaking`` (in a pause: voiced ones)

    def feed(self, audio: bytes) -> Turn | None:
        """Add 8 kHz mu-law; a turn's start, pause, resumption or stop if this audio made one (the last, if several)."""
        if not self.speaking and not audio.translate(LOUD_BYTES).strip(b"\x00"):
            self._pending, self._run = self._pending[:0], 0  # every sample too quiet to be speech: not even decoded
            return None
        samples = MULAW_FLOAT[np.frombuffer(audio, dtype=np.uint8)]
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
            if not self.speaking:
                self._run = self._run + 1 if voiced else 0
                if self._run >= self._start:
                    self.speaking, self._run, self._silent = True, 0, 0
                    change = Turn.STARTED
                continue
            if self.paused:
                self._run = self._run + 1 if voiced else 0
                self._silent += 1
                if self._run >= self._start:
                    self.paused, self._run, self._silent = False, 0, 0
                    change = Turn.RESUMED
                    continue
            else:
                self._silent = 0 if voiced else self._silent + 1
                if self._silent == self._pause and self._pause:
                    self.paused, self._run = True, 0
                    change = Turn.PAUSED
            if self._silent >= self._stop:
                self.speaking = self.paused = False
                self._run = self._silent = 0
                change = Turn.STOPPED
        return change
