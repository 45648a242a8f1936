"""The fake realtime model (and a fake Twilio REST API) in their own process, so they cost the server nothing.

    python -m benchmarks.fake_model --latency-ms 300 --silence-ms 500

The model is ``agent.testing.fake_realtime.FakeRealtimeServer``: GA OpenAI
Realtime protocol, energy VAD that commits a turn after ``--silence-ms`` of
silence, then answers ``--latency-ms`` later with ``--reply-ms`` of audio
(``--greeting-ms`` for a ``response.create`` such as the greeting). It never
calls a tool, so no call is redirected. Its event logs are trimmed every
second, so it can run for long. Prints ``READY <model ws url> <rest base url>``
once listening (free ports).
"""

from __future__ import annotations

import argparse
import asyncio
import json

from agent.testing.fake_realtime import FakeModel, FakeRealtimeServer, Say, ToolCall, Turn


def brain(greeting_ms: int, reply_ms: int):
    def decide(turn: Turn) -> list[Say]:
        if turn.trigger == "turn":
            return [
                Say(
                    "Thanks, I have noted that. Anything else I should know?",
                    audio_ms=reply_ms,
                )
            ]
        return [
            Say(
                "Hello, this is the on-call assistant. What is going on?",
                audio_ms=greeting_ms,
            )
        ]

    return decide


def deciding_brain(greeting_ms: int):
    """For whole calls (benchmarks/soak.py): after the caller's first turn the model records the
    details and routes the call, so the call is redirected and the flow runs to its end."""

    def decide(turn: Turn) -> list:
        if turn.trigger == "turn":
            return [ToolCall("record_details", {"incident": "the checkout is down", "affected_services": ["checkout"],
                                                "caller_name": "Load Test"})]
        if turn.tool_name == "record_details":
            return [ToolCall("route_call", {"intent": "system_outage", "summary": "Checkout down"})]
        if turn.index == 0:
            return [Say("Hello, this is the on-call assistant. What is going on?", audio_ms=greeting_ms)]
        return [Say("I'm connecting you now.", audio_ms=800)]

    return decide


async def _trim(fake: FakeRealtimeServer) -> None:
    """Drop the fake's test logs (every event of every session) so memory and lookups stay flat."""
    while True:
        await asyncio.sleep(1.0)
        fake.received.clear()
        fake.sent.clear()
        fake.handshakes.clear()
        fake.model.turns.clear()
        fake.sessions[:] = [s for s in fake.sessions if not s.closed]
        for sess in fake.sessions:
            sess.received.clear()
            sess.sent.clear()
            sess.responses.clear()


async def _rest(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Twilio's REST API, answering 200 to anything (the benchmark's calls are never redirected)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length:
            await reader.readexactly(length)
        body = json.dumps({"sid": "CA" + "0" * 32, "status": "in-progress"}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(args: argparse.Namespace) -> None:
    model = FakeModel(deciding_brain(args.greeting_ms) if args.decide else brain(args.greeting_ms, args.reply_ms))
    fake = FakeRealtimeServer(
        model, vad_silence_ms=args.silence_ms, reply_delay_ms=args.latency_ms
    )
    await fake.start()  # on a free port
    rest = await asyncio.start_server(_rest, "127.0.0.1", 0)
    trim = asyncio.create_task(_trim(fake))
    print(
        f"READY {fake.url} http://127.0.0.1:{rest.sockets[0].getsockname()[1]}",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        trim.cancel()
        rest.close()
        await fake.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--latency-ms", type=int, default=300)
    p.add_argument("--silence-ms", type=int, default=500)
    p.add_argument("--reply-ms", type=int, default=1500)
    p.add_argument("--greeting-ms", type=int, default=2000)
    p.add_argument("--decide", action="store_true", help="route every call after the caller's first turn")
    try:
        asyncio.run(main(p.parse_args()))
    except KeyboardInterrupt:
        pass
