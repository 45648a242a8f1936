"""The fake cascade services (and a fake Twilio REST API) in their own process, for ``ours-cascade`` and ``plain-cascade``.

    python -m benchmarks.fake_cascade --stt-ms 100 --llm-ms 100 --tts-ms 100 [--events FILE]

The services are :class:`agent.testing.fake_openai_http.FakeOpenAIHttp`
(OpenAI's ``/v1/audio/transcriptions``, streaming ``/v1/chat/completions``
and ``/v1/audio/speech``, in the shapes its module documents and cites), with
what a load test needs on top, here rather than in the test fake:

* **Fixed delays.** Each request is answered ``--stt-ms`` / ``--llm-ms`` /
  ``--tts-ms`` after its body was read (the transcript; the first chunk of
  the chat stream, whose words then follow ``--ms-per-token`` apart; the first
  audio bytes). The same for every server, so the benchmark can subtract them.
* **A scripted caller and model.** A transcription is :data:`HEARD`, or as
  much of it as the uploaded audio holds (:func:`heard_in`) when a server
  sends the turn in pieces, cut at a pause inside it (``loadgen
  --hesitate-ms``): a piece holding less than half the turn is its start,
  written without the full stop (an assumption: a recogniser given a cut-off
  sentence does not close it; Whisper sometimes does, and a turn end judged
  by the transcript would then come early); a bigger piece is the turn's
  rest, with the full stop. The LLM answers :data:`GREETING` when asked to greet (our greeting
  instruction, or stock Pipecat's first user message) and :data:`REPLY`
  otherwise, never calling a tool. Speech is ``--ms-per-word`` of audio per
  word, sent at 10x real time in 100 ms chunks (the fake's defaults).
* **Flat memory.** The fake's test logs (every request, with the caller's
  audio) are dropped every second.
* **Stage timestamps** (``--events``): one JSON line per request —
  ``{"path", "body_at", "answer_at"}`` in ``time.monotonic()`` seconds (one
  clock for every process on the machine), so ``benchmarks.stages`` can
  place each stage of a turn between the load generator's end of speech and
  its first bot audio.

Prints ``READY <openai base url> <twilio rest base url>`` once listening (free ports).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import io
import time
import wave
from typing import IO, Any

import numpy as np

from aiohttp import web

from agent.testing.fake_openai_http import ChatScript, FakeOpenAIHttp, When
from benchmarks.fake_model import _rest

HEARD = "The checkout page is down for every customer."
GREETING = "Hello, this is the on-call assistant speaking."  # 7 words: 2.1 s at 300 ms a word
REPLY = "Thanks, I have noted that."  # 5 words: 1.5 s at 300 ms a word; one sentence, so the TTS gets it whole


VOICED_RMS = 300  # a 20 ms frame louder than this is the caller's speech (the synthetic voice is far louder; silence is 0)


def heard_in(wav: bytes, utterance_ms: int) -> str:
    """The words of :data:`HEARD` that ``wav`` holds: its voiced time over ``utterance_ms``, the caller's whole turn."""
    with wave.open(io.BytesIO(wav)) as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32)
    frame = rate // 50
    frames = samples[: samples.size // frame * frame].reshape(-1, frame)
    voiced_ms = 20 * int((np.sqrt((frames**2).mean(axis=1)) > VOICED_RMS).sum()) if frames.size else 0
    words = HEARD.split()
    share = voiced_ms / utterance_ms
    if share >= 0.85:
        return HEARD
    count = round(share * len(words))
    if share >= 0.5:
        return " ".join(words[-count:])  # the rest of a turn the caller paused in
    return " ".join(words[:count]).rstrip(".")


def script() -> ChatScript:
    """Greet when asked to (our path: an instruction in the system message; stock Pipecat: its first user message)."""
    return ChatScript(
        [
            When(system="Greet the caller", say=GREETING, once=False),
            When(user="Greet the caller", say=GREETING, once=False),
        ],
        otherwise=REPLY,
    )


class BenchOpenAIHttp(FakeOpenAIHttp):
    """The fake with fixed per-endpoint delays, one transcript for every turn, and a log of when each request was answered."""

    def __init__(self, *, delays_ms: dict[str, int], utterance_ms: int, events: IO[str] | None = None, **kwargs: Any) -> None:
        super().__init__(script(), **kwargs)
        self.delays = {path: ms / 1000 for path, ms in delays_ms.items()}
        self.utterance_ms = utterance_ms
        self.events = events

    def _next_transcript(self, audio: bytes) -> str:
        self.heard_lines.clear()
        return heard_in(audio, self.utterance_ms)

    async def _refused(self, request: web.Request) -> web.Response | None:
        """Called by every endpoint once the body is read, just before it answers: the place for the fixed delay."""
        body_at = time.monotonic()
        await asyncio.sleep(self.delays.get(request.path, 0.0))
        refused = await super()._refused(request)
        if self.events is not None:
            self.events.write(json.dumps({"path": request.path, "body_at": body_at, "answer_at": time.monotonic()}) + "\n")
        return refused

    async def trim(self) -> None:
        """Drop the test logs every second so memory stays flat over a long run."""
        while True:
            await asyncio.sleep(1.0)
            self.requests.clear()
            self.spoken.clear()
            self.heard_lines.clear()
            if self.events is not None:
                self.events.flush()


async def main(args: argparse.Namespace, events: IO[str] | None) -> None:
    fake = BenchOpenAIHttp(
        delays_ms={
            "/v1/audio/transcriptions": args.stt_ms,
            "/v1/chat/completions": args.llm_ms,
            "/v1/audio/speech": args.tts_ms,
        },
        events=events,
        utterance_ms=args.utterance_ms,
        ms_per_word=args.ms_per_word,
        first_token_ms=0,  # the delay is --llm-ms, taken before the stream starts
        ms_per_token=args.ms_per_token,
    )
    async with fake:
        rest = await asyncio.start_server(_rest, "127.0.0.1", 0)
        trim = asyncio.create_task(fake.trim())
        print(f"READY {fake.base_url} http://127.0.0.1:{rest.sockets[0].getsockname()[1]}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            trim.cancel()
            rest.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--stt-ms", type=int, default=100, help="transcription answered this long after the request")
    p.add_argument("--llm-ms", type=int, default=100, help="first chat chunk this long after the request")
    p.add_argument("--tts-ms", type=int, default=100, help="first speech bytes this long after the request")
    p.add_argument("--ms-per-token", type=int, default=0, help="between the chat stream's words")
    p.add_argument("--ms-per-word", type=int, default=300, help="speech audio per word")
    p.add_argument("--utterance-ms", type=int, default=1500, help="the caller's whole turn (the load generator's --speech-ms)")
    p.add_argument("--events", help="append one JSON line per request (monotonic times) here")
    a = p.parse_args()
    with open(a.events, "a", buffering=1) if a.events else contextlib.nullcontext() as log:  # line-buffered: SIGTERM ends it
        try:
            asyncio.run(main(a, log))
        except KeyboardInterrupt:
            pass
