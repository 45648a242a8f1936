import asyncio
from pathlib import Path

import pytest

from agent.logs import setup_logging

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HOTLINE = EXAMPLES / "flows" / "hotline.yaml"

setup_logging("WARNING")


@pytest.fixture
def run():
    """Run a coroutine to completion (pytest-asyncio is not used here)."""
    return asyncio.run
