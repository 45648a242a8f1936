"""`voice-agent studio`: a new user starts it, opens the URL it prints, and gets the page; a bad path is refused."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from agent.cli.main import app
from tests.browser.support import hotline_copy

COMMAND = [sys.executable, "-c", "from agent.cli.main import main; main()", "studio"]


def test_the_studio_prints_a_local_url_that_serves_the_page(tmp_path: Path) -> None:
    flow = hotline_copy(tmp_path)
    process = subprocess.Popen([*COMMAND, str(flow), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        match = re.search(r"open (http://127\.0\.0\.1:\d+/)", line)
        assert match, line + process.stderr.read() if process.poll() is not None else line
        assert str(flow) in line
        url = match.group(1)
        deadline = time.monotonic() + 20
        while True:
            try:
                page = httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the studio never answered"
                time.sleep(0.1)
        assert page.status_code == 200
        assert "<title>hotline.yaml — voice-agent studio</title>" in page.text
        state = httpx.get(url + "api/flow", timeout=10).json()
        assert state["file"] == "hotline.yaml" and state["valid"]
        assert httpx.post(url + "api/check", json={"data": state["data"]}, timeout=10).status_code == 403  # no token
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_missing_flow_file_is_refused_with_a_fix(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["studio", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"{tmp_path / 'nope.yaml'}: file not found. Fix: give the path of a flow YAML file"
