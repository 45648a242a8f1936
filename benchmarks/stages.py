"""Where a cascade turn's time goes, from outside the server: the load generator's clock and the fake services' clock.

Both processes stamp with ``time.monotonic()`` (one clock for the whole
machine on Linux), so for one call at a time each request the fake
services log (``benchmarks.fake_cascade --events``) falls inside exactly one
caller turn. A turn then splits into:

===============  ===============================================================
``to_stt``       caller's last speech frame sent -> transcription request read
                 (turn-end detection, the WAV upload; includes a configured silence)
``stt``          the fake STT's fixed delay
``to_llm``       transcript answered -> chat request read (aggregation, the context)
``llm``          the fake LLM's fixed delay (first chunk)
``to_tts``       first chat chunk sent -> speech request read (the LLM stream, sentence aggregation)
``tts``          the fake TTS's fixed delay (first bytes)
``to_caller``    first speech bytes sent -> first bot audio at the caller (the HTTP read, resampling,
                 transport out, the serializer, the socket)
``total``        the whole turn (what the load generator measured)
===============  ===============================================================
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

STT, CHAT, SPEECH = "/v1/audio/transcriptions", "/v1/chat/completions", "/v1/audio/speech"
STAGES = ("to_stt", "stt", "to_llm", "llm", "to_tts", "tts", "to_caller", "total")


def _first(events: list[dict[str, Any]], path: str, after: float, before: float) -> dict[str, Any] | None:
    return next((e for e in events if e["path"] == path and after <= e["body_at"] < before), None)


def turn_stages(speech_end: float, reply_at: float, events: list[dict[str, Any]]) -> dict[str, float] | None:
    """The stages (ms) of one turn; None when a request of the chain is missing (a turn answered without one)."""
    # a segmented STT may be asked before the turn is judged over, and once per pause inside it: the turn's last one
    stt = next((e for e in reversed(events) if e["path"] == STT and speech_end - 2.0 <= e["body_at"] and e["answer_at"] < reply_at), None)
    chat = stt and _first(events, CHAT, stt["answer_at"], reply_at)
    speech = chat and _first(events, SPEECH, chat["answer_at"], reply_at)
    if not speech:
        return None
    marks = [speech_end, stt["body_at"], stt["answer_at"], chat["body_at"], chat["answer_at"],
             speech["body_at"], speech["answer_at"], reply_at]
    out = {name: 1000 * (b - a) for name, a, b in zip(STAGES, marks, marks[1:])}
    out["total"] = 1000 * (reply_at - speech_end)
    return out


def stage_breakdown(records: list[dict[str, Any]], events_file: Path) -> dict[str, float]:
    """Median of each stage (ms) over the clean turns of a one-call run; ``turns`` says over how many."""
    events = sorted(
        (json.loads(line) for line in events_file.read_text().splitlines() if line.strip()), key=lambda e: e["body_at"]
    )
    turns = [
        turn_stages(t["speech_end"], t["speech_end"] + t["reply_s"], events)
        for r in records
        for t in r["turns"]
        if t.get("reply_s") is not None and not t["overlap"]
    ]
    found = [t for t in turns if t is not None]
    out: dict[str, float] = {name: round(statistics.median(t[name] for t in found), 1) for name in STAGES} if found else {}
    out["turns"] = len(found)
    return out
