"""The FastAPI router of the Twilio bot server; mount it in your own app with ``make_router``.

    POST /twilio/voice      incoming call (point the number's voice webhook here)
    POST /twilio/continue   action URLs of IVR, PIN, voicemail, dial and speech turns
    POST /twilio/whisper    what the engineer hears before being connected
    POST /twilio/status     call status callback
    WS   /twilio/media      the Media Stream of an AI agent node
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response, WebSocket, WebSocketDisconnect
from loguru import logger

from agent.live.runner import LiveFlow
from agent.live.continuations import StateLost
from agent.live.tokens import TokenError
from agent.printable import printable
from agent.server.guards import Guards, busy_reject
from agent.server.metrics import Metrics
from agent.server.security import SignatureCheck

MAX_FORM_FIELDS = 100
MAX_FIELD_LENGTH = 8192

MediaHandler = Callable[[WebSocket, LiveFlow], Awaitable[None]]


def _twiml(body: str) -> Response:
    return Response(content=body, media_type="application/xml")


async def _form(request: Request) -> dict[str, str]:
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    return {k: str(v)[:MAX_FIELD_LENGTH] for k, v in form.items() if isinstance(v, str)}


def make_router(
    live: LiveFlow, signatures: SignatureCheck, metrics: Metrics, media: MediaHandler | None = None, guards: Guards | None = None,
) -> APIRouter:
    """The webhooks and media socket for one flow (``guards``: replay and rate-limit state, default from the flow's settings)."""
    router = APIRouter(prefix="/twilio", tags=["twilio"])
    guards = guards or Guards(live.settings)
    router.guards = guards  # type: ignore[attr-defined]

    async def genuine(token: str, call_sid: str) -> bool:
        try:
            await live.states.open(token, call_sid)
        except TokenError:
            return False
        return True

    async def signed_form(request: Request) -> dict[str, str] | None:
        form = await _form(request)
        if not signatures.valid(request, form):
            metrics.webhook_rejected.labels("signature").inc()
            logger.warning("refused {} with a missing or wrong X-Twilio-Signature", request.url.path)
            return None
        return printable(form)  # checked as signed, used as speakable

    @router.post("/voice")
    async def voice(request: Request) -> Response:
        form = await signed_form(request)
        if form is None:
            return Response(status_code=403)
        refused = await guards.check_call(form)
        if refused == "replay":
            metrics.webhook_rejected.labels("replay").inc()
            return Response(status_code=403)
        if refused == "rate_limit":
            metrics.webhook_rejected.labels("rate_limit").inc()
            return _twiml(busy_reject())
        metrics.calls_active.inc()
        await live.shared.put("active:" + form.get("CallSid", ""), "1", live.settings.token_ttl_s)  # counted: its end uncounts it
        try:
            return _twiml(await live.incoming(form))
        except Exception:
            logger.exception("incoming call {} failed", form.get("CallSid"))
            return _twiml(await live.rescue(None))

    @router.post("/continue")
    async def resume(request: Request, t: str = "", e: str = "") -> Response:
        form = await signed_form(request)
        if form is None:
            return Response(status_code=403)
        try:
            state = await live.states.open(t, form.get("CallSid"))
        except StateLost as exc:  # a genuine request whose state is gone: the caller still reaches someone
            logger.warning("continuation of call {}: {}", form.get("CallSid"), exc)
            return _twiml(await live.rescue(None))
        except TokenError as exc:
            metrics.webhook_rejected.labels("token").inc()
            logger.warning("refused a continuation: {}", exc)
            return Response(status_code=403)
        try:
            return _twiml(await live.resume(state, e, form))
        except Exception:
            logger.exception("continuation {} of call {} failed", e, state.call_sid)
            return _twiml(await live.rescue(state))

    @router.post("/whisper")
    async def whisper(request: Request, t: str = "") -> Response:
        form = await signed_form(request)
        if form is None:
            return Response(status_code=403)
        try:
            state = await live.states.open(t, None)  # the engineer's leg has its own CallSid
        except TokenError:
            return Response(status_code=403)
        return _twiml(await live.whisper(state, form.get("Digits")))

    @router.post("/status")
    async def status(request: Request) -> Response:
        form = await signed_form(request)
        if form is None:
            return Response(status_code=403)
        call_status = form.get("CallStatus", "")
        logger.info("call {} status {}", form.get("CallSid"), call_status)
        if call_status in ("completed", "busy", "failed", "no-answer", "canceled"):
            if await live.shared.take("active:" + form.get("CallSid", "")) is not None:
                metrics.calls_active.dec()  # not for calls refused busy or as replays: they were never counted
            metrics.calls_total.labels(call_status).inc()
            try:
                await live.call_gone(form.get("CallSid", ""))  # a hang-up no other webhook reported
            except Exception:  # noqa: BLE001 - Twilio only needs the 204
                logger.exception("outcome of call {} after its status callback failed", form.get("CallSid"))
        return Response(status_code=204)

    @router.websocket("/media")
    async def media_stream(websocket: WebSocket) -> None:
        if not signatures.valid(websocket, {}, websocket=True):
            metrics.webhook_rejected.labels("signature").inc()
            logger.warning("refused a media stream with a missing or wrong X-Twilio-Signature")
            await websocket.close(code=1008)
            return
        if media is None:
            await websocket.close(code=1011)
            return
        guarded = guards.media_socket(websocket, genuine, lambda: metrics.webhook_rejected.labels("replay").inc())
        try:
            await media(guarded, live)
        except WebSocketDisconnect as exc:
            if exc.code != 1008:
                raise

    return router

