import asyncio
from pathlib import Path

import pytest
from loguru import logger

from agent.logs import setup_logging

# The vendors' published contracts: the `vendor` fixture, and swallowed contract violations fail tests.
pytest_plugins = ["tests.contracts.plugin"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HOTLINE = EXAMPLES / "flows" / "hotline.yaml"

setup_logging("WARNING")


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
