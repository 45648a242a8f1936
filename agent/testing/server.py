"""Run the real bot server on a loopback port inside a test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI


class _TestServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # leave SIGINT/SIGTERM to the test runner, so a stuck test can still be stopped


@asynccontextmanager
async def running_server(make_app: Callable[[str], FastAPI]) -> AsyncIterator[tuple[str, FastAPI]]:
    """Serve ``make_app(base_url)`` on 127.0.0.1 for the block; yields ``(base_url, app)``.

    The port is bound first, so the app can know its own public URL (Twilio
    signs requests over it).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = make_app(base)
    server = _TestServer(uvicorn.Config(app, log_level="warning", lifespan="off", ws="websockets-sansio"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield base, app
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()
