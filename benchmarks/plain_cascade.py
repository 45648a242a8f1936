"""``plain-cascade``: a stock Pipecat 1.14 Twilio bot built as Pipecat's examples build a cascade, none of our processors.

    python -m benchmarks.plain_cascade --port 8083 --base-url http://127.0.0.1:PORT/v1

FastAPIWebsocketTransport + TwilioFrameSerializer (8 kHz pipeline) ->
``OpenAISTTService`` -> the user aggregator of an ``LLMContextAggregatorPair``
(``SileroVADAnalyzer`` in it; Pipecat 1.14's default turn stop strategy,
``LocalSmartTurnAnalyzerV3`` after the VAD's 0.2 s) -> ``OpenAILLMService``
-> ``OpenAITTSService`` -> transport out -> the assistant aggregator, every
service at Pipecat's defaults with the fake's base URL. The one setting
that is not a default: the TTS's ``sample_rate=24000``, since OpenAI's
``/audio/speech`` ``pcm`` is 24 kHz and the service labels its audio with the
pipeline's 8 kHz otherwise (Pipecat warns so at start). The greeting is an
``LLMRunFrame`` on connect, as in Pipecat's Twilio examples.
"""

from __future__ import annotations

import argparse

from fastapi import FastAPI, WebSocket
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.runner.utils import parse_telephony_websocket
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.stt import OpenAISTTService
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)

from benchmarks.common import MEDIA_PATH
from benchmarks.plain import run_stock_bot, serve_stock_bot

OPENAI_TTS_RATE = 24000  # /audio/speech response_format=pcm (platform.openai.com/docs/guides/text-to-speech)


def create_app(base_url: str) -> FastAPI:
    app = FastAPI()

    @app.websocket(MEDIA_PATH)
    async def media(ws: WebSocket) -> None:
        await ws.accept()
        _, call = await parse_telephony_websocket(ws)
        serializer = TwilioFrameSerializer(
            call["stream_id"], call["call_id"], params=TwilioFrameSerializer.InputParams(auto_hang_up=False)
        )
        transport = FastAPIWebsocketTransport(
            ws,
            FastAPIWebsocketParams(
                audio_in_enabled=True, audio_out_enabled=True, add_wav_header=False, serializer=serializer
            ),
        )
        stt = OpenAISTTService(api_key="sk-test", base_url=base_url)
        llm = OpenAILLMService(
            api_key="sk-test",
            base_url=base_url,
            settings=OpenAILLMService.Settings(system_instruction="You answer an on-call hotline."),
        )
        tts = OpenAITTSService(api_key="sk-test", base_url=base_url, sample_rate=OPENAI_TTS_RATE)
        context = LLMContext([{"role": "user", "content": "Greet the caller."}])
        pair = LLMContextAggregatorPair(context, user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer()))
        await run_stock_bot(transport, Pipeline([transport.input(), stt, pair.user(), llm, tts, transport.output(), pair.assistant()]))

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--base-url", required=True, help="the OpenAI-compatible services (benchmarks.fake_cascade)")
    a = p.parse_args()
    serve_stock_bot(create_app(a.base_url), a.port)
