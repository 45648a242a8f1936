"""The lifecycle every local WebSocket fake shares: a server on 127.0.0.1 at a free port, started and stopped as a context manager."""

from __future__ import annotations

from typing import Any, Generic, Self, TypeVar

from websockets.asyncio.server import Server, serve

S = TypeVar("S")


class LocalWebSocketServer(Generic[S]):
    """Serves ``_handle`` (with ``_process_request`` for the handshake) on 127.0.0.1; ``sessions`` holds one ``S`` per client.

    Subclasses call ``super().__init__()`` and implement ``_handle`` and ``_process_request``.
    """

    #: The URL path clients connect to (after ``ws://127.0.0.1:<port>``).
    path: str = ""

    def __init__(self) -> None:
        self.sessions: list[S] = []
        self.port: int | None = None
        self._server: Server | None = None

    async def _handle(self, connection: Any) -> None:
        raise NotImplementedError

    def _process_request(self, connection: Any, request: Any) -> Any:
        return None

    async def start(self) -> Self:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._process_request, max_size=16 * 2**20, compression=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def root(self) -> str:
        """``http://127.0.0.1:<port>``: the server's origin."""
        if self.port is None:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The WebSocket URL clients connect to."""
        return self.root.replace("http://", "ws://", 1) + self.path

    @property
    def session(self) -> S:
        """The latest session (raises if nobody connected)."""
        if not self.sessions:
            raise LookupError("no client has connected")
        return self.sessions[-1]
