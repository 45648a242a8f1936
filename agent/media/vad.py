"""Local voice activity detection on the caller's audio, for barge-in while the bot speaks.

The model's own VAD hears the caller too, but its ``speech_started`` comes
after its prefix padding and a network round trip; by then the caller has
talked over the bot for a noticeable while. Silero (the ONNX model Pipecat
ships) answers per 32 ms window in ~0.1 ms. One inference session is loaded
per process, at start-up, and shared by every call; each call keeps only its
own recurrent state. It runs only while bot audio is playing, and only on
windows loud enough to be speech: a caller who is quiet while the bot talks
(most of the time) costs an energy sum per window, not an inference.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from agent.media import mulaw

SAMPLE_RATE = 8000
WINDOW = 256  # samples per inference at 8 kHz
CONTEXT = 32  # samples of the previous window the model expects in front
MULAW_FLOAT = mulaw.decode(bytes(range(256))).astype(np.float32) / 32768.0
# mu-law bytes whose sample is loud enough to matter (peak above the quiet level): b"\x01", others b"\x00"
LOUD_BYTES = bytes(int(abs(v) >= 0.004) for v in MULAW_FLOAT)
QUIET_ENERGY = 0.004**2 * WINDOW  # sum of squares below -48 dBFS RMS: line noise, not speech


def _default_model_path() -> Path:
    import pipecat.audio.vad as vad_package

    return Path(os.path.dirname(vad_package.__file__)) / "data" / "silero_vad.onnx"


class SileroModel:
    """The shared ONNX session; make per-call detectors with :meth:`detector`."""

    _shared: SileroModel | None = None

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(path or _default_model_path()), sess_options=options)
        self._rate = np.array(SAMPLE_RATE, dtype=np.int64)

    @classmethod
    def shared(cls) -> SileroModel:
        """The process-wide model (loaded on first use: call this at start-up, not during a call)."""
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def probability(self, window: np.ndarray, state: np.ndarray) -> tuple[float, np.ndarray]:
        out, new_state = self._session.run(None, {"input": window, "state": state, "sr": self._rate})
        return float(out[0][0]), new_state

    def detector(self, *, threshold: float = 0.5, min_speech_ms: int = 200) -> SpeechDetector:
        return SpeechDetector(self, threshold=threshold, min_speech_ms=min_speech_ms)


class SpeechDetector:
    """One call's view of the caller's audio: True once speech has lasted ``min_speech_ms``."""

    def __init__(self, model: SileroModel, *, threshold: float, min_speech_ms: int) -> None:
        self._model = model
        self._threshold = threshold
        self._needed = max(1, round(min_speech_ms / (WINDOW * 1000 / SAMPLE_RATE)))
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT), dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._run = 0

    def feed(self, pcm16: bytes) -> bool:
        """Add 8 kHz PCM16 audio; True when the caller has been speaking long enough to interrupt."""
        return self._feed(np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0)

    def feed_mulaw(self, audio: bytes) -> bool:
        """Add 8 kHz mu-law audio as Twilio sends it (one table look-up to samples)."""
        if not self._run and not audio.translate(LOUD_BYTES).strip(b"\x00"):
            self._pending = self._pending[:0]  # every sample too quiet to be speech: not even decoded
            return False
        return self._feed(MULAW_FLOAT[np.frombuffer(audio, dtype=np.uint8)])

    def _feed(self, samples: np.ndarray) -> bool:
        self._pending = np.concatenate((self._pending, samples)) if self._pending.size else samples
        speaking = False
        while self._pending.size >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            framed = np.concatenate((self._context, window[None, :]), axis=1)
            self._context = framed[:, -CONTEXT:]
            if not self._run and float(np.dot(window, window)) < QUIET_ENERGY:
                continue  # too quiet to start speech: no inference needed (once speech started, every window counts)
            probability, self._state = self._model.probability(framed, self._state)
            self._run = self._run + 1 if probability >= self._threshold else 0
            speaking = speaking or self._run >= self._needed
        return speaking
