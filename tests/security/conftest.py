import pytest
from loguru import logger


@pytest.fixture
def caplog_loguru():
    """Every message logged during the test (loguru), as a list of formatted lines."""
    lines: list[str] = []
    handler = logger.add(lambda message: lines.append(str(message)), level="DEBUG", format="{level} {name}: {message}")
    yield lines
    logger.remove(handler)
