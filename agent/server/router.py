"""The FastAPI router of the Twilio bot server; mount it in your own app with ``make_router``.

    POST /twilio/voice      incoming call (point the number's voice webhook here)
    POST /twilio/continue   action URLs of IVR, PIN, voicemail, dial and speech turns
    POST /twilio/whisper    what the engineer hears before being connected
    POST /twilio/status     call status callback
    WS   /twilio/media      the Media Stream of an AI agent node

Mounted under a prefix (``app.include_router(router, prefix="/hotline")``, or
an app mounted at a path), the URLs the flow hands Twilio (continuations,
whispers, the media stream) follow the mount: the public origin plus the path
Twilio just called, less the route's own path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response, WebSocket, WebSocketDisconnect
from loguru import logger
from starlette.requests import HTTPConnection

from agent.live.continuations import StateLost
from agent.live.runner import LiveFlow
from agent.live.tokens import TokenError
from agent.core.printable import printable
from agent.server.guards import Guards, busy_reject
from agent.server.metrics import Metrics
from agent.server.security import WEBHOOK_IDS, WEBHOOK_OPTIONAL_IDS, SignatureCheck, malformed_ids

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

    def mounted(conn: HTTPConnection, route: str) -> LiveFlow:
        """``live`` handing Twilio URLs under this router's mount: the public origin plus the mount's path.

        The path Twilio called ends with the route's own (``/twilio/voice``);
        what comes before it is the prefix the router was included with (and
        the app's root path), the same path the signature was checked over.
        """
        path, own = conn.url.path, router.prefix + route
        base = signatures.public_base(conn) + (path[: -len(own)] if path.endswith(own) else "")
        return live if base == live.public_url else dataclasses.replace(live, public_url=base)

    async def signed_form(request: Request) -> dict[str, str] | Response:
        """The signed form of a webhook with well-formed Twilio identifiers, or the refusal (403, 400)."""
        form = await _form(request)
        if not signatures.valid(request, form):
            metrics.webhook_rejected.labels("signature").inc()
            logger.warning("refused {} with a missing or wrong X-Twilio-Signature", request.url.path)
            return Response(status_code=403)
        bad = malformed_ids(form, WEBHOOK_IDS, WEBHOOK_OPTIONAL_IDS)
        if bad:  # Twilio always names the call, and only ever as CA + 32 hex digits
            metrics.webhook_rejected.labels("malformed").inc()
            logger.warning("refused {}: missing or malformed {}", request.url.path, ", ".join(bad))
            return Response(status_code=400)
        return printable(form)  # checked as signed, used as speakable

    @router.post("/voice")
    async def voice(request: Request) -> Response:
        form = await signed_form(request)
        if isinstance(form, Response):
            return form
        flow = mounted(request, "/voice")
        refused = await guards.check_call(form)
        if refused == "replay":
            metrics.webhook_rejected.labels("replay").inc()
            return Response(status_code=403)
        if refused == "rate_limit":
            metrics.webhook_rejected.labels("rate_limit").inc()
            return _twiml(busy_reject())
        metrics.calls_active.inc()
        await flow.shared.put("active:" + form.get("CallSid", ""), "1", flow.settings.token_ttl_s)  # counted: its end uncounts it
        try:
            return _twiml(await flow.incoming(form))
        except Exception:
            logger.exception("incoming call {} failed", form.get("CallSid"))
            return _twiml(await flow.rescue(None))

    @router.post("/continue")
    async def resume(request: Request, t: str = "", e: str = "") -> Response:
        form = await signed_form(request)
        if isinstance(form, Response):
            return form
        flow = mounted(request, "/continue")
        try:
            state = await flow.states.open(t, form.get("CallSid"))
        except StateLost as exc:  # a genuine request whose state is gone: the caller still reaches someone
            logger.warning("continuation of call {}: {}", form.get("CallSid"), exc)
            return _twiml(await flow.rescue(None))
        except TokenError as exc:
            metrics.webhook_rejected.labels("token").inc()
            logger.warning("refused a continuation: {}", exc)
            return Response(status_code=403)
        try:
            return _twiml(await flow.resume(state, e, form))
        except Exception:
            logger.exception("continuation {} of call {} failed", e, state.call_id)
            return _twiml(await flow.rescue(state))

    @router.post("/whisper")
    async def whisper(request: Request, t: str = "") -> Response:
        form = await signed_form(request)
        if isinstance(form, Response):
            return form
        flow = mounted(request, "/whisper")
        try:
            state = await flow.states.open(t, None)  # the engineer's leg has its own CallSid
        except TokenError:
            return Response(status_code=403)
        return _twiml(await flow.whisper(state, form.get("Digits")))

    @router.post("/status")
    async def status(request: Request) -> Response:
        form = await signed_form(request)
        if isinstance(form, Response):
            return form
        flow = mounted(request, "/status")
        call_status = form.get("CallStatus", "")
        logger.info("call {} status {}", form.get("CallSid"), call_status)
        if call_status in ("completed", "busy", "failed", "no-answer", "canceled"):
            if await flow.shared.take("active:" + form.get("CallSid", "")) is not None:
                metrics.calls_active.dec()  # not for calls refused busy or as replays: they were never counted
            metrics.calls_total.labels(call_status).inc()
            try:
                await flow.call_gone(form.get("CallSid", ""))  # a hang-up no other webhook reported
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
        guarded = guards.media_socket(websocket, genuine, lambda reason: metrics.webhook_rejected.labels(reason).inc())
        try:
            await media(guarded, mounted(websocket, "/media"))
        except WebSocketDisconnect as exc:
            if exc.code != 1008:
                raise

    return router

