"""``create_app()``: the whole bot server as a FastAPI app (``voice-agent serve`` runs it)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agent.flow.loader import load_flow
from agent.live.runner import LiveFlow
from agent.live.tokens import TokenCodec
from agent.plugins import Registry, default_registry
from agent.server.metrics import Metrics
from agent.server.router import MediaHandler, make_router
from agent.server.security import SignatureCheck
from agent.settings import Settings


def token_codec(settings: Settings) -> TokenCodec:
    secrets = []
    if settings.token_secret:
        secrets.append(settings.token_secret.get_secret_value())
    if settings.twilio_auth_token:
        secrets.append(settings.twilio_auth_token.get_secret_value())
    return TokenCodec(secrets, settings.token_ttl_s)


def build_live_flow(settings: Settings, registry: Registry, public_url: str, *, realtime: bool) -> LiveFlow:
    path = Path(settings.flow)
    return LiveFlow(
        flow=load_flow(path, registry), registry=registry, settings=settings, base_dir=path.resolve().parent,
        codec=token_codec(settings), public_url=public_url.rstrip("/"), realtime=realtime,
    )


def create_app(settings: Settings | None = None, registry: Registry | None = None, media: MediaHandler | None = None) -> FastAPI:
    """The bot server for ``settings.flow``; pass ``media`` to replace the realtime pipeline (tests)."""
    settings = settings or Settings()
    registry = registry or default_registry()
    if not settings.public_base_url:
        raise ValueError("set VOICE_AGENT_PUBLIC_BASE_URL to the https URL Twilio reaches this server at")
    metrics = Metrics()
    if media is None and settings.use_openai():
        from agent.live.twilio_rest import TwilioRest
        from pipelines.twilio_realtime import media_handler

        media = media_handler(TwilioRest(settings), metrics)
    live = build_live_flow(settings, registry, settings.public_base_url, realtime=media is not None)
    app = FastAPI(title="oncall-voice-agent", docs_url=None, redoc_url=None)
    app.state.live = live
    app.state.metrics = metrics
    app.include_router(make_router(live, SignatureCheck(settings), metrics, media))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "flow": live.flow.name}

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
