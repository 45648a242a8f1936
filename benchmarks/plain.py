"""``plain``: a stock Pipecat 1.14 Twilio bot with Pipecat's own OpenAI Realtime service, none of our processors.

    python -m benchmarks.plain --port 8082 --model-url ws://127.0.0.1:PORT/v1/realtime [--silero]

FastAPIWebsocketTransport + TwilioFrameSerializer (8 kHz pipeline) +
``OpenAIRealtimeLLMService`` (PCM16 24 kHz to and from the model, resampled
by Pipecat; server VAD 500 ms) + the context aggregator pair, the greeting
started with an ``LLMRunFrame`` — what Pipecat's Twilio examples do.
``--silero`` adds a local Silero VAD in the user aggregator (``plain+silero``).
"""

from __future__ import annotations

import argparse
import sys

import uvicorn
from fastapi import FastAPI, WebSocket
from pipecat.frames.frames import LLMRunFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
)
from pipecat.runner.utils import parse_telephony_websocket
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.services.openai.realtime import events
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from pipecat.workers.runner import WorkerRunner

from benchmarks.common import MEDIA_PATH


async def run_stock_bot(transport: FastAPIWebsocketTransport, pipeline: Pipeline) -> None:
    """Run one call's pipeline the way Pipecat's Twilio examples do: 8 kHz, the LLM run when the client connects."""
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000),
        enable_rtvi=False,
        idle_timeout_secs=None,
    )

    @transport.event_handler("on_client_connected")
    async def _connected(transport, client) -> None:
        await worker.queue_frames([LLMRunFrame()])

    @transport.event_handler("on_client_disconnected")
    async def _gone(transport, client) -> None:
        await worker.cancel()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()


def serve_stock_bot(app: FastAPI, port: int) -> None:
    """Serve a stock bot's app on 127.0.0.1, logging at INFO as our server does (Pipecat logs DEBUG by default)."""
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="INFO")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def create_app(model_url: str, silence_ms: int = 500, silero: bool = False) -> FastAPI:
    app = FastAPI()
    if silero:
        from pipecat.audio.vad.silero import SileroVADAnalyzer
        from pipecat.processors.aggregators.llm_response_universal import (
            LLMUserAggregatorParams,
        )

    @app.websocket(MEDIA_PATH)
    async def media(ws: WebSocket) -> None:
        await ws.accept()
        _, call = await parse_telephony_websocket(ws)
        serializer = TwilioFrameSerializer(
            call["stream_id"],
            call["call_id"],
            params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
        )
        transport = FastAPIWebsocketTransport(
            ws,
            FastAPIWebsocketParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                add_wav_header=False,
                serializer=serializer,
            ),
        )
        llm = OpenAIRealtimeLLMService(
            api_key="sk-test",
            base_url=model_url,
            settings=OpenAIRealtimeLLMService.Settings(
                system_instruction="You answer an on-call hotline.",
                session_properties=events.SessionProperties(
                    audio=events.AudioConfiguration(
                        input=events.AudioInput(
                            turn_detection=events.TurnDetection(
                                silence_duration_ms=silence_ms
                            )
                        ),
                        output=events.AudioOutput(voice="marin"),
                    )
                ),
            ),
        )
        context = LLMContext([{"role": "user", "content": "Greet the caller."}])
        if silero:
            pair = LLMContextAggregatorPair(
                context,
                user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer()),
            )
        else:
            pair = LLMContextAggregatorPair(context)
        await run_stock_bot(transport, Pipeline([transport.input(), pair.user(), llm, transport.output(), pair.assistant()]))

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--model-url", required=True)
    p.add_argument("--silence-ms", type=int, default=500)
    p.add_argument("--silero", action="store_true")
    a = p.parse_args()
    serve_stock_bot(create_app(a.model_url, a.silence_ms, a.silero), a.port)
