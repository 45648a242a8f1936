"""The load generator: N concurrent Twilio Media Streams calls in one process, paced in real time.

    python -m benchmarks.loadgen --server http://127.0.0.1:8080 --calls 25 --seconds 20 [--webhook] --out result.json

Each call is an ``agent.testing.fake_twilio.FakeTwilioCall`` (real WebSocket,
``connected``/``start``, a 160-byte mu-law ``media`` frame every 20 ms on
absolute deadlines, marks echoed after playout, ``stop`` at the end). With
``--webhook`` it first POSTs the signed voice webhook ``/twilio/voice`` like
Twilio and connects to the ``<Connect><Stream>`` URL of the TwiML with its
``<Parameter>`` values (the sealed token), signed like Twilio signs the upgrade.

The caller: waits for the greeting to finish playing, then repeats — a
``--pause-ms`` pause, ``--speech-ms`` of speech-like audio
(``agent.testing.voice.spoken``: voiced syllables, not a tone; with
``--hesitate-ms``, that long a pause after the first 40 % of it, as a caller
who stops to think mid-sentence; bot audio in that pause is an overlap), wait for the
reply to start, wait for it to finish playing and ``--quiet-ms`` more — until the call's
``--seconds`` are up; then it hangs up. Calls start spread over ``--ramp``
seconds.

Writes one JSON document (``--out``, or stdout) with per-call results and the
load generator's own real-time health (frame lateness, event-loop lag).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import httpx
from twilio.request_validator import RequestValidator

from agent.testing.fake_twilio import FRAME_BYTES, FRAME_S, CallEnded, FakeTwilioCall
from agent.testing.voice import spoken
from benchmarks.common import ACCOUNT, MEDIA_PATH, TOKEN

LATE_GAP_S = 0.040  # bot audio arriving this long after the previous audio ran out is an audible gap
OVERLAP_S = 0.3  # bot audio this soon after the caller stopped cannot be the answer (VAD alone waits longer)


class BenchCall(FakeTwilioCall):
    """A FakeTwilioCall that also logs each bot audio message: (arrival, gap before it, bytes).

    ``gap`` = arrival − the moment all bot audio received before it had finished
    playing; positive means the caller heard silence (an underrun) for that long.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[tuple[float, float, int]] = []

    def _on_media(self, msg: dict[str, Any], now: float) -> None:
        before_end, before_len = self._play_end, len(self._bot_audio)
        super()._on_media(msg, now)
        added = len(self._bot_audio) - before_len
        if added:
            self.arrivals.append((now, now - before_end, added))


async def _webhook(
    client: httpx.AsyncClient, server: str, call_sid: str, validator: RequestValidator
) -> tuple[str, str, dict[str, str]]:
    """POST the signed voice webhook; (ws URL to connect to, public URL it was signed for, stream parameters)."""
    url = server.rstrip("/") + "/twilio/voice"
    form = {
        "AccountSid": ACCOUNT,
        "CallSid": call_sid,
        "From": f"+49151{secrets.randbelow(10**8):08d}",  # many callers: one number is rate limited
        "To": "+15555550199",
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    r = await client.post(
        url,
        data=form,
        headers={"X-Twilio-Signature": validator.compute_signature(url, form)},
    )
    r.raise_for_status()
    stream = ElementTree.fromstring(r.text).find("Connect/Stream")
    if stream is None:
        raise RuntimeError(f"no <Connect><Stream> in the TwiML: {r.text[:300]}")
    public = stream.get("url", "")
    params = {
        p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")
    }
    parts = urlsplit(public)
    local = urlsplit(server)
    ws = f"{'wss' if local.scheme == 'https' else 'ws'}://{local.netloc}{parts.path}"
    return ws, public, params


async def one_call(
    index: int,
    args: argparse.Namespace,
    t_start: float,
    speech: bytes,
    client: httpx.AsyncClient,
    validator: RequestValidator,
    phases: dict[str, Any],
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, t_start - loop.time()))
    rec: dict[str, Any] = {"index": index, "turns": [], "error": None}
    call_sid = "CA" + uuid.uuid4().hex
    try:
        if args.webhook:
            t0 = loop.time()
            ws_url, public, params = await _webhook(
                client, args.server, call_sid, validator
            )
            rec["webhook_s"] = loop.time() - t0
        else:
            local = urlsplit(args.server)
            ws_url = f"ws://{local.netloc}{MEDIA_PATH}"
            public, params = ws_url, {}
        call = BenchCall(
            ws_url,
            auth_token=TOKEN,
            public_url=public,
            account_sid=ACCOUNT,
            call_sid=call_sid,
            custom_parameters=params,
            connect_timeout=30.0,
        )
    except Exception as exc:  # noqa: BLE001 - reported per call
        rec["error"] = f"setup: {type(exc).__name__}: {exc}"
        return rec
    rec["wall_connect"] = time.time()
    try:
        await call.connect()
    except Exception as exc:  # noqa: BLE001 - reported per call
        rec["error"] = f"connect: {type(exc).__name__}: {exc}"
        return rec
    t_end = call.started_at + args.seconds
    speech_frames = len(speech) // FRAME_BYTES
    cut = speech_frames * 2 // 5 * FRAME_BYTES  # the hesitation comes after 40 % of the turn, on a frame boundary
    hesitation_frames = round(args.hesitate_ms / (FRAME_S * 1000))
    windows: list[tuple[float, float]] = []  # reply windows: (from, to) in loop time
    window_from = call.started_at
    try:
        await call.wait_for_audio(ms=20, timeout=args.reply_timeout)
        rec["greeting_s"] = call.first_audio_at - call.started_at
        while True:
            await call.wait_until_quiet(
                ms=args.quiet_ms, drain=True, timeout=args.reply_timeout + 10
            )
            turn_s = (args.pause_ms + args.speech_ms + args.hesitate_ms) / 1000 + 2.5
            if loop.time() + turn_s > t_end:
                break
            await call.silence(args.pause_ms)
            first_frame = call.frames_sent
            speech_start = loop.time()
            seen = len(call.arrivals)
            windows.append((window_from, speech_start))
            if hesitation_frames:
                await call.say(audio=speech[:cut])
                await call.silence(args.hesitate_ms)
                await call.say(audio=speech[cut:])
            else:
                await call.say(audio=speech)
            last = first_frame + speech_frames + hesitation_frames - 1
            speech_end = (
                call.sent_frame_times[last]
                if last < len(call.sent_frame_times)
                else loop.time()
            )
            window_from = speech_end
            turn: dict[str, Any] = {"speech_end": speech_end}
            try:
                while True:  # the first bot audio after the end of the caller's speech
                    fresh = [a for a in call.arrivals[seen:] if a[0] >= speech_end]
                    if fresh:
                        break
                    await call.wait_for_audio(
                        ms=20, new=True, timeout=args.reply_timeout
                    )
                turn["reply_s"] = fresh[0][0] - speech_end
            except TimeoutError:
                turn["reply_s"] = None
            # bot audio while the caller spoke (or too soon after to be the answer): the previous reply
            # stalled for longer than the caller's quiet wait, or the server barged in; not a clean turn
            turn["overlap"] = any(
                speech_start <= a[0] < speech_end + OVERLAP_S
                for a in call.arrivals[seen:]
            )
            rec["turns"].append(turn)
        remaining = t_end - loop.time()
        if remaining > 0:
            await asyncio.sleep(remaining)
    except (CallEnded, TimeoutError) as exc:
        rec["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        windows.append((window_from, loop.time()))
        phases.setdefault("first_hangup", time.time())
        await call.hang_up()
    rec["wall_hangup"] = time.time()
    rec["closed_by_server"] = call.closed_by_server
    rec["protocol_errors"] = call.protocol_errors[:5]
    rec["received_ms"] = call.received_ms
    rec["marks"] = len(call.mark_log)
    rec["clears"] = call.clears
    # real time on our side: lateness of every caller frame against its absolute deadline
    t0 = call.started_at
    lateness = [t - (t0 + i * FRAME_S) for i, t in enumerate(call.sent_frame_times)]
    rec["frames_sent"] = len(lateness)
    rec["frames_late"] = sum(1 for x in lateness if x > 0.020)
    rec["frame_lateness_max"] = max(lateness, default=0.0)
    rec["frame_lateness_p99"] = (
        sorted(lateness)[int(0.99 * (len(lateness) - 1))] if lateness else 0.0
    )
    # bot audio on time: inside each reply window, every message but the first must not leave a gap > LATE_GAP_S
    judged = late = 0
    for lo, hi in windows:
        inside = [a for a in call.arrivals if lo <= a[0] < hi]
        for _, gap, _ in inside[1:]:
            judged += 1
            late += gap > LATE_GAP_S
    rec["bot_msgs_judged"], rec["bot_msgs_late"] = judged, late
    return rec


async def _loop_lag(samples: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t = loop.time()
        await asyncio.sleep(0.01)
        samples.append(loop.time() - t - 0.01)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    speech = spoken(args.speech_ms)
    validator = RequestValidator(TOKEN)
    phases: dict[str, Any] = {"start": time.time()}
    lag: list[float] = []
    stop = asyncio.Event()
    lagger = asyncio.create_task(_loop_lag(lag, stop))
    base = loop.time() + 0.2
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        records = await asyncio.gather(
            *(
                one_call(
                    i,
                    args,
                    base + args.ramp * i / max(1, args.calls),
                    speech,
                    client,
                    validator,
                    phases,
                )
                for i in range(args.calls)
            )
        )
    stop.set()
    await lagger
    phases["end"] = time.time()
    lag.sort()
    return {
        "calls": args.calls,
        "seconds": args.seconds,
        "phases": phases,
        "records": records,
        "loop_lag_p99": lag[int(0.99 * (len(lag) - 1))] if lag else 0.0,
        "loop_lag_max": lag[-1] if lag else 0.0,
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--server", required=True, help="http://host:port of the server under test"
    )
    p.add_argument("--calls", type=int, default=5)
    p.add_argument("--seconds", type=float, default=20.0, help="length of each call")
    p.add_argument(
        "--ramp",
        type=float,
        default=2.0,
        help="spread the call starts over this many seconds",
    )
    p.add_argument(
        "--webhook",
        action="store_true",
        help="POST the signed voice webhook first (the real server)",
    )
    p.add_argument("--speech-ms", type=int, default=1500)
    p.add_argument("--pause-ms", type=int, default=400)
    p.add_argument("--hesitate-ms", type=int, default=0, help="a pause this long inside each caller turn (after 40 %% of it)")
    p.add_argument(
        "--quiet-ms",
        type=int,
        default=500,
        help="the caller speaks after this much bot silence (played out)",
    )
    p.add_argument("--reply-timeout", type=float, default=8.0)
    p.add_argument("--out", help="write the JSON result here (default: stdout)")
    return p.parse_args(argv)


if __name__ == "__main__":
    a = parse()
    result = json.dumps(asyncio.run(main(a)))
    if a.out:
        with open(a.out, "w") as f:
            f.write(result)
    else:
        print(result)
