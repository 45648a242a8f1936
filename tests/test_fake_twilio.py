"""FakeTwilioCall against a small recording WebSocket server (real sockets, real time).

Shapes follow docs protocols.md 3.2/3.3; timing tolerances are loose enough
for a busy machine but tight enough to catch accumulated-sleep pacing or
marks echoed before their audio has played.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, Self

import pytest
from twilio.request_validator import RequestValidator
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from agent.media import mulaw
from agent.testing.fake_twilio import CallEnded, FakeTwilioCall, MarkRecord

TOKEN = "test-auth-token-123"
SID = {prefix: re.compile(rf"^{prefix}[0-9a-f]{{32}}$") for prefix in ("AC", "CA", "MZ")}


class Peer:
    """The server side: records every frame the fake sends, with arrival times."""

    def __init__(self, on_connect: Callable[[Peer], Awaitable[None]] | None = None, path: str = "/media"):
        self.on_connect = on_connect
        self.path = path
        self.frames: list[tuple[float, Any]] = []  # (loop time, parsed JSON or raw frame)
        self.headers: Any = None
        self.request_path: str | None = None
        self.ws: ServerConnection | None = None
        self.connected = asyncio.Event()
        self.done = asyncio.Event()
        self.close_code: int | None = None

    async def __aenter__(self) -> Self:
        self.server = await serve(self._handler, "127.0.0.1", 0, compression=None)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.path}"

    async def _handler(self, ws: ServerConnection) -> None:
        loop = asyncio.get_running_loop()
        self.ws = ws
        self.headers = ws.request.headers
        self.request_path = ws.request.path
        self.connected.set()
        script = asyncio.create_task(self.on_connect(self)) if self.on_connect else None
        try:
            async for raw in ws:
                try:
                    item: Any = json.loads(raw)
                except ValueError:
                    item = raw
                self.frames.append((loop.time(), item))
        except ConnectionClosed:
            pass
        finally:
            self.close_code = ws.close_code
            if script is not None and not script.done():
                script.cancel()
            self.done.set()

    # helpers ----------------------------------------------------------------
    def events(self, name: str | None = None) -> list[dict]:
        return [m for _, m in self.frames if isinstance(m, dict) and (name is None or m.get("event") == name)]

    def timed(self, name: str) -> list[tuple[float, dict]]:
        return [(t, m) for t, m in self.frames if isinstance(m, dict) and m.get("event") == name]

    async def send(self, obj: Any) -> float:
        assert self.ws is not None
        await self.ws.send(obj if isinstance(obj, (str, bytes)) else json.dumps(obj))
        return asyncio.get_running_loop().time()

    async def media(self, stream_sid: str, audio: bytes) -> float:
        return await self.send(
            {"event": "media", "streamSid": stream_sid, "media": {"payload": base64.b64encode(audio).decode()}}
        )

    async def until(self, predicate: Callable[[], bool], timeout: float = 2.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.005)


def frame_audio(message: dict) -> bytes:
    return base64.b64decode(message["media"]["payload"])


# --------------------------------------------------------------------------- stream shape and pacing


def test_stream_shapes_order_pacing_signature_and_stop():
    async def main():
        async with Peer() as peer:
            call = FakeTwilioCall(
                peer.url, auth_token=TOKEN, custom_parameters={"tenant": "acme"}, to_number="+15555550123"
            )
            async with call:
                await asyncio.sleep(1.1)
            await asyncio.wait_for(peer.done.wait(), 2)
            return peer, call

    peer, call = asyncio.run(main())

    # --- signature on the upgrade GET, over the wss:// URL with empty params
    sig = peer.headers["X-Twilio-Signature"]
    wss_url = f"wss://127.0.0.1:{peer.port}/media"
    assert call.signed_url == wss_url and call.signature == sig
    assert RequestValidator(TOKEN).validate(wss_url, {}, sig)
    assert not RequestValidator(TOKEN).validate(peer.url, {}, sig)  # ws:// is not what Twilio signs
    assert not RequestValidator("other-token").validate(wss_url, {}, sig)
    assert peer.request_path == "/media"

    # --- connected, start, media…, stop; all text JSON
    messages = [m for _, m in peer.frames]
    assert all(isinstance(m, dict) for m in messages)
    assert messages[0] == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    start = messages[1]
    assert start == {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": call.stream_sid,
        "start": {
            "accountSid": call.account_sid,
            "streamSid": call.stream_sid,
            "callSid": call.call_sid,
            "tracks": ["inbound"],
            "customParameters": {"from_number": "+15555550100", "to_number": "+15555550123", "tenant": "acme"},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    }
    for prefix, sid in (("AC", call.account_sid), ("CA", call.call_sid), ("MZ", call.stream_sid)):
        assert SID[prefix].match(sid), sid
    assert [m["event"] for m in messages[2:-1]] == ["media"] * (len(messages) - 3)
    assert messages[-1] == {
        "event": "stop",
        "sequenceNumber": str(len(messages) - 1),
        "streamSid": call.stream_sid,
        "stop": {"accountSid": call.account_sid, "callSid": call.call_sid},
    }
    assert [m["sequenceNumber"] for m in messages[1:]] == [str(n) for n in range(1, len(messages))]

    media = peer.events("media")
    for i, m in enumerate(media):
        assert set(m) == {"event", "sequenceNumber", "streamSid", "media"}
        assert m["streamSid"] == call.stream_sid
        assert set(m["media"]) == {"track", "chunk", "timestamp", "payload"}
        assert m["media"]["track"] == "inbound"
        assert m["media"]["chunk"] == str(i + 1)
        assert m["media"]["timestamp"] == str(20 * i)
        assert frame_audio(m) == b"\xff" * 160  # silent caller
    assert call.frames_sent == len(media)

    # --- pacing: ~50 frames per second of wall clock, measured at the server
    times = [t for t, _ in peer.timed("media")]
    in_first_second = sum(1 for t in times if t - times[0] < 1.0)
    assert 45 <= in_first_second <= 55, in_first_second
    # absolute deadlines: frame k leaves at started_at + k*20 ms (never early, not drifting late)
    lags = [sent - (call.started_at + k * 0.02) for k, sent in enumerate(call.sent_frame_times)]
    assert min(lags) >= -0.001
    assert sum(lags) / len(lags) < 0.010
    assert lags[-1] < 0.030  # no accumulated drift

    # --- hang-up: stop then a normal close
    assert peer.close_code == 1000
    assert call.closed and not call.closed_by_server
    assert call.protocol_errors == []


def test_a_blocked_event_loop_is_caught_up_without_drift():
    """Frames missed while the loop was blocked go out at once; media time stays 20 ms per chunk."""

    async def main():
        async with Peer() as peer:
            async with FakeTwilioCall(peer.url) as call:
                await asyncio.sleep(0.1)
                time.sleep(0.15)  # noqa: ASYNC251 - block the loop on purpose: ~7 frames fall due
                await asyncio.sleep(0.25)
                elapsed = asyncio.get_running_loop().time() - call.started_at
                frames = call.frames_sent
            return peer, call, elapsed, frames

    peer, call, elapsed, frames = asyncio.run(main())
    assert abs(frames - (elapsed / 0.02 + 1)) <= 2, (frames, elapsed)
    media = peer.events("media")
    assert [m["media"]["timestamp"] for m in media] == [str(20 * i) for i in range(len(media))]
    gaps = [b - a for a, b in zip(call.sent_frame_times, call.sent_frame_times[1:])]
    assert max(gaps) >= 0.14  # the stall is visible…
    assert sorted(gaps)[len(gaps) // 2] == pytest.approx(0.02, abs=0.005)  # …and the rhythm resumes


def test_public_url_signature_and_query_strings_refused():
    async def main():
        async with Peer() as peer:
            async with FakeTwilioCall(
                peer.url,
                auth_token=TOKEN,
                public_url="https://voice.example.com/twilio/media",
                account_sid="AC" + "a" * 32,
                call_sid="CA" + "b" * 32,
                stream_sid="MZ" + "c" * 32,
                from_number=None,
                to_number=None,
            ) as call:
                await peer.until(lambda: len(peer.events()) >= 2)
            return peer, call

    peer, call = asyncio.run(main())
    sig = peer.headers["X-Twilio-Signature"]
    assert call.signed_url == "wss://voice.example.com/twilio/media"
    assert RequestValidator(TOKEN).validate("wss://voice.example.com/twilio/media", {}, sig)
    start = peer.events("start")[0]
    assert start["streamSid"] == "MZ" + "c" * 32
    assert start["start"]["accountSid"] == "AC" + "a" * 32
    assert start["start"]["callSid"] == "CA" + "b" * 32
    assert start["start"]["customParameters"] == {}
    assert peer.events("stop")[0]["stop"] == {"accountSid": "AC" + "a" * 32, "callSid": "CA" + "b" * 32}

    with pytest.raises(ValueError):
        FakeTwilioCall("ws://127.0.0.1:1/media?tenant=acme")
    with pytest.raises(ValueError):
        FakeTwilioCall("http://127.0.0.1:1/media")


def test_unsigned_call_has_no_signature_header():
    async def main():
        async with Peer() as peer:
            async with FakeTwilioCall(peer.url):
                await peer.until(lambda: len(peer.events()) >= 2)
            return peer

    peer = asyncio.run(main())
    assert "X-Twilio-Signature" not in peer.headers


# --------------------------------------------------------------------------- caller actions


def test_say_silence_and_dtmf():
    async def main():
        async with Peer() as peer:
            async with FakeTwilioCall(peer.url) as call:
                loop = asyncio.get_running_loop()
                before = loop.time()
                await call.say(ms=200, freq_hz=600)
                say_took = loop.time() - before
                await call.press("5")
                await call.press("#")
                with pytest.raises(ValueError):
                    await call.press("55")
                with pytest.raises(ValueError):
                    await call.press("x")
                await call.say(audio=mulaw.tone(800, 30))  # padded to two frames
                await call.silence(60)
            return peer, call, say_took

    peer, call, say_took = asyncio.run(main())
    assert 0.17 <= say_took <= 0.30, say_took  # 10 frames at 20 ms, sent in real time

    media = peer.events("media")
    loud = [i for i, m in enumerate(media) if frame_audio(m) != b"\xff" * 160]
    first = loud[0]
    assert loud[:10] == list(range(first, first + 10))  # contiguous speech frames
    speech = b"".join(frame_audio(media[i]) for i in loud[:10])
    assert speech == mulaw.tone(600, 200)
    assert mulaw.rms(speech) == pytest.approx(0.3 * 32767 / 2**0.5, rel=0.03)
    tail = b"".join(frame_audio(media[i]) for i in loud[10:])
    assert tail == mulaw.tone(800, 30) + b"\xff" * 80
    assert len(loud) == 12

    dtmf = peer.events("dtmf")
    assert dtmf == [
        {
            "event": "dtmf",
            "sequenceNumber": dtmf[0]["sequenceNumber"],
            "streamSid": call.stream_sid,
            "dtmf": {"track": "inbound_track", "digit": "5"},
        },
        {
            "event": "dtmf",
            "sequenceNumber": str(int(dtmf[0]["sequenceNumber"]) + 1),
            "streamSid": call.stream_sid,
            "dtmf": {"track": "inbound_track", "digit": "#"},
        },
    ]
    # sequence numbers stay one counter across media and dtmf
    seqs = [int(m["sequenceNumber"]) for m in peer.events() if m["event"] != "connected"]
    assert seqs == list(range(1, len(seqs) + 1))


def test_send_raw_and_protocol_errors():
    async def script(peer: Peer) -> None:
        await peer.until(lambda: len(peer.events()) >= 2)
        sid = peer.events("start")[0]["streamSid"]
        await peer.send("this is not json")
        await peer.send(b"\x00\x01binary")
        await peer.send({"event": "media", "streamSid": "MZ" + "0" * 32, "media": {"payload": "/w=="}})
        await peer.send({"event": "media", "streamSid": sid, "media": {"payload": "***"}})
        await peer.send({"event": "dance", "streamSid": sid})
        await peer.media(sid, b"\xff" * 160)

    async def main():
        async with Peer(script) as peer:
            async with FakeTwilioCall(peer.url) as call:
                await call.wait_for_audio(ms=20, timeout=2)
                await call.send_raw("{broken")
                await call.send_raw(b"\x01\x02")
                await peer.until(lambda: b"\x01\x02" in [m for _, m in peer.frames])
            return peer, call

    peer, call = asyncio.run(main())
    raw = [m for _, m in peer.frames if not isinstance(m, dict)]
    assert raw == ["{broken", b"\x01\x02"]
    assert len(call.protocol_errors) == 5, call.protocol_errors
    assert [m.get("event") for m in call.messages] == ["media", "media", "dance"]
    assert call.bot_audio == b"\xff" * 160
    assert not call.closed_by_server


@pytest.mark.parametrize("after_start", [True, False], ids=["after-start", "right-after-upgrade"])
def test_server_close_is_reported(after_start):
    async def script(peer: Peer) -> None:
        if after_start:
            await peer.until(lambda: len(peer.events()) >= 2)
        await peer.ws.close(1008, "bad signature")

    async def main():
        async with Peer(script) as peer:
            call = FakeTwilioCall(peer.url, auth_token=TOKEN)
            async with call:
                await call.wait_closed(timeout=2)
                with pytest.raises(CallEnded):
                    await call.say(ms=100)
                with pytest.raises(CallEnded):
                    await call.press("1")
                with pytest.raises(CallEnded):
                    await call.wait_for_audio(ms=100, timeout=1)
            return peer, call

    peer, call = asyncio.run(main())
    assert call.closed_by_server and call.close_code == 1008 and call.close_reason == "bad signature"
    assert peer.events("stop") == []  # nothing is sent on a socket the server closed


# --------------------------------------------------------------------------- playback, marks, clear


def test_marks_are_echoed_only_after_their_audio_played():
    marks_sent: dict[str, float] = {}

    async def script(peer: Peer) -> None:
        await peer.until(lambda: len(peer.events()) >= 2)
        sid = peer.events("start")[0]["streamSid"]
        marks_sent["empty"] = await peer.send({"event": "mark", "streamSid": sid, "mark": {"name": "empty"}})
        # 400 ms of audio in one burst, then two marks: both play out together
        marks_sent["audio0"] = await peer.media(sid, mulaw.tone(500, 400))
        marks_sent["m1"] = await peer.send({"event": "mark", "streamSid": sid, "mark": {"name": "m1"}})
        await peer.send({"event": "mark", "streamSid": sid, "mark": {"name": "m2"}})
        # 200 ms more, paced like pipecat (40 ms packets in real time): its mark waits for it
        for _ in range(5):
            await peer.media(sid, mulaw.tone(700, 40))
            await asyncio.sleep(0.04)
        await peer.send({"event": "mark", "streamSid": sid, "mark": {"name": "m3"}})

    async def main():
        async with Peer(script) as peer, FakeTwilioCall(peer.url) as call:
            await peer.until(lambda: len(peer.events("mark")) == 4, timeout=3)
            return peer, call

    peer, call = asyncio.run(main())
    echoes = peer.timed("mark")
    assert [m for _, m in echoes] == [
        {"event": "mark", "sequenceNumber": m["sequenceNumber"], "streamSid": call.stream_sid, "mark": {"name": name}}
        for (_, m), name in zip(echoes, ["empty", "m1", "m2", "m3"])
    ]
    assert call.marks_echoed == ["empty", "m1", "m2", "m3"]
    at = {m["mark"]["name"]: t for t, m in echoes}
    assert at["empty"] - marks_sent["empty"] < 0.05  # nothing to play: echoed at once
    assert 0.39 <= at["m1"] - marks_sent["audio0"] <= 0.47  # 400 ms played first
    assert at["m2"] - at["m1"] < 0.02
    assert 0.59 <= at["m3"] - marks_sent["audio0"] <= 0.68  # 400 + 5*40 ms
    for record in call.mark_log:
        assert isinstance(record, MarkRecord) and not record.cleared
        assert record.echoed_at >= record.due_at
    assert call.received_ms == pytest.approx(600)
    assert call.first_audio_at is not None and len(call.media_received_at) == 6
    assert call.protocol_errors == []


def test_clear_discards_unplayed_audio_and_releases_marks():
    stamps: dict[str, float] = {}

    async def script(peer: Peer) -> None:
        await peer.until(lambda: len(peer.events()) >= 2)
        sid = peer.events("start")[0]["streamSid"]
        stamps["audio"] = await peer.media(sid, mulaw.tone(500, 1000))
        await peer.send({"event": "mark", "streamSid": sid, "mark": {"name": "a"}})
        await peer.send({"event": "mark", "streamSid": sid, "mark": {"name": "b"}})
        await asyncio.sleep(0.2)
        stamps["clear"] = await peer.send({"event": "clear", "streamSid": sid})
        await asyncio.sleep(0.05)
        stamps["after"] = await peer.media(sid, mulaw.tone(500, 100))
        await peer.send({"event": "mark", "streamSid": sid, "mark": {"name": "c"}})

    async def main():
        async with Peer(script) as peer, FakeTwilioCall(peer.url) as call:
            await peer.until(lambda: len(peer.events("mark")) == 2, timeout=2)
            state = (call.clears, call.cleared_ms, call.played_ms, call.buffered_ms)
            await peer.until(lambda: len(peer.events("mark")) == 3, timeout=2)
            return peer, call, state

    peer, call, (clears, cleared_ms, played_ms, buffered_ms) = asyncio.run(main())
    at = {m["mark"]["name"]: t for t, m in peer.timed("mark")}
    assert at["a"] - stamps["clear"] < 0.03 and at["b"] - stamps["clear"] < 0.03  # released by the clear
    assert 0.09 <= at["c"] - stamps["after"] <= 0.15  # new audio plays from the clear on
    assert clears == 1 and call.clear_times
    assert cleared_ms == pytest.approx(800, abs=40)
    assert played_ms == pytest.approx(200, abs=40)
    assert buffered_ms == 0.0
    assert [r.cleared for r in call.mark_log] == [True, True, False]
    assert call.marks_echoed == ["a", "b", "c"]
    assert len(call.bot_audio) == 8800  # bot_audio keeps everything received


# --------------------------------------------------------------------------- waiting helpers


def test_wait_for_audio_and_wait_until_quiet():
    sent: list[float] = []

    async def script(peer: Peer) -> None:
        await peer.until(lambda: len(peer.events()) >= 2)
        sid = peer.events("start")[0]["streamSid"]
        await asyncio.sleep(0.1)
        for _ in range(8):  # 320 ms in 40 ms packets, real time
            sent.append(await peer.media(sid, mulaw.tone(400, 40)))
            await asyncio.sleep(0.04)

    async def main():
        async with Peer(script) as peer, FakeTwilioCall(peer.url) as call:
            loop = asyncio.get_running_loop()
            got = await call.wait_for_audio(ms=160, timeout=2)
            t_got = loop.time()
            await call.wait_until_quiet(ms=150, timeout=2)
            t_quiet = loop.time()
            with pytest.raises(TimeoutError):
                await call.wait_for_audio(ms=100, new=True, timeout=0.1)
            return call, got, t_got, t_quiet

    call, got, t_got, t_quiet = asyncio.run(main())
    assert got >= 160
    assert sent[3] <= t_got < sent[3] + 0.03  # the 4th packet completes 160 ms
    assert 0.15 <= t_quiet - sent[-1] <= 0.2
    assert call.first_audio_at == pytest.approx(sent[0], abs=0.02)
    assert len(call.media_received_at) == 8 and call.received_ms == 320
