"""Mount the voice agent in a FastAPI app you already run.

    VOICE_AGENT_PUBLIC_BASE_URL=https://bots.example.com \\
    VOICE_AGENT_TWILIO_AUTH_TOKEN=... VOICE_AGENT_TWILIO_ACCOUNT_SID=AC... \\
    VOICE_AGENT_FLOW=examples/flows/hotline.yaml \\
    uvicorn --factory examples.embed_fastapi.app:build_app --port 8080

Point the Twilio number's voice webhook at
``https://bots.example.com/hotline/twilio/voice``. Everything the agent needs
lives under the prefix; your own routes stay as they are.
"""

import contextlib

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agent.server.app import voice_agent_router
from agent.core.settings import Settings


def build_app(settings: Settings | None = None) -> FastAPI:
    voice = None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if voice is not None:
            await voice.live.drain()  # after-call work (recording transcriptions) gets a moment to finish

    app = FastAPI(title="Our bot server", lifespan=lifespan)

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"service": "our bots"}

    # VOICE_AGENT_PUBLIC_BASE_URL stays the bare origin: the URLs the agent gives Twilio follow the prefix.
    voice = voice_agent_router(settings or Settings())
    app.include_router(voice, prefix="/hotline")

    @app.get("/hotline/metrics")
    async def voice_metrics() -> Response:
        return Response(generate_latest(voice.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
