"""One headless Chromium for the browser tests (Debian's `chromium`, driven by Playwright for Python).

Browser downloads are not available, so Playwright launches the system
browser by its path (never `playwright install`). Without it (or without
the `playwright` package) these tests are skipped, unless
VOICE_AGENT_BROWSER_TESTS=required (set by .ci/run, which installs both),
where they fail instead. Screenshots of every step go to
tests/browser/artifacts/<test name>/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("VOICE_AGENT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"


def _unavailable() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="module")
def browser():
    """One browser for the module's tests; closed at its end, since Playwright's sync API holds an event loop in
    this thread while it runs (the rest of the suite calls asyncio.run)."""
    why = _unavailable()
    if why:
        if os.environ.get("VOICE_AGENT_BROWSER_TESTS") == "required":
            pytest.fail(f"browser tests required but {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def shots(request: pytest.FixtureRequest):
    """``shots(page, "name")`` saves a numbered screenshot of the step under artifacts/<test>/."""
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    count = iter(range(1, 100))

    def shot(page, name: str) -> Path:
        path = folder / f"{next(count):02d}-{name}.png"
        page.screenshot(path=str(path))
        return path

    return shot
