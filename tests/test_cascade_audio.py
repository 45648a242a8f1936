"""The cascade's audio edges: the bot's TTS audio reaches Twilio as 8 kHz mu-law at once, and the caller's turns are found in theirs.

``ToMulaw`` must give audio back for every chunk it is given (Pipecat's
default resampler holds ~140 ms first: dead air before every reply) and
must not fold a TTS's high frequencies into the phone band; the turn
detector must start a turn on speech, end it after the silence, and never
take a tone or line noise for a caller.
"""

from __future__ import annotations

import numpy as np
import pytest

from agent.media import mulaw
from agent.media.backends.cascade.audio import ToMulaw
from agent.media.backends.cascade.turns import Turn, TurnDetector
from agent.media.vad import SileroModel
from agent.testing.voice import spoken


def tone(freq_hz: float, rate: int, ms: int, amplitude: float = 0.3) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (np.sin(2 * np.pi * freq_hz * t) * amplitude * 32767).astype("<i2").tobytes()


@pytest.mark.parametrize("rate", [24000, 16000, 8000, 22050])
def test_every_chunk_comes_back_at_once_as_8khz_mulaw(rate: int) -> None:
    convert = ToMulaw(rate)
    chunk_ms = 20
    pcm = tone(440, rate, 1000)
    step = rate * chunk_ms // 1000 * 2
    out = [convert(pcm[i:i + step]) for i in range(0, len(pcm), step)]
    assert len(out[0]) >= 150, "the first 20 ms chunk gives (nearly) 20 ms back: nothing held"
    assert abs(sum(map(len, out)) - 8000) <= 40, "one second in, one second out"


def test_chunks_split_anywhere_give_the_same_audio_as_one_piece() -> None:
    pcm = tone(440, 24000, 500)
    whole = ToMulaw(24000)(pcm)
    convert = ToMulaw(24000)
    pieces = b"".join(convert(pcm[i:i + 961]) for i in range(0, len(pcm), 961))  # odd sizes split samples too
    assert pieces == whole


def test_speech_band_passes_and_what_would_alias_is_filtered_out() -> None:
    heard = mulaw.rms(ToMulaw(24000)(tone(1000, 24000, 500))[80:])
    folded = mulaw.rms(ToMulaw(24000)(tone(6000, 24000, 500))[80:])  # would fold to 2 kHz by plain decimation
    assert heard > 6000 and folded < heard / 100


def turns(audio: bytes, stop_ms: int = 640, **options: int) -> list[tuple[int, Turn]]:
    """(ms into ``audio``, event) for each event of a detector fed 20 ms frames."""
    detector = TurnDetector(SileroModel.shared(), stop_ms=stop_ms, **options)
    found = []
    for start in range(0, len(audio), mulaw.FRAME_BYTES):
        turn = detector.feed(audio[start:start + mulaw.FRAME_BYTES])
        if turn is not None:
            found.append((start // 8, turn))
    return found


def test_a_turn_starts_on_speech_and_ends_after_the_silence() -> None:
    [(started, first), (stopped, second)] = turns(mulaw.SILENCE * 8000 + spoken(1500) + mulaw.SILENCE * 16000)
    assert (first, second) == (Turn.STARTED, Turn.STOPPED)
    assert 1000 < started <= 1400, "within the first few hundred ms of speech"
    assert 2500 + 500 <= stopped <= 2500 + 1000, "after the turn's end silence, not before"


def test_a_tone_or_silence_is_no_caller() -> None:
    assert turns(mulaw.tone(440, 2000) + mulaw.SILENCE * 8000) == []
    assert turns(mulaw.SILENCE * 16000) == []
