import asyncio
from pathlib import Path

import pytest
from loguru import logger

from agent.logs import setup_logging

# The vendors' published contracts, checked in every test: the `vendor` fixture for HTTP mocks (a violation a
# plugin swallows still fails the test), every TwiML document and form the fake Twilio sees, every Twilio REST
# request, and every OpenAI Realtime event the fake model sends or our client sends.
pytest_plugins = ["tests.contracts.plugin", "tests.contracts.twiml", "tests.contracts.twilio.rest", "tests.contracts.openai_realtime"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HOTLINE = EXAMPLES / "flows" / "hotline.yaml"

setup_logging("WARNING")


@pytest.fixture(autouse=True)
def _fresh_state(voice_agent_fresh_state):
    """Every test here drives the package: each starts with an empty fact cache and problem reports.

    (The pytest plugin's own fixture, autouse only in this suite; projects that install the package are not taxed.)
    """
    yield


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
