"""G.711 mu-law codec for 8 kHz telephone audio (Twilio Media Streams).

Everything is a table look-up on numpy arrays; the tables are built once, at
import, with vectorised numpy code, so there is no Python loop per sample on
the per-frame hot path.

- ``decode(payload)``: mu-law bytes -> int16 PCM (256-entry table).
- ``encode(pcm)``: int16 PCM (array or little-endian bytes) -> mu-law bytes
  (65536-entry table indexed by the uint16 view of the samples).
- ``SILENCE``: one byte of mu-law silence (``b"\\xff"``, decodes to 0);
  ``SILENCE * 160`` is one 20 ms frame.
- ``tone(freq_hz, ms)``: mu-law bytes of a sine, for tests and fakes.
- ``rms(payload)``: energy of mu-law bytes in int16 units.

The algorithm is ITU-T G.711 mu-law as in the classic reference
implementations: bias 0x84 (132), clip at 32635, sign/exponent/mantissa packed
into 8 bits and all bits inverted.  Decoding ``0xFF`` and ``0x7F`` gives 0; the
largest magnitude is 32124.  ``encode(decode(b)) == b`` for every byte except
``0x7F`` ("negative zero"), which re-encodes as ``0xFF``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BIAS",
    "CLIP",
    "FRAME_BYTES",
    "FRAME_MS",
    "SAMPLE_RATE",
    "SILENCE",
    "decode",
    "encode",
    "rms",
    "tone",
]

SAMPLE_RATE = 8000
"""Samples (= mu-law bytes) per second."""
FRAME_MS = 20
"""Twilio's media frame length."""
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000  # 160
"""Bytes in one 20 ms frame of mu-law audio."""
SILENCE = b"\xff"
"""One byte of mu-law silence; multiply by the number of samples."""

BIAS = 0x84
CLIP = 32635

_PCM = np.dtype("<i2")  # PCM16 little-endian, whatever the platform


def _build_decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(_PCM)


def _build_encode_table() -> np.ndarray:
    # Index i is the uint16 view of the int16 sample; recover the signed value.
    sample = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32)
    sign = np.where(sample < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(sample), CLIP) + BIAS  # abs(-32768) is fine in int32
    # exponent = position of the highest set bit of (magnitude >> 7), 0..7
    exponent = np.floor(np.log2(np.maximum(magnitude >> 7, 1))).astype(np.int32)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


_DECODE = _build_decode_table()
_DECODE.flags.writeable = False
_ENCODE = _build_encode_table()
_ENCODE.flags.writeable = False


def decode(payload: bytes | bytearray | memoryview) -> np.ndarray:
    """Decode mu-law bytes into a new int16 (little-endian) numpy array, one sample per byte.

    ``decode(payload).tobytes()`` is PCM16LE.
    """
    return _DECODE[np.frombuffer(payload, dtype=np.uint8)]


def encode(pcm: np.ndarray | bytes | bytearray | memoryview) -> bytes:
    """Encode PCM16 into mu-law bytes, one byte per sample.

    ``pcm`` is an int16 numpy array or PCM16 little-endian bytes (even length).
    Other integer arrays are clipped to the int16 range first; float arrays are
    refused (scale and round them yourself, there is no single right way).
    """
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        if len(pcm) % 2:
            raise ValueError(f"PCM16 bytes must have an even length, got {len(pcm)}")
        samples = np.frombuffer(pcm, dtype=_PCM)
    else:
        samples = np.asarray(pcm)
        if samples.dtype.kind not in "iu":
            raise TypeError(f"encode() wants int16 samples, got dtype {samples.dtype}")
        if samples.dtype.itemsize != 2 or samples.dtype.kind != "i":
            samples = np.clip(samples, -32768, 32767).astype(np.int16)
    return _ENCODE[samples.view(np.uint16)].tobytes()


def tone(freq_hz: float, ms: float, amplitude: float = 0.3) -> bytes:
    """Mu-law bytes of a sine at ``freq_hz`` lasting ``ms`` (8 samples per ms).

    ``amplitude`` is a fraction of full scale (0..1).  Meant for tests and
    fakes: ``tone(440, 20)`` is exactly one 160-byte frame.
    """
    if not 0.0 <= amplitude <= 1.0:
        raise ValueError(f"amplitude must be within 0..1, got {amplitude}")
    n = round(SAMPLE_RATE * ms / 1000)
    t = np.arange(n, dtype=np.float64) / SAMPLE_RATE
    samples = np.rint(amplitude * 32767.0 * np.sin(2.0 * np.pi * freq_hz * t)).astype(np.int16)
    return encode(samples)


def rms(payload: bytes | bytearray | memoryview) -> float:
    """Root-mean-square of mu-law audio in int16 units (0.0 for silence or no bytes).

    A full-scale sine gives about 22700; ``tone(f, ms, 0.3)`` about 6950.
    """
    if len(payload) == 0:
        return 0.0
    samples = decode(payload).astype(np.float64)
    return float(np.sqrt(np.mean(samples * samples)))
