"""Load and soak: whole calls, start to outcome, against one server process (issue 6).

    python -m benchmarks.soak --burst 200                 # 200 concurrent calls
    python -m benchmarks.soak --rate 1 --minutes 10       # a steady call rate for 10 minutes

Each call is what Twilio would do: the signed voice webhook, the media stream
(real-time paced mu-law, marks echoed after playout), the caller speaks once;
the fake model (its own process, ``benchmarks.fake_model --decide``) records
the details and routes the call; the server redirects it through Twilio's
REST API (a fake in this process), and the TwiML interpreter follows the rest
of the flow: the dial, the engineer's whisper (accepted), the end. A call
counts as lost when any step fails or it does not end within two minutes.

Prints: calls placed / completed / lost, outcome records the server counted
(``voice_agent_flow_outcomes`` on ``/metrics``), server CPU and memory, and
for the soak the server's RSS against the number of finished calls (the
slope of its second half is the memory kept per finished call: zero when
nothing leaks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.twiml_interpreter import TwimlInterpreter, call_update
from benchmarks.common import ACCOUNT, TOKEN, around_the_clock, proc_sample
from benchmarks.run import PY, ROOT, _start_server, _stop

CALL_TIMEOUT_S = 120


class FakeTwilioRest:
    """Twilio's call-update endpoint: hands each redirect's TwiML to the call waiting for it."""

    def __init__(self) -> None:
        self.redirects: dict[str, asyncio.Future[str]] = {}
        self.url = ""

    def expect(self, call_sid: str) -> asyncio.Future[str]:
        return self.redirects.setdefault(call_sid, asyncio.get_running_loop().create_future())

    async def start(self) -> None:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1)) if b"ength:" in head else 0
            form = {k: v[0] for k, v in parse_qs((await reader.readexactly(length)).decode()).items()}
            call_sid = path.rsplit("/", 1)[-1].removesuffix(".json")
            status, answer, target = call_update(form, call_sid)
            if target is not None:
                future = self.expect(call_sid)
                if not future.done():
                    future.set_result(target)
            body = json.dumps(answer).encode()
            writer.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (status, len(body), body))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, AttributeError):
            pass
        finally:
            writer.close()


async def one_call(base: str, rest: FakeTwilioRest, client: httpx.AsyncClient) -> str | None:
    """Place one whole call; None when it completed, else what went wrong."""
    caller = "+1555" + "".join(random.choices("0123456789", k=7))

    async def on_stream(url: str, params: dict[str, str]) -> str | None:
        ws_url = base.replace("http://", "ws://") + urlsplit(url).path
        redirect = rest.expect(twilio.call_sid)
        async with FakeTwilioCall(ws_url, auth_token=TOKEN, public_url=url, custom_parameters=params,
                                  call_sid=twilio.call_sid, from_number=caller) as call:
            await call.wait_for_audio(ms=300, timeout=30)
            await call.wait_until_quiet(ms=300, timeout=30)
            await call.say(ms=1500)
            await call.silence(700)
            return await asyncio.wait_for(redirect, 60)

    twilio = TwimlInterpreter(client, base, auth_token=TOKEN, account_sid=ACCOUNT, from_number=caller, on_stream=on_stream)
    try:
        record = await asyncio.wait_for(twilio.call([]), CALL_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - a lost call, reported
        return f"{type(exc).__name__}: {exc}"[:200]
    finally:
        rest.redirects.pop(twilio.call_sid, None)
    if any(status != 200 for status in record.statuses):
        return f"HTTP {record.statuses}"
    if not record.dialled:
        return "never reached the engineer"
    return None


async def outcomes(client: httpx.AsyncClient) -> int:
    text = (await client.get("/metrics")).text
    return int(sum(float(v) for v in re.findall(r"^voice_agent_flow_outcomes_total\{[^}]*\} (\S+)$", text, re.M)))


async def drive(args: argparse.Namespace, base: str, server_pid: int, rest: FakeTwilioRest) -> dict:
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        before_outcomes = await outcomes(client)
        cpu0, rss0 = proc_sample(server_pid)
        failures: list[str] = []
        finished = 0
        samples: list[tuple[int, int]] = []  # (finished calls, RSS)

        async def run(delay: float) -> None:
            nonlocal finished
            await asyncio.sleep(delay)
            why = await one_call(base, rest, client)
            finished += 1
            if why:
                failures.append(why)

        started = time.monotonic()
        if args.burst:
            calls = args.burst
            tasks = [asyncio.create_task(run(i * args.ramp / calls)) for i in range(calls)]
        else:
            calls = int(args.rate * args.minutes * 60)
            tasks = [asyncio.create_task(run(i / args.rate)) for i in range(calls)]
        peak = rss0
        while not all(t.done() for t in tasks):
            await asyncio.sleep(2)
            rss = proc_sample(server_pid)[1]
            peak = max(peak, rss)
            samples.append((finished, rss))
        await asyncio.sleep(3)  # the last outcome hooks
        cpu1, rss1 = proc_sample(server_pid)
        after_outcomes = await outcomes(client)
    half = [s for s in samples if s[0] >= finished / 2]
    slope = _slope(half) if len(half) >= 3 else float("nan")
    return {
        "calls": calls, "completed": calls - len(failures), "lost": len(failures),
        "outcome records": after_outcomes - before_outcomes, "seconds": round(time.monotonic() - started, 1),
        "server CPU s": round(cpu1 - cpu0, 1), "RSS start MB": round(rss0 / 2**20, 1), "RSS peak MB": round(peak / 2**20, 1),
        "RSS end MB": round(rss1 / 2**20, 1), "RSS growth KB per finished call (2nd half)": round(slope / 1024, 2),
        "failures": sorted(set(failures))[:10],
    }


def _slope(points: list[tuple[int, int]]) -> float:
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    var = sum((p[0] - mx) ** 2 for p in points)
    return sum((p[0] - mx) * (p[1] - my) for p in points) / var if var else float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--burst", type=int, default=0, help="this many concurrent calls")
    p.add_argument("--ramp", type=float, default=10.0, help="seconds over which the burst's calls start")
    p.add_argument("--rate", type=float, default=1.0, help="calls per second (soak)")
    p.add_argument("--minutes", type=float, default=10.0, help="soak length")
    p.add_argument("--flow", default=str(ROOT / "examples" / "flows" / "hotline.yaml"),
                   help="the server's flow (a copy open 24/7 is served)")
    p.add_argument("--silence-ms", type=int, default=500)
    args = p.parse_args()
    args.flow = str(around_the_clock(Path(args.flow).resolve(), Path(tempfile.mkdtemp(prefix="voice-soak-"))))

    async def go() -> dict:
        rest = FakeTwilioRest()
        await rest.start()
        fake = subprocess.Popen([PY, "-m", "benchmarks.fake_model", "--decide", "--silence-ms", str(args.silence_ms)],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True)
        server = None
        try:
            line = fake.stdout.readline().split()
            log = Path("/tmp") / f"voice-soak-{int(time.time())}.log"
            server, base, _ = _start_server("ours", line[1], rest.url, args, log)
            print(f"# server log: {log}", file=sys.stderr)
            return await drive(args, base, server.pid, rest)
        finally:
            _stop(server)
            _stop(fake)

    import os
    os.environ["VOICE_AGENT_RATE_LIMIT_CALLS"] = "0"  # every call comes from a new test number anyway
    result = asyncio.run(go())
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
