"""What the studio's tests share: a copy of the example hotline to edit, and the studio served from a thread."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import uvicorn

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HOTLINE = EXAMPLES / "flows" / "hotline.yaml"
CALLERS = EXAMPLES / "callers"


def hotline_copy(directory: Path) -> Path:
    """The example hotline copied to ``directory/flows`` with its facts beside it (its `../facts/acme.yaml` resolves)."""
    (directory / "flows").mkdir(parents=True, exist_ok=True)
    shutil.copytree(EXAMPLES / "facts", directory / "facts", dirs_exist_ok=True)
    copy = directory / "flows" / "hotline.yaml"
    shutil.copy(HOTLINE, copy)
    return copy


class ServedStudio:
    """``create_studio_app`` on 127.0.0.1 and a free port, in a thread; ``url`` is the page."""

    def __init__(self, app) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> ServedStudio:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
