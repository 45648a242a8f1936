"""Speech-like test audio: a synthetic vowel that voice detectors take for a person talking.

A tone is not speech to Silero (nor to a telephone); a glottal pulse train
through three formant resonators is.
"""

from __future__ import annotations

import numpy as np

from agent.media import mulaw

RATE = 8000


def vowel(ms: int, *, pitch_hz: float = 120.0, formants: tuple[tuple[float, float], ...] = ((700, 80), (1220, 90), (2600, 120))) -> np.ndarray:
    """``ms`` of an 'ah' at 8 kHz as int16 samples."""
    n = int(RATE * ms / 1000)
    t = np.arange(n) / RATE
    phase = np.cumsum(2 * np.pi * pitch_hz * (1 + 0.05 * np.sin(2 * np.pi * 3 * t)) / RATE)
    source = (np.mod(phase, 2 * np.pi) < 0.6).astype(float)
    out = np.zeros(n)
    for freq, bandwidth in formants:
        r = np.exp(-np.pi * bandwidth / RATE)
        a1, a2 = -2 * r * np.cos(2 * np.pi * freq / RATE), r * r
        y1 = y2 = 0.0
        for i in range(n):  # a two-pole resonator; test audio only, never on a call's path
            y = (1 - r) * source[i] - a1 * y1 - a2 * y2
            out[i] += y
            y2, y1 = y1, y
    out /= np.abs(out).max() or 1.0
    return (out * 0.5 * 32767).astype(np.int16)


_VOWELS = (((700, 80), (1220, 90), (2600, 120)), ((400, 60), (2000, 100), (2550, 120)),
           ((300, 50), (870, 80), (2250, 120)), ((500, 70), (1000, 90), (2500, 120)), ((270, 50), (2300, 100), (3000, 150)))


def speech(ms: int, *, seed: int = 0) -> np.ndarray:
    """``ms`` of syllables: vowels of varying colour and pitch, each after a short consonant-like burst."""
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    total = 0
    index = 0
    while total < RATE * ms / 1000:
        burst = (rng.standard_normal(int(RATE * 0.04)) * 1500).astype(np.int16)
        syllable = vowel(int(rng.integers(120, 220)), pitch_hz=float(rng.uniform(100, 160)), formants=_VOWELS[index % len(_VOWELS)])
        parts += [burst, syllable]
        total += burst.size + syllable.size
        index += 1
    return np.concatenate(parts)[: int(RATE * ms / 1000)]


def spoken(ms: int, *, peak: float = 0.5) -> bytes:
    """``ms`` of speech-like audio at ``peak`` of full scale, as 8 kHz mu-law for ``FakeTwilioCall.say(audio=...)``."""
    samples = speech(ms).astype(np.float32)
    samples *= peak * 32767 / (np.abs(samples).max() or 1.0)
    return mulaw.encode(samples.astype(np.int16))
