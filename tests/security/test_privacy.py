"""Caller data stays out of logs and files: full calls with distinctive values, then everything is scanned.

Three calls run with the production log set-up (``setup_logging`` at DEBUG,
PII redaction on, as ``voice-agent serve`` does with ``log_pii`` off): a
simulated call, a gather-mode call through the real webhooks, and a realtime
call over real sockets (fake Twilio media stream, fake OpenAI Realtime). Then
all log output (loguru, the stdlib ``logging`` records, whatever reached
stdout/stderr) and every file modified during the test under the temp
directory and the repository (``.git`` left out) is searched for the
caller's name, number, e-mail and incident words.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from loguru import logger

from agent.core.logs import forget_pii, remember_pii, setup_logging
from agent.testing.fake_realtime import FakeModel, Say, ToolCall
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.live import Harness, run_live_call, speak
from agent.testing.twiml_interpreter import Spoken
from tests.conftest import HOTLINE
from tests.helpers import simulate

REPO = Path(__file__).resolve().parents[2]
NAME = "Zebulon Quartermaine"
NUMBER = "+4915199887766"
EMAIL = "zebulon.quartermaine@initech-privacy.example"
INCIDENT = "the flux capacitor cluster melted and the hoverboard queue is stuck"
CUSTOMER_ID = "AC-739146"
NEEDLES = ["Zebulon", "Quartermaine", "zebulon", "quartermaine", "initech-privacy", "flux capacitor", "hoverboard", "739146"]
NUMBER_DIGITS = "15199887766"  # the number without country code, in any spacing
SPOKEN_EMAIL = "zebulon dot quartermaine at initech-privacy dot example"


def found_in(text: str) -> list[str]:
    hits = [n for n in NEEDLES if n in text]
    if NUMBER_DIGITS in re.sub(r"[\s().\-/]", "", text):
        hits.append("number")
    return hits


def changed_files(root: Path, since: float, skip: tuple[Path, ...] = ()) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if d != ".git" and not (Path(dirpath) / d).is_symlink()]
        for name in filenames:
            path = Path(dirpath) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            if st.st_mtime >= since and path.is_file() and not path.is_symlink() and path not in skip:
                out.append(path)
    return out


def scan_file(path: Path) -> list[str]:
    hits = found_in(str(path))
    try:
        with path.open("rb") as f:
            data = f.read(20_000_000)
    except OSError:
        return hits
    return hits + found_in(data.decode("utf-8", "replace")) + found_in(data.decode("utf-16-le", "replace"))


def realtime_call() -> None:
    model = FakeModel([
        Say("Hello, I'm ACME's on-call assistant. What's going on?"),
        ToolCall("record_details", {"incident": INCIDENT, "caller_name": NAME, "email": EMAIL, "contact_number": NUMBER,
                                    "affected_services": ["Login"], "customer_id": CUSTOMER_ID}),
        Say(f"Thanks {NAME}. I have {EMAIL} and {NUMBER}. Is that right?"),
        ToolCall("route_call", {"intent": "system_outage", "summary": f"{NAME}: {INCIDENT}"}),
        Say("I'm connecting you now."),
    ])

    async def caller(call: FakeTwilioCall, harness: Harness) -> None:
        await call.wait_for_audio(ms=300, timeout=10)
        await call.wait_until_quiet(ms=300, timeout=10)
        await speak(call, harness.fake_model, f"Hi, {NAME} here, {INCIDENT}, mail me at {EMAIL}", ms=400)
        await call.wait_for_audio(ms=300, timeout=10, new=True)
        await call.wait_until_quiet(ms=300, timeout=10)
        await speak(call, harness.fake_model, "yes that's right", ms=400)

    record, _, _ = asyncio.run(run_live_call(model, caller, flow=HOTLINE, from_number=NUMBER))
    assert record.dialled == ["+4930901820"], "the realtime call went through"
    assert any(NAME in w for w in record.whispers), "the engineer still hears who called: only logs are redacted"


def test_no_caller_data_in_logs_or_files_after_full_calls(gather_call, capfd):
    started = time.time() - 1
    buffer = io.StringIO()
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    # stdlib logging at INFO, as uvicorn runs in production (its DEBUG frame tracing of the model's
    # socket is off unless an operator turns it on, and then carries the conversation by design)
    stdlib = Collect(level=logging.INFO)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(stdlib)
    root.setLevel(logging.INFO)
    real_stderr, sys.stderr = sys.stderr, buffer
    try:
        setup_logging("DEBUG")  # what `voice-agent serve` sets up, at its most talkative
    finally:
        sys.stderr = real_stderr
    try:
        _, outcome = simulate(HOTLINE, [
            f"Hi, this is {NAME}. {INCIDENT}, the login page is down.", "yes", SPOKEN_EMAIL, "yes", "AC 739146",
        ], caller_number=NUMBER)
        assert outcome.fields.get("caller_name") == NAME, outcome.fields
        record = gather_call(HOTLINE, [
            f"Hi, this is {NAME}. {INCIDENT}, the login page is down.", "yes", SPOKEN_EMAIL, "yes", Spoken(digits="739146"),
        ], from_number=NUMBER)
        assert record.dialled, "the gather-mode call went through"
        realtime_call()
        logger.complete()
    finally:
        setup_logging("WARNING")
        root.removeHandler(stdlib)
        root.setLevel(old_level)
        forget_pii(NAME, EMAIL, NUMBER, INCIDENT)
    out, err = capfd.readouterr()
    logged = buffer.getvalue()
    assert "caller: [" in logged and "characters said]" in logged and " outcome end_reason=" in logged, "the calls were logged (masked)"
    problems = {"loguru": found_in(logged), "logging": found_in("\n".join(records)), "stdout/stderr": found_in(out + err)}
    me = Path(__file__).resolve()
    skip = (me, *me.parent.joinpath("__pycache__").glob(me.stem + ".*"))
    for root_dir in {Path(tempfile.gettempdir()).resolve(), REPO}:
        for path in changed_files(root_dir, started, skip):
            hits = scan_file(path)
            if hits:
                problems[str(path)] = hits
    problems = {k: v for k, v in problems.items() if v}
    assert problems == {}, "caller data found in: " + ", ".join(f"{k} {sorted(set(v))}" for k, v in problems.items())


def test_log_pii_keeps_them_when_configured(capsys):
    setup_logging("INFO", keep_pii=True)
    logger.info("callback {} from {}", NUMBER, NAME)
    setup_logging("WARNING")
    assert NUMBER in capsys.readouterr().err


def test_an_exception_trace_does_not_leak_local_caller_values(capsys):
    """loguru's ``diagnose`` prints local variables in tracebacks: caller data there must be masked too."""
    setup_logging("INFO")

    def fails(caller_number: str, email: str) -> None:
        raise RuntimeError(f"could not reach {caller_number}")

    try:
        try:
            fails(NUMBER, EMAIL)
        except RuntimeError:
            logger.exception("a call failed")
    finally:
        setup_logging("WARNING")
    err = capsys.readouterr().err
    assert "a call failed" in err and "RuntimeError" in err
    assert found_in(err) == [], err


def test_remembered_caller_values_are_bounded():
    """A server that runs for months must not keep every caller's name in memory."""
    from agent.core import logs

    names = [f"Caller Number{i:06d}" for i in range(logs.MAX_REMEMBERED + 100)]
    remember_pii(*names)
    try:
        assert len(logs._known_pii) <= logs.MAX_REMEMBERED
        assert names[-1] in logs._known_pii and names[0] not in logs._known_pii
    finally:
        forget_pii(*names)
