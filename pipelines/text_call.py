"""The text-call pipeline: an AI node answered by a text engine, as a real Pipecat pipeline.

    caller lines -> TranscriptionFrame -> TextEngineProcessor -> TextFrame -> TranscriptCollector

Used by ``voice-agent simulate``, ``test`` and ``chat``; the same engine and
tools later answer live calls through Twilio's speech recognition.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from types import TracebackType

from pipecat.frames.frames import EndFrame, TranscriptionFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.workers.runner import WorkerRunner

from agent.core.call import Call
from agent.conversation.engines import DialogueEngine
from agent.media.frames import CallerSilenceFrame
from agent.media.processors.text_engine import TextEngineProcessor
from agent.media.processors.transcript import TranscriptCollector

RESPONSE_TIMEOUT_S = 10.0


class TextCall:
    """One AI node's conversation on text: ``async with TextCall(...) as conv: await conv.say(line)``."""

    def __init__(self, engine: DialogueEngine, call: Call) -> None:
        self.engine = engine
        self.collector = TranscriptCollector(call)
        self._failed: asyncio.Future[Exception] | None = None
        self.worker = PipelineWorker(
            Pipeline([TextEngineProcessor(engine, on_error=self._engine_failed), self.collector]),
            enable_rtvi=False,
            enable_turn_tracking=False,
            idle_timeout_secs=None,
            check_dangling_tasks=False,
        )
        self._runner = WorkerRunner(handle_sigint=False)
        self._task: asyncio.Task[None] | None = None
        self.greeting: list[str] = []

    async def __aenter__(self) -> TextCall:
        self._failed = asyncio.get_running_loop().create_future()
        connect = getattr(self.engine, "connect", None)
        if connect is not None:
            await connect()  # a model that cannot be reached fails here, before any pipeline runs
        await self._runner.add_workers(self.worker)
        self._task = asyncio.create_task(self._runner.run())
        try:
            self.greeting = await self._next_response()
        except BaseException as exc:  # `async with` does not call __aexit__ when __aenter__ raises: stop the pipeline here
            await self.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def say(self, text: str) -> list[str]:
        """Send one caller turn (empty = silence) and return what the agent answered."""
        if text.strip():
            now = datetime.now(timezone.utc).isoformat()
            await self.worker.queue_frame(TranscriptionFrame(text=text, user_id="caller", timestamp=now))
        else:
            await self.worker.queue_frame(CallerSilenceFrame())
        return await self._next_response()

    def _engine_failed(self, exc: Exception) -> None:
        if self._failed is not None and not self._failed.done():
            self._failed.set_result(exc)

    async def _next_response(self) -> list[str]:
        """The agent's next answer; the engine's own error if it failed instead (never a silent wait)."""
        assert self._failed is not None
        answer = asyncio.ensure_future(self.collector.responses.get())
        try:
            done, _ = await asyncio.wait({answer, self._failed}, timeout=RESPONSE_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not answer.done():
                answer.cancel()
        if answer in done:
            return answer.result()
        if self._failed.done():
            raise self._failed.result()
        raise TimeoutError(f"the dialogue engine did not answer within {RESPONSE_TIMEOUT_S:.0f} s")

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._task is None:
            return
        if exc is None:
            await self.worker.queue_frame(EndFrame())
        else:
            await self.worker.cancel()
        await asyncio.wait_for(self._task, RESPONSE_TIMEOUT_S)
