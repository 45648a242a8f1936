import asyncio
from datetime import datetime, timezone
from pathlib import Path

import pytest
from loguru import logger

from agent.core.logs import setup_logging

# The vendors' published contracts, checked in every test: the `vendor` fixture for HTTP mocks (a violation a
# plugin swallows still fails the test), every TwiML document and form the fake Twilio sees, every Twilio REST
# request, and every OpenAI Realtime event the fake model sends or our client sends.
pytest_plugins = ["tests.contracts.plugin", "tests.contracts.twiml", "tests.contracts.twilio.rest", "tests.contracts.openai_realtime"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HOTLINE = EXAMPLES / "flows" / "hotline.yaml"
# The example hotline answers weekdays 08:00-18:00 Berlin time. Tests that do not test the clock run at this
# time (a Wednesday morning), so the suite passes at night and on weekends too.
SUPPORT_HOURS_NOW = "2026-11-25T10:00:00+01:00"

setup_logging("WARNING")


@pytest.fixture(autouse=True)
def _fresh_state(voice_agent_fresh_state):
    """Every test here drives the package: each starts with an empty fact cache and problem reports.

    (The pytest plugin's own fixture, autouse only in this suite; projects that install the package are not taxed.)
    """
    yield


@pytest.fixture(autouse=True)
def _inside_support_hours(monkeypatch):
    """The clock live calls read, and a simulation given no time (``call_module.utc_now``), reads SUPPORT_HOURS_NOW.

    A test of the clock itself passes ``at`` or monkeypatches ``call_module.utc_now`` again; a server in a
    subprocess does not see this: give it :func:`around_the_clock_hotline`.
    """
    from agent.core import call as call_module

    pinned = datetime.fromisoformat(SUPPORT_HOURS_NOW).astimezone(timezone.utc)
    monkeypatch.setattr(call_module, "utc_now", lambda: pinned)


def around_the_clock_hotline(directory: Path) -> Path:
    """A copy of the example hotline in ``directory`` that answers 24/7: for a server in a subprocess (real clock)."""
    text = HOTLINE.read_text()
    hours = text[text.index("    hours:\n      - days:"):text.index("    during: agent")]
    text = text.replace(hours, "    hours:\n      - days: [mon, tue, wed, thu, fri, sat, sun]\n        start: \"00:00\"\n        end: \"24:00\"\n")
    text = text.replace("path: ../facts/", f"path: {EXAMPLES / 'facts'}/")
    copy = directory / "hotline_24_7.yaml"
    copy.write_text(text)
    return copy


@pytest.fixture
def anyio_backend() -> str:
    """The ``@pytest.mark.anyio`` tests run on asyncio only (Pipecat's loop), not on every backend anyio finds."""
    return "asyncio"


@pytest.fixture
def run():
    """Run a coroutine to completion (pytest-asyncio is not used here)."""
    return asyncio.run


@pytest.fixture
def caplog_loguru():
    """Every message logged during the test (loguru), as a list of formatted lines."""
    lines: list[str] = []
    handler = logger.add(lambda message: lines.append(str(message)), level="DEBUG", format="{level} {name}: {message}")
    yield lines
    logger.remove(handler)
