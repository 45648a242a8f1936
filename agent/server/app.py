"""``create_app()``: the whole bot server as a FastAPI app (``voice-agent serve`` runs it)."""

from __future__ import annotations

import contextlib
import functools
import gc
from pathlib import Path

from fastapi import APIRouter, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agent.flow.loader import load_flow
from agent.flow.models import Flow
from agent.live.runner import LiveFlow
from agent.live.tokens import TokenCodec
from agent.live.twilio_rest import TwilioRest
from agent.core.registry import Registry, default_registry
from agent.core.alert_ledger import ALERT_LEDGER
from agent.core.http_client import close_pools
from agent.server.guards import Guards
from agent.server.metrics import Metrics
from agent.server.router import MediaHandler, make_router
from agent.server.security import SignatureCheck
from agent.core.settings import Settings
from agent.core.shared_state import SharedState, open_state


def token_codec(settings: Settings) -> TokenCodec:
    secrets = []
    if settings.token_secret:
        secrets.append(settings.token_secret.get_secret_value())
    if settings.twilio_auth_token:
        secrets.append(settings.twilio_auth_token.get_secret_value())
    return TokenCodec(secrets, settings.token_ttl_s)


def build_live_flow(
    settings: Settings, registry: Registry, flow: Flow, public_url: str, *, realtime: bool, shared: SharedState,
    rest: TwilioRest | None = None,
) -> LiveFlow:
    """The live flow of ``flow`` (``settings.flow``, loaded)."""
    return LiveFlow(
        flow=flow, registry=registry, settings=settings, base_dir=Path(settings.flow).resolve().parent,
        codec=token_codec(settings), public_url=public_url.rstrip("/"), realtime=realtime, rest=rest, shared=shared,
    )


def voice_agent_router(settings: Settings | None = None, registry: Registry | None = None, media: MediaHandler | None = None) -> APIRouter:
    """Everything under ``/twilio`` for ``settings.flow``, to mount in your own FastAPI app.

    ``router.live`` is the :class:`LiveFlow` and ``router.metrics`` the
    :class:`Metrics` (serve ``generate_latest(router.metrics.registry)`` where
    your app exposes metrics); await ``router.live.drain()``,
    ``router.state.aclose()`` and ``agent.core.http_client.close_pools()``
    when your app shuts down. Pass ``media`` to
    replace the realtime pipeline.
    """
    settings = settings or Settings()
    registry = registry or default_registry()
    if not settings.public_base_url:
        raise ValueError("set VOICE_AGENT_PUBLIC_BASE_URL to the https URL Twilio reaches this server at")
    metrics = Metrics()
    state = open_state(
        settings.state_url.get_secret_value() if settings.state_url else None,
        prefix=settings.state_prefix, max_entries=settings.guard_max_entries,
    )
    ALERT_LEDGER.use(state)  # one outage, one alert: across replicas when they share state
    rest = TwilioRest(settings)  # one connection pool for every call's redirects and recordings
    early = None
    flow = load_flow(Path(settings.flow), registry, settings)
    from agent.media.backends.choice import live_model_wanted  # Pipecat: imported only by a server

    if media is None and live_model_wanted(flow, registry, settings):
        from pipelines.twilio_realtime import EarlyStart, media_handler

        early = EarlyStart()  # the model connection opens while Twilio sets up the stream
        media = media_handler(
            rest, early=early, on_reply_latency=metrics.voice_latency.observe,
            on_model_error=lambda kind: metrics.model_errors.labels(kind).inc(),
        )
        from agent.media.processors.realtime import prepare_realtime

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
        prepare_realtime(settings.openai_realtime_url, key)  # now, not during the first call
        if settings.local_vad:
            from agent.media.vad import SileroModel

            SileroModel.shared()  # loaded now, never on the event loop during a call
    live = build_live_flow(settings, registry, flow, settings.public_base_url, realtime=media is not None, rest=rest, shared=state)
    if early is not None:
        live.on_stream = functools.partial(early.begin, live)
    live.on_outcome = lambda outcome: metrics.flow_outcomes.labels(outcome.end_reason or "unknown").inc()
    router = make_router(live, SignatureCheck(settings), metrics, media, Guards(settings, state))
    router.state = state  # type: ignore[attr-defined]
    router.live = live  # type: ignore[attr-defined]
    router.metrics = metrics  # type: ignore[attr-defined]
    return router


def create_app(settings: Settings | None = None, registry: Registry | None = None, media: MediaHandler | None = None) -> FastAPI:
    """The whole bot server: the ``/twilio`` router plus ``/healthz`` and ``/metrics``."""
    router = voice_agent_router(settings, registry, media)
    live, metrics, state = router.live, router.metrics, router.state  # type: ignore[attr-defined]

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        # What start-up loaded (models, SDK modules, the flow) lives as long as the process: out of the cycle
        # collector's sight, a full collection no longer pauses every call for ~200 ms to scan it again.
        gc.collect()
        gc.freeze()
        yield
        await live.drain()  # after-call work (recording transcriptions) gets a moment to finish
        if live.rest is not None:
            await live.rest.aclose()
        await state.aclose()
        await close_pools()  # the model services' connections (agent/core/http_client.py), kept warm between calls

    app = FastAPI(title="oncall-voice-agent", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.live = live
    app.state.metrics = metrics
    app.include_router(router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "flow": live.flow.name}

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
