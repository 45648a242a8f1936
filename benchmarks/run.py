"""Run the load benchmark: every configuration at every call count, print one table.

    python -m benchmarks.run --calls 5,10,25,50,100 --runs 3 --seconds 20 --configs relay,plain,ours

For each run, N and configuration (configurations interleaved), in fresh
processes: the fake model (``benchmarks.fake_model``; ``benchmarks.fake_cascade``
for the cascades), the server under test, a one-call warm-up, an
idle sample of the server, then ``benchmarks.loadgen`` with N calls while the
server's (and the others') CPU and RSS are sampled from ``/proc``. Cells are
the median over the runs. See ``benchmarks/README.md`` for what each column
means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import (
    ACCOUNT,
    TOKEN,
    around_the_clock,
    free_port,
    proc_sample,
    system_busy,
)
from benchmarks.stages import stage_breakdown

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CONFIGS = ("relay", "plain", "plain+silero", "ours", "ours-cascade", "plain-cascade")
CASCADES = ("ours-cascade", "plain-cascade")  # served by benchmarks.fake_cascade instead of the fake realtime model
OURS = ("ours", "ours-cascade")  # our server (voice-agent serve), on the realtime model or the cascade


def _base(config: str) -> str:
    """The configuration without its variant: ``ours-cascade@200`` (the cascade's turn_end_ms at 200) is ``ours-cascade``."""
    return config.split("@", 1)[0]


# -------------------------------------------------------------------- processes


def _start_fake(
    args: argparse.Namespace, config: str = "ours", events: Path | None = None
) -> tuple[subprocess.Popen, str, str]:
    if _base(config) in CASCADES:
        cmd = [PY, "-m", "benchmarks.fake_cascade", "--stt-ms", str(args.stt_ms), "--llm-ms", str(args.llm_ms),
               "--tts-ms", str(args.tts_ms), "--ms-per-token", str(args.ms_per_token), "--utterance-ms", str(args.speech_ms)]
        if events is not None:
            cmd += ["--events", str(events)]
    else:
        cmd = [
            PY,
            "-m",
            "benchmarks.fake_model",
            "--latency-ms",
            str(args.latency_ms),
            "--silence-ms",
            str(args.silence_ms),
            "--reply-ms",
            str(args.reply_ms),
            "--greeting-ms",
            str(args.greeting_ms),
        ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline().split()
    if not line or line[0] != "READY":
        proc.kill()
        raise RuntimeError(f"the fake ({cmd[2]}) did not start")
    return proc, line[1], line[2]


def _start_server(
    config: str, model_url: str, rest_url: str, args: argparse.Namespace, log: Path
) -> tuple[subprocess.Popen, str, bool]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    if config == "relay":
        cmd = [
            PY,
            "-m",
            "benchmarks.relay",
            "--port",
            str(port),
            "--model-url",
            model_url,
            "--silence-ms",
            str(args.silence_ms),
        ]
    elif config == "plain-cascade":
        cmd = [PY, "-m", "benchmarks.plain_cascade", "--port", str(port), "--base-url", model_url]
    elif config.startswith("plain"):
        cmd = [
            PY,
            "-m",
            "benchmarks.plain",
            "--port",
            str(port),
            "--model-url",
            model_url,
            "--silence-ms",
            str(args.silence_ms),
        ]
        if config == "plain+silero":
            cmd.append("--silero")
    elif _base(config) in OURS:
        cmd = (
            [PY, "-c", "from agent.cli.main import main; main()", "serve"]  # agent.cli.main has no __main__ block
            if not Path(PY).with_name("voice-agent").exists()
            else [str(Path(PY).with_name("voice-agent")), "serve"]
        )
        env.update(
            {
                "VOICE_AGENT_ENGINE": "openai",
                "VOICE_AGENT_OPENAI_API_KEY": "sk-test",
                "VOICE_AGENT_OPENAI_REALTIME_URL": model_url,
                "VOICE_AGENT_TWILIO_AUTH_TOKEN": TOKEN,
                "VOICE_AGENT_TWILIO_ACCOUNT_SID": ACCOUNT,
                "VOICE_AGENT_TWILIO_API_BASE_URL": rest_url,
                "VOICE_AGENT_PUBLIC_BASE_URL": base,
                "VOICE_AGENT_FLOW": str(Path(args.flow).resolve()),
                "VOICE_AGENT_HOST": "127.0.0.1",
                "VOICE_AGENT_PORT": str(port),
                "VOICE_AGENT_VAD_SILENCE_MS": str(args.silence_ms),
            }
        )
        if _base(config) == "ours-cascade":  # the AI node's model: block names the cascade and the fake's three endpoints
            model: dict[str, Any] = {"backend": "cascade", **{s: {"base_url": model_url} for s in ("stt", "llm", "tts")}}
            if "@" in config:  # ours-cascade@200: the model block's turn_end_ms
                model["turn_end_ms"] = int(config.split("@", 1)[1])
            # the copy the live-call tests make; imported here, so relay/plain runs do not load the agent
            from agent.testing.live import flow_with_model

            folder = log.parent / config  # not the folder of args.flow: the copy keeps the flow's file name
            folder.mkdir(exist_ok=True)
            flow = flow_with_model(Path(args.flow), model, folder)
            env.update({"VOICE_AGENT_FLOW": str(flow), "VOICE_AGENT_OPENAI_BASE_URL": model_url})
    else:
        raise ValueError(
            f"unknown configuration {config!r}; choose from {', '.join(CONFIGS)}"
        )
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.time() + 60
    health = "/healthz"
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{config} server exited with {proc.returncode}; see {log}"
            )
        try:
            with urllib.request.urlopen(base + health, timeout=1) as r:
                if r.status == 200:
                    return proc, base, _base(config) in OURS
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{config} server did not come up; see {log}")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _loadgen(
    base: str,
    webhook: bool,
    calls: int,
    seconds: float,
    args: argparse.Namespace,
    out: Path,
    on_start=None,
) -> dict[str, Any]:
    cmd = [
        PY,
        "-m",
        "benchmarks.loadgen",
        "--server",
        base,
        "--calls",
        str(calls),
        "--seconds",
        str(seconds),
        "--ramp",
        str(args.ramp),
        "--speech-ms",
        str(args.speech_ms),
        "--pause-ms",
        str(args.pause_ms),
        "--hesitate-ms",
        str(args.hesitate_ms),
        "--quiet-ms",
        str(args.quiet_ms),
        "--out",
        str(out),
    ]
    if webhook:
        cmd.append("--webhook")
    proc = subprocess.Popen(cmd, cwd=ROOT)
    if on_start:
        on_start(proc.pid)
    if proc.wait() != 0:
        raise RuntimeError(f"loadgen failed with {proc.returncode}")
    return json.loads(out.read_text())


class Sampler(threading.Thread):
    """Samples (wall time, cpu s, rss bytes) of some processes every ``every`` seconds."""

    def __init__(self, pids: dict[str, int], every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pids, self.every = dict(pids), every
        self.samples: dict[str, list[tuple[float, float, int]]] = {k: [] for k in pids}
        self._halt = threading.Event()

    def add(self, name: str, pid: int) -> None:
        self.samples.setdefault(name, [])
        self.pids[name] = pid

    def run(self) -> None:
        while not self._halt.is_set():
            now = time.time()
            for name, pid in list(self.pids.items()):
                try:
                    cpu, rss = proc_sample(pid)
                except (OSError, IndexError):
                    continue
                self.samples[name].append((now, cpu, rss))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _py_spy(pid: int, args: argparse.Namespace, out: Path) -> subprocess.Popen:
    """Profile the server as collapsed stacks: while all calls are up (after the ramp), or
    during the ramp (``--py-spy-window ramp``: call set-up, greetings)."""
    spy = Path(PY).with_name("py-spy")
    if args.py_spy_window == "ramp":
        delay, duration = 0.0, max(1, int(args.ramp + 2))
    else:
        delay, duration = args.ramp + 2.5, max(1, int(args.seconds - args.ramp - 3))
    cmd = (
        f"sleep {delay}; exec {spy if spy.exists() else 'py-spy'} record --pid {pid} --duration {duration} "
        f"--rate 100 --format raw --nonblocking --output {out}"
    )
    return subprocess.Popen(
        ["sh", "-c", cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _samples(path: Path) -> Iterator[tuple[list[str], int]]:
    """A py-spy raw (collapsed) profile's stacks, outermost frame first, each with its sample count."""
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            yield stack.split(";"), int(count)


def top_functions(path: Path, n: int = 15) -> str:
    """The ``n`` functions with the most own time (leaf samples) in a py-spy raw (collapsed) profile."""
    own: dict[str, int] = {}
    total = 0
    for stack, count in _samples(path):
        leaf = re.sub(r":\d+\)$", ")", stack[-1])  # per function, not per line
        own[leaf] = own.get(leaf, 0) + count
        total += count
    rows = sorted(own.items(), key=lambda kv: -kv[1])[:n]
    return f"py-spy {path.name}: {total} samples, top {n} by own time\n" + "\n".join(
        f"{100 * c / total:5.1f}%  {name}" for name, c in rows
    )


#: Where a server's time goes, by the innermost frame of a sample that names one of these (first match in this order).
PROFILE_CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("VAD (Silero)", ("silero", "agent/media/vad.py", "cascade/turns.py", "vad_analyzer")),
    ("turn-end model (smart turn)", ("smart_turn",)),
    ("resampling", ("soxr", "resampl", "cascade/audio.py")),
    ("mu-law", ("mulaw", "ulaw")),
    ("HTTP client (openai, httpx)", ("/openai/", "/httpx/", "/httpcore/", "/h11/", "/anyio/", "ssl.py")),
    ("WebSocket, ASGI", ("/websockets/", "/uvicorn/", "/starlette/", "/fastapi/")),
    ("json, base64", ("json/", "base64")),
]


#: Leaves of a thread that waits (the event loop's select, an idle executor thread): not busy.
IDLE_LEAVES = ("select (selectors.py", "_worker (concurrent/futures/thread.py", "wait (threading.py")


def profile_categories(path: Path) -> str:
    """Share of a py-spy raw profile's busy samples per category (``PROFILE_CATEGORIES``; else Pipecat, our code, asyncio)."""
    counts: dict[str, int] = {}
    total = 0
    for stack, count in _samples(path):
        frames = stack[::-1]  # innermost first
        if any(key in frames[0] for key in IDLE_LEAVES):
            continue
        name = next(
            (cat for frame in frames for cat, keys in PROFILE_CATEGORIES if any(k in frame for k in keys)), None
        )
        if name is None:
            for frame in frames:
                if "pipecat/" in frame:
                    name = "Pipecat (frames, aggregation, services)"
                elif "agent/" in frame or "benchmarks/" in frame:
                    name = "our code"
                elif "asyncio/" in frame:
                    name = "asyncio"
                if name:
                    break
        name = name or "other"
        counts[name] = counts.get(name, 0) + count
        total += count
    rows = sorted(counts.items(), key=lambda kv: -kv[1])
    return f"py-spy {path.name}: {total} busy samples by category\n" + "\n".join(
        f"{100 * c / total:5.1f}%  {name}" for name, c in rows
    )


# -------------------------------------------------------------------- one cell


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def _cpu_share(samples: list[tuple[float, float, int]]) -> float | None:
    """Average CPU use over the samples, in % of one core."""
    if len(samples) < 2 or samples[-1][0] <= samples[0][0]:
        return None
    return 100 * (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0])


def measure(
    config: str, calls: int, args: argparse.Namespace, logdir: Path
) -> dict[str, Any]:
    fake = server = None
    try:
        events = logdir / f"{config}-{calls}.events.jsonl"
        fake, model_url, rest_url = _start_fake(args, config, events)
        server, base, webhook = _start_server(
            config, model_url, rest_url, args, logdir / f"{config}.log"
        )
        _loadgen(
            base, webhook, 1, args.warmup, args, logdir / "warmup.json"
        )  # lazy imports, first-call caches
        time.sleep(1.0)
        cpu0, rss_idle = proc_sample(server.pid)
        busy0 = system_busy()
        sampler = Sampler({"server": server.pid, "fake": fake.pid})
        sampler.start()
        spy = (
            _py_spy(server.pid, args, logdir / f"{config}-{calls}.pyspy")
            if args.py_spy
            else None
        )
        result = _loadgen(
            base,
            webhook,
            calls,
            args.seconds,
            args,
            logdir / f"{config}-{calls}.json",
            on_start=lambda pid: sampler.add("loadgen", pid),
        )
        sampler.stop()
        busy1 = system_busy()
        if spy is not None:
            spy.wait()
            print(top_functions(logdir / f"{config}-{calls}.pyspy"), file=sys.stderr)
            print(profile_categories(logdir / f"{config}-{calls}.pyspy"), file=sys.stderr)
        cpu1, _ = proc_sample(server.pid)
    finally:
        _stop(server)
        _stop(fake)
    recs = result["records"]
    ok = [r for r in recs if "wall_hangup" in r]
    call_min = sum(r["wall_hangup"] - r["wall_connect"] for r in ok) / 60
    all_up = max((r["wall_connect"] for r in ok), default=0.0)
    first_down = min((r["wall_hangup"] for r in ok), default=0.0)
    rss_load = [
        s[2] for s in sampler.samples["server"] if all_up <= s[0] <= first_down
    ] or [s[2] for s in sampler.samples["server"]]
    expected = (
        (args.stt_ms + args.llm_ms + args.tts_ms) / 1000  # the fake services' own delays; turn-end detection is the server's
        if _base(config) in CASCADES
        else (args.latency_ms + args.silence_ms) / 1000
    )
    turns = [t for r in recs for t in r["turns"]]
    replies = [t["reply_s"] for t in turns]
    added = [
        1000 * (t["reply_s"] - expected)
        for t in turns
        if t["reply_s"] is not None and not t["overlap"]
    ]
    judged = sum(r.get("bot_msgs_judged", 0) for r in recs)
    late = sum(r.get("bot_msgs_late", 0) for r in recs)
    frames = sum(r.get("frames_sent", 0) for r in recs)
    frames_late = sum(r.get("frames_late", 0) for r in recs)
    greet = [1000 * r["greeting_s"] for r in recs if r.get("greeting_s") is not None]
    errors = [r["error"] for r in recs if r.get("error")]
    ours_cpu = sum(s[-1][1] - s[0][1] for s in sampler.samples.values() if len(s) > 1)
    span = max(
        (s[-1][0] - s[0][0] for s in sampler.samples.values() if len(s) > 1),
        default=0.0,
    )
    others = 100 * ((busy1[0] - busy0[0]) - ours_cpu) / span if span else None
    window = lambda name: [
        s for s in sampler.samples.get(name, []) if all_up <= s[0] <= first_down
    ]
    cell = {
        "config": config,
        "calls": calls,
        "cpu_s_per_call_min": (cpu1 - cpu0) / call_min if call_min else None,
        "server_cpu_pct": _cpu_share(window("server")),
        "rss_idle_mb": rss_idle / 2**20,
        "mb_per_call": (max(rss_load) - rss_idle) / 2**20 / calls if rss_load else None,
        "added_p50": _pct(added, 0.50),
        "added_p95": _pct(added, 0.95),
        "added_p99": _pct(added, 0.99),
        "turns": len(replies),
        "no_reply": sum(1 for x in replies if x is None),
        "overlap": sum(1 for t in turns if t["overlap"]),
        "clears": sum(r.get("clears", 0) for r in recs),
        "others_cpu_pct": others,
        "greeting_p50": _pct(greet, 0.5),
        "greeting_p95": _pct(greet, 0.95),
        "bot_on_time_pct": 100 * (1 - late / judged) if judged else None,
        "lg_late_pct": 100 * frames_late / frames if frames else None,
        "lg_lateness_max_ms": 1000
        * max((r.get("frame_lateness_max", 0.0) for r in recs), default=0.0),
        "lg_loop_lag_max_ms": 1000 * result["loop_lag_max"],
        "lg_cpu_pct": _cpu_share(window("loadgen")),
        "fake_cpu_pct": _cpu_share(window("fake")),
        "errors": len(errors),
        "error_examples": errors[:3],
    }
    if _base(config) in CASCADES and calls == 1 and events.exists():  # one call: each request belongs to its turn
        cell["stages"] = stage_breakdown(recs, events)
        print(f"# {config} stages (median ms per turn): {cell['stages']}", file=sys.stderr)
    cell["rt_held"] = bool(
        not errors
        and cell["bot_on_time_pct"] is not None
        and cell["bot_on_time_pct"] >= 99.0
        and cell["lg_late_pct"] is not None
        and cell["lg_late_pct"] <= 1.0
        and cell["no_reply"] == 0
        and cell["overlap"] == 0
    )
    return cell


# -------------------------------------------------------------------- table

COLUMNS = [
    ("config", "config", "{}"),
    ("N", "calls", "{}"),
    ("CPU s/call-min", "cpu_s_per_call_min", "{:.2f}"),
    ("srv CPU %", "server_cpu_pct", "{:.0f}"),
    ("idle MB", "rss_idle_mb", "{:.0f}"),
    ("MB/call", "mb_per_call", "{:.2f}"),
    ("added p50 ms", "added_p50", "{:.0f}"),
    ("p95", "added_p95", "{:.0f}"),
    ("p99", "added_p99", "{:.0f}"),
    ("greet p50 ms", "greeting_p50", "{:.0f}"),
    ("greet p95", "greeting_p95", "{:.0f}"),
    ("bot on time %", "bot_on_time_pct", "{:.1f}"),
    ("lg late %", "lg_late_pct", "{:.2f}"),
    ("lg lateness max ms", "lg_lateness_max_ms", "{:.0f}"),
    ("lg CPU %", "lg_cpu_pct", "{:.0f}"),
    ("fake CPU %", "fake_cpu_pct", "{:.0f}"),
    ("others CPU %", "others_cpu_pct", "{:.0f}"),
    ("turns", "turns", "{}"),
    ("overlap", "overlap", "{}"),
    ("no reply", "no_reply", "{}"),
    ("clears", "clears", "{}"),
    ("errors", "errors", "{}"),
    ("RT held", "rt_held", "{}"),
]


def combine(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over runs of every numeric column; RT held only if held in every run."""
    out: dict[str, Any] = {
        "config": cells[0]["config"],
        "calls": cells[0]["calls"],
        "runs": len(cells),
    }
    for _, key, _ in COLUMNS[2:]:
        values = [c[key] for c in cells if c.get(key) is not None]
        if key == "rt_held":
            out[key] = "yes" if all(c["rt_held"] for c in cells) else "NO"
        elif key in ("turns", "no_reply", "errors", "overlap", "clears"):
            out[key] = sum(values)
        else:
            out[key] = statistics.median(values) if values else None
    return out


def table(rows: list[dict[str, Any]]) -> str:
    head = [c[0] for c in COLUMNS]
    body = [
        [("-" if r.get(k) is None else f.format(r[k])) for _, k, f in COLUMNS]
        for r in rows
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(b) + " |" for b in body]
    return "\n".join(lines)


def revision() -> str:
    """The commit the servers ran, and whether the work tree had changes (they run from it)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "status",
                "--porcelain",
                "--",
                "agent",
                "pipelines",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision"
    return head.stdout.strip() + (
        " + uncommitted changes in agent/ or pipelines/" if dirty.stdout.strip() else ""
    )


def machine() -> str:
    with open("/proc/cpuinfo") as f:
        model = next(
            (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
            "?",
        )
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description="Load benchmark of the bot server (see benchmarks/README.md)."
    )
    p.add_argument(
        "--calls",
        default="5,10,25,50,100",
        help="comma-separated concurrent call counts",
    )
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seconds", type=float, default=20.0, help="length of each call")
    p.add_argument(
        "--configs",
        default="relay,plain,ours",
        help=f"comma-separated, of {', '.join(CONFIGS)}; ours-cascade@MS sets the cascade's turn_end_ms",
    )
    p.add_argument(
        "--flow",
        default=str(ROOT / "examples/flows/hotline.yaml"),
        help="flow of the 'ours' server (a copy whose support hours are 24/7 is served)",
    )
    p.add_argument(
        "--latency-ms",
        type=int,
        default=300,
        help="the fake model answers this long after end of turn",
    )
    p.add_argument(
        "--silence-ms",
        type=int,
        default=500,
        help="server VAD silence that ends a turn",
    )
    p.add_argument("--stt-ms", type=int, default=100, help="cascade fakes: transcription answered this long after the request")
    p.add_argument("--llm-ms", type=int, default=100, help="cascade fakes: first chat chunk this long after the request")
    p.add_argument("--tts-ms", type=int, default=100, help="cascade fakes: first speech bytes this long after the request")
    p.add_argument("--ms-per-token", type=int, default=0, help="cascade fakes: between the chat stream's words")
    p.add_argument(
        "--reply-ms", type=int, default=1500, help="audio length of each fake answer"
    )
    p.add_argument(
        "--greeting-ms",
        type=int,
        default=2000,
        help="audio length of the fake greeting",
    )
    p.add_argument(
        "--speech-ms", type=int, default=1500, help="length of each caller turn"
    )
    p.add_argument(
        "--pause-ms",
        type=int,
        default=400,
        help="caller's pause after the bot finished",
    )
    p.add_argument(
        "--hesitate-ms",
        type=int,
        default=0,
        help="a pause this long inside each caller turn, after 40%% of it (0: none)",
    )
    p.add_argument(
        "--quiet-ms",
        type=int,
        default=500,
        help="caller speaks after this much bot silence",
    )
    p.add_argument(
        "--ramp",
        type=float,
        default=2.0,
        help="spread call starts over this many seconds",
    )
    p.add_argument(
        "--warmup",
        type=float,
        default=4.0,
        help="length of the one warm-up call before measuring",
    )
    p.add_argument(
        "--py-spy",
        action="store_true",
        help="profile each server under load with py-spy (top functions to stderr)",
    )
    p.add_argument(
        "--py-spy-window",
        choices=("steady", "ramp"),
        default="steady",
        help="what --py-spy profiles: all calls up (steady) or the calls starting (ramp)",
    )
    p.add_argument("--json", help="also write every cell (all runs) here")
    p.add_argument(
        "--logs",
        help="directory for server logs and raw loadgen output (default: a temp dir)",
    )
    p.add_argument(
        "--table-from",
        metavar="JSON",
        help="only print the table of a previous --json file (medians over its runs)",
    )
    args = p.parse_args(argv)
    if args.table_from:
        saved = json.loads(Path(args.table_from).read_text())
        grouped: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for cell in saved["cells"]:
            grouped.setdefault((cell["config"], cell["calls"]), []).append(cell)
        print(table([combine(v) for v in grouped.values()]))
        return
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    counts = [int(n) for n in args.calls.split(",")]
    for c in configs:
        if c not in CONFIGS and not (_base(c) == "ours-cascade" and c.split("@", 1)[1].isdigit()):
            p.error(f"unknown configuration {c!r}; choose from {', '.join(CONFIGS)}")
    logdir = Path(args.logs or tempfile.mkdtemp(prefix="voice-bench-"))
    logdir.mkdir(parents=True, exist_ok=True)
    args.flow = str(around_the_clock(Path(args.flow).resolve(), logdir))  # the AI node answers at any hour
    print(f"# {machine()}; code {revision()}; logs in {logdir}", file=sys.stderr)
    cells: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for run in range(args.runs):  # configurations interleaved at each N: the shared machine's noise hits them alike
        for n in counts:
            for config in configs:
                t0 = time.time()
                try:
                    cell = measure(config, n, args, logdir)
                except Exception as exc:  # noqa: BLE001 - one broken cell must not lose the others
                    print(
                        f"# run {run + 1} {config} N={n}: FAILED {exc}", file=sys.stderr
                    )
                    continue
                cells.setdefault((config, n), []).append(cell)
                print(
                    f"# run {run + 1} {config} N={n}: {time.time() - t0:.0f} s, "
                    f"added p50 {cell['added_p50']}, cpu/call-min {cell['cpu_s_per_call_min']}, errors {cell['errors']}"
                    + (f" e.g. {cell['error_examples'][0]}" if cell["errors"] else ""),
                    file=sys.stderr,
                )
    rows = [combine(cells[(c, n)]) for c in configs for n in counts if (c, n) in cells]
    print(
        f"Machine: {machine()}. Code: {revision()}. {args.runs} run(s), {args.seconds:g} s calls, medians over runs; "
        f"fake model: {args.silence_ms} ms VAD silence + {args.latency_ms} ms answer latency"
        + (f"; cascade fakes: STT {args.stt_ms} + LLM {args.llm_ms} + TTS {args.tts_ms} ms" if {_base(c) for c in configs} & set(CASCADES) else "")
        + "."
    )
    print(table(rows))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"args": vars(args), "cells": [c for v in cells.values() for c in v]},
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
