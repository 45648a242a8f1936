"""The bot's voice to Twilio: any TTS's 16-bit PCM to 8 kHz mu-law, without buffering.

Pipecat's stream resampler (soxr, very high quality) holds ~140 ms of audio
before it gives any back (protocols.md); on a phone line that is 140 ms more
before the caller hears the bot. Here an integer ratio (24 kHz from OpenAI's
``/audio/speech`` ``pcm``, 16 or 48 kHz from others) is a windowed-sinc
low-pass (cut at 3.6 kHz, below the 4 kHz Nyquist of the phone line) and a
pick of every n-th sample, its filter state carried from chunk to chunk:
output for every input chunk, ~1 ms of delay (half the filter). Any other
rate goes through soxr's streaming "quick" quality, which measured no
buffering either (160 samples out per 480 in from the first chunk).
The integer ratios are :class:`agent.media.resample.Downsampler` (the one
the ``gemini_live`` backend uses); encoding is :mod:`agent.media.mulaw`'s
table look-up.
"""

from __future__ import annotations

import numpy as np

from agent.media import mulaw
from agent.media.resample import Downsampler

OUT_RATE = mulaw.SAMPLE_RATE
CUTOFF_HZ = 3600.0
TAPS_PER_STEP = 16  # filter length = ratio * this: 48 taps at 24 kHz (2 ms)


class ToMulaw:
    """One reply stream's PCM16 (``in_rate``) to 8 kHz mu-law bytes, chunk by chunk."""

    def __init__(self, in_rate: int) -> None:
        self.in_rate = in_rate
        self._ratio = in_rate // OUT_RATE if in_rate % OUT_RATE == 0 else 0
        self._soxr = None
        self._down: Downsampler | None = None
        if self._ratio > 1:
            self._down = Downsampler(self._ratio, taps=self._ratio * TAPS_PER_STEP, cutoff_hz=CUTOFF_HZ, in_rate=in_rate)
        elif self._ratio == 0:
            import soxr

            self._soxr = soxr.ResampleStream(in_rate, OUT_RATE, 1, dtype="int16", quality="QQ")
        self._odd = b""  # a byte left over when a chunk split a sample

    def __call__(self, pcm: bytes) -> bytes:
        if self._odd:
            pcm, self._odd = self._odd + pcm, b""
        if len(pcm) % 2:
            pcm, self._odd = pcm[:-1], pcm[-1:]
        samples = np.frombuffer(pcm, dtype="<i2")
        if self._ratio == 1:
            return mulaw.encode(samples)
        if self._down is not None:
            return mulaw.encode(self._down.process(samples))
        return mulaw.encode(self._soxr.resample_chunk(samples))  # type: ignore[union-attr]


def mulaw_ms(audio: bytes) -> int:
    """Milliseconds of 8 kHz mu-law."""
    return len(audio) // 8
