"""Low-latency integer-ratio resamplers for a call's PCM16 audio (8 kHz telephone audio <-> a model's rates).

Why not Pipecat's stream resampler (``pipecat.audio.resamplers``, SoX
``ResampleStream``): at its default quality (VHQ) it holds back audio in
bursts, ~105 ms when going 8 -> 16 kHz and ~60 ms going 24 -> 8 kHz in 20 ms
chunks (measured with soxr 1.0: the first chunks come out empty), and its
low-delay "QQ" preset has no anti-alias filter (24 kHz speech folded down to
8 kHz hisses). A call's rates differ by whole factors, so a windowed-sinc FIR
(Kaiser window) in polyphase form does it with about 1.5 ms of delay, no
bursts, and a few microseconds of numpy per 20 ms chunk.

* :class:`Upsampler` (``factor`` L): 8 kHz -> 16 kHz for a model that wants 16 kHz input.
* :class:`Downsampler` (``factor`` M): 24 kHz -> 8 kHz for the model's voice to Twilio.

Both keep their filter state between chunks (one instance per direction per
call), take and give int16 numpy arrays, and clip rather than wrap.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Downsampler", "Upsampler", "lowpass"]


def lowpass(taps: int, cutoff: float, gain: float = 1.0, beta: float = 6.0) -> np.ndarray:
    """A windowed-sinc low-pass FIR: ``cutoff`` as a fraction of the sample rate (0..0.5), DC gain ``gain``."""
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * cutoff * n) * np.kaiser(taps, beta)
    return (h * (gain / h.sum())).astype(np.float64)


def _to_int16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)


class Upsampler:
    """Raise the rate by ``factor`` (zero-stuffing + FIR low-pass at the old Nyquist), ~``taps/2`` output samples of delay."""

    def __init__(self, factor: int = 2, taps: int = 48, cutoff_hz: float = 3600.0, in_rate: int = 8000) -> None:
        self.factor = factor
        h = lowpass(taps, cutoff_hz / (in_rate * factor), gain=factor)
        self._phases = [h[p::factor] for p in range(factor)]  # polyphase: one short filter per output phase
        self._history = np.zeros(len(self._phases[0]) - 1, dtype=np.float64)

    def process(self, samples: np.ndarray) -> np.ndarray:
        """The next chunk at the new rate (exactly ``factor`` times as many samples)."""
        if samples.size == 0:
            return samples.astype(np.int16)
        x = np.concatenate((self._history, samples.astype(np.float64)))
        self._history = x[len(x) - self._history.size:]
        out = np.empty(samples.size * self.factor, dtype=np.float64)
        for p, phase in enumerate(self._phases):
            out[p::self.factor] = np.convolve(x, phase, mode="valid")[: samples.size]
        return _to_int16(out)


class Downsampler:
    """Lower the rate by ``factor`` (FIR low-pass at the new Nyquist, then keep every ``factor``-th sample)."""

    def __init__(self, factor: int = 3, taps: int = 64, cutoff_hz: float = 3700.0, in_rate: int = 24000) -> None:
        self.factor = factor
        self._h = lowpass(taps, cutoff_hz / in_rate)
        self._history = np.zeros(taps - 1, dtype=np.float64)
        self._phase = 0  # index, in the next chunk's filtered samples, of the next one to keep

    def process(self, samples: np.ndarray) -> np.ndarray:
        """The next chunk at the new rate (any input length; the decimation phase carries over)."""
        if samples.size == 0:
            return samples.astype(np.int16)
        x = np.concatenate((self._history, samples.astype(np.float64)))
        self._history = x[len(x) - self._history.size:]
        filtered = np.convolve(x, self._h, mode="valid")  # one per input sample
        kept = filtered[self._phase::self.factor]
        self._phase = (self._phase - filtered.size) % self.factor
        return _to_int16(kept)
