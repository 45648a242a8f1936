"""G.711 mu-law codec: checked against a scalar ITU-T G.711 reference, bounds and helpers."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pytest

from agent.media import mulaw

# --------------------------------------------------------------------------- scalar reference
# The classic ITU-T G.711 mu-law algorithm, one sample at a time (bias 0x84,
# clip 32635, sign/exponent/mantissa, all bits inverted).

_EXP_LUT = [0] * 256
for _i in range(256):
    _EXP_LUT[_i] = max(_i.bit_length() - 1, 0)


def ref_encode(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, 32635) + 0x84
    exponent = _EXP_LUT[(magnitude >> 7) & 0xFF]
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def ref_decode(byte: int) -> int:
    u = ~byte & 0xFF
    exponent = (u >> 4) & 0x07
    magnitude = ((((u & 0x0F) << 3) + 0x84) << exponent) - 0x84
    return -magnitude if u & 0x80 else magnitude


ALL_BYTES = bytes(range(256))
ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int16)


# --------------------------------------------------------------------------- the tables


def test_decode_matches_reference_for_every_byte():
    decoded = mulaw.decode(ALL_BYTES)
    assert decoded.dtype == np.dtype("<i2")
    assert decoded.tolist() == [ref_decode(b) for b in range(256)]


def test_encode_matches_reference_for_every_int16():
    encoded = mulaw.encode(ALL_SAMPLES)
    assert len(encoded) == 65536
    assert list(encoded) == [ref_encode(int(s)) for s in ALL_SAMPLES]


def test_known_values():
    assert mulaw.SILENCE == b"\xff"
    assert mulaw.decode(b"\xff\x7f\x80\x00").tolist() == [0, 0, 32124, -32124]
    assert mulaw.encode(np.array([0, 32767, -32768, 32635, -32635], dtype=np.int16)) == b"\xff\x80\x00\x80\x00"
    assert mulaw.encode(np.array([1, -1], dtype=np.int16)) == b"\xff\x7f"
    assert mulaw.FRAME_BYTES == 160


def test_byte_round_trip_is_exact_except_negative_zero():
    back = mulaw.encode(mulaw.decode(ALL_BYTES))
    for b in range(256):
        assert back[b] == (0xFF if b == 0x7F else b), hex(b)


def test_sample_round_trip_error_bound():
    x = ALL_SAMPLES.astype(np.int32)
    y = mulaw.decode(mulaw.encode(ALL_SAMPLES)).astype(np.int32)
    inside = np.abs(x) <= 32635
    # The decoder returns the middle of each quantisation step: |error| <= step/2,
    # and step/2 = 2**(exponent+2) <= (|x| + 0x84) / 32.
    err = np.abs(y - x)[inside]
    assert np.all(err <= (np.abs(x[inside]) + 0x84) / 32)
    assert err[np.abs(x[inside]) < 100].max() <= 4
    # Beyond the clip level everything lands on the largest code.
    assert set(np.abs(y[~inside]).tolist()) == {32124}
    # Monotonic: a louder input never decodes quieter.
    assert np.all(np.diff(y) >= 0)


def test_tone_snr_is_telephone_quality():
    # 1013 Hz is not a divisor of 8 kHz, so the sine visits many sample values.
    for amplitude in (0.5, 0.1, 0.01):
        pcm = np.rint(amplitude * 32767 * np.sin(2 * np.pi * 1013 * np.arange(8000) / 8000)).astype(np.int16)
        back = mulaw.decode(mulaw.encode(pcm)).astype(np.float64)
        noise = back - pcm
        snr_db = 10 * math.log10(np.sum(pcm.astype(np.float64) ** 2) / np.sum(noise**2))
        assert snr_db > 34, amplitude  # G.711 mu-law: about 35-38 dB over a 40 dB range


def test_matches_audioop_where_available():
    """audioop (Sun's g711.c) agrees except for rounding of some negative samples."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    assert audioop.ulaw2lin(ALL_BYTES, 2) == mulaw.decode(ALL_BYTES).tobytes()
    theirs = np.frombuffer(audioop.lin2ulaw(ALL_SAMPLES.tobytes(), 2), dtype=np.uint8).astype(int)
    ours = np.frombuffer(mulaw.encode(ALL_SAMPLES), dtype=np.uint8).astype(int)
    differ = theirs != ours
    assert not np.any(differ[ALL_SAMPLES >= 0])
    # Sun's code shifts (floors) before taking the magnitude, so a few negative
    # samples just below a step boundary land one code louder.
    assert np.all(np.abs(theirs - ours)[differ] == 1)
    assert differ.sum() < 400


# --------------------------------------------------------------------------- API


def test_encode_accepts_bytes_and_other_integer_arrays():
    pcm = np.array([0, 1000, -1000, 32767], dtype=np.int16)
    assert mulaw.encode(pcm.astype("<i2").tobytes()) == mulaw.encode(pcm)
    assert mulaw.encode(bytearray(pcm.astype("<i2").tobytes())) == mulaw.encode(pcm)
    assert mulaw.encode(np.array([0, 1000, -1000, 99999], dtype=np.int32)) == mulaw.encode(pcm)
    assert mulaw.encode(pcm[::2]) == mulaw.encode(np.array([0, -1000], dtype=np.int16))  # strided view
    assert mulaw.encode(b"") == b""
    assert mulaw.decode(b"").shape == (0,)


def test_encode_refuses_floats_and_odd_bytes():
    with pytest.raises(TypeError):
        mulaw.encode(np.zeros(4, dtype=np.float32))
    with pytest.raises(ValueError):
        mulaw.encode(b"\x00\x01\x02")


def test_decode_bytes_are_pcm16le():
    assert mulaw.decode(b"\x80").tobytes() == (32124).to_bytes(2, "little", signed=True)


def test_tone_length_level_and_frequency():
    frame = mulaw.tone(440, 20)
    assert len(frame) == 160
    second = mulaw.tone(1000, 1000, amplitude=0.3)
    assert len(second) == 8000
    assert mulaw.rms(second) == pytest.approx(0.3 * 32767 / math.sqrt(2), rel=0.02)
    spectrum = np.abs(np.fft.rfft(mulaw.decode(second).astype(np.float64)))
    assert int(np.argmax(spectrum)) == 1000  # 1 Hz bins over 1 s
    assert mulaw.tone(440, 0) == b""
    with pytest.raises(ValueError):
        mulaw.tone(440, 20, amplitude=1.5)


def test_rms():
    assert mulaw.rms(b"") == 0.0
    assert mulaw.rms(mulaw.SILENCE * 160) == 0.0
    assert mulaw.rms(b"\x80" * 160) == pytest.approx(32124)
    assert mulaw.rms(mulaw.tone(440, 200, 0.6)) > 1.9 * mulaw.rms(mulaw.tone(440, 200, 0.3))


def test_vectorised_speed():
    """A minute of audio round-trips in well under a second (no per-sample Python)."""
    minute = mulaw.tone(300, 60_000)
    start = time.perf_counter()
    assert mulaw.encode(mulaw.decode(minute)) == minute
    assert time.perf_counter() - start < 0.5
