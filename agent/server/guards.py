"""Replay protection and a per-number rate limit for the webhooks and the media socket.

Twilio's ``X-Twilio-Signature`` has no timestamp or nonce: a captured request
stays valid forever. So the server remembers what it has already served, in
the :mod:`agent.core.shared_state` (this process's memory, or Redis shared by all
replicas):

- replays — ``/twilio/voice`` accepts each ``CallSid`` once (a second
  ``/voice`` for a known call is a replay: 403); the media socket accepts each
  (call, stream token) once (a second stream for the same invitation: close
  1008). A flow that reaches a second AI agent node gets a new token, so it
  still streams. A ``start`` whose call, stream or account SID is missing or
  not of Twilio's form is closed 1008 too.
- :class:`RateLimiter` — a sliding window per caller: at most
  ``rate_limit_calls`` calls per ``rate_limit_window_s`` from one number;
  excess calls are answered ``<Reject reason="busy"/>``. Numbers are kept only
  as keyed BLAKE2b digests, never in clear: the key is random per process in
  memory, derived from the token secret when replicas share Redis (so they
  agree on a caller's bucket). Callers without a caller ID (empty,
  ``anonymous``, ``restricted``, ``unknown``) share one bucket with its own,
  higher limit (``rate_limit_anonymous_calls``): exempting them would let
  anyone loop by withholding their number, and one bucket per withheld call
  would be no limit at all. A flood of withheld calls can therefore crowd out
  a genuine withheld caller for one window; flows that must never lose one can
  set ``rate_limit_anonymous_calls: 0`` (no limit for them).

In memory (the default), all of this is per process: with N replicas a caller
gets up to N times the limit, and a replay is only caught by the replica that
served the original; set ``VOICE_AGENT_STATE_URL`` to share it. Memory is
bounded either way (``guard_max_entries``; every Redis key expires).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger
from starlette.websockets import WebSocket
from twilio.twiml.voice_response import VoiceResponse

from agent.core.call import caller_id_withheld
from agent.server.security import STREAM_IDS, STREAM_OPTIONAL_IDS, STREAM_SID, malformed_ids
from agent.core.settings import Settings
from agent.core.shared_state import MemoryState, SharedState


class RateLimiter:
    """A sliding-window call counter per caller, keyed by a keyed digest of the number."""

    def __init__(self, state: SharedState, limit: int, window_s: float, anonymous_limit: int, digest_key: bytes | None = None) -> None:
        self.limit = limit
        self.window = window_s
        self.anonymous_limit = anonymous_limit
        self._state = state
        self._digest_key = digest_key or os.urandom(16)  # random: digests mean nothing outside this process

    def key(self, number: str | None) -> str:
        """The bucket of a caller: ``anonymous`` or a digest of the number (never the number)."""
        number = (number or "").strip()
        if caller_id_withheld(number):
            return "anonymous"
        return hashlib.blake2b(number.encode(), digest_size=12, key=self._digest_key).hexdigest()

    async def allow(self, number: str | None) -> tuple[bool, str]:
        """(whether this call may go on, its bucket key) — counts the call when allowed."""
        key = self.key(number)
        limit = self.anonymous_limit if key == "anonymous" else self.limit
        if limit <= 0:
            return True, key
        return await self._state.allow(key, limit, self.window), key


def busy_reject() -> str:
    """TwiML that refuses the call with a busy signal (Twilio does not answer it, nothing is billed)."""
    response = VoiceResponse()
    response.reject(reason="busy")
    return str(response)


class Guards:
    """Replay and rate-limit checks, on the state this process or all replicas keep."""

    def __init__(self, settings: Settings, state: SharedState | None = None) -> None:
        self.state = state or MemoryState(settings.guard_max_entries)
        self._call_ttl = settings.replay_window_s
        self._stream_ttl = max(settings.token_ttl_s, settings.replay_window_s)
        shared = not isinstance(self.state, MemoryState)
        self.rate = RateLimiter(
            self.state, settings.rate_limit_calls, settings.rate_limit_window_s, settings.rate_limit_anonymous_calls,
            digest_key=_shared_digest_key(settings) if shared else None,
        )

    async def check_call(self, form: dict[str, str]) -> str | None:
        """Why a new call (the voice webhook) must be refused: ``replay``, ``rate_limit``, or None."""
        call_sid = form.get("CallSid", "")
        if not await self.state.first(f"call:{call_sid}", self._call_ttl):
            logger.warning("refused /twilio/voice for call {}: its CallSid was already served (replay)", call_sid)
            return "replay"
        allowed, key = await self.rate.allow(form.get("From"))
        if not allowed:
            logger.warning(
                "refused call {} from caller #{}: more than {} calls in {:g}s (rate limit)",
                call_sid, key[:8], self.rate.anonymous_limit if key == "anonymous" else self.rate.limit, self.rate.window,
            )
            return "rate_limit"
        return None

    def media_socket(self, websocket: WebSocket, genuine: Callable[[str, str], Awaitable[bool]], on_refused: Callable[[str], None]) -> WebSocket:
        """``websocket`` as seen by the media handler, refusing a stream whose invitation was already used.

        The call and its stream token only arrive in Twilio's ``start``
        message, after the upgrade; so the ASGI ``receive`` is wrapped: when
        ``start`` names a (genuine) token already streamed, or its SIDs are
        missing or malformed, the socket is closed with 1008, the handler sees
        a disconnect and ``on_refused`` hears why (``replay``, ``malformed``).
        """
        raw_receive, raw_send = websocket._receive, websocket._send
        checked = False

        async def receive() -> Any:
            nonlocal checked
            message = await raw_receive()
            if checked or message.get("type") != "websocket.receive" or not message.get("text"):
                return message
            try:
                data = json.loads(message["text"])
            except ValueError:
                return message
            if not isinstance(data, dict) or data.get("event") != "start":
                return message
            checked = True
            start = data.get("start") if isinstance(data.get("start"), dict) else {}
            bad = malformed_ids(start, STREAM_IDS, STREAM_OPTIONAL_IDS)
            if "streamSid" in data and not (isinstance(data["streamSid"], str) and STREAM_SID.fullmatch(data["streamSid"])):
                bad.append("the message's streamSid")
            if bad:  # Twilio names every stream's call and stream as CA/MZ + 32 hex digits
                logger.warning("refused a media stream: missing or malformed {} in its start message", ", ".join(bad))
                on_refused("malformed")
                await raw_send({"type": "websocket.close", "code": 1008, "reason": "malformed start"})
                return {"type": "websocket.disconnect", "code": 1008}
            params = start.get("customParameters") if isinstance(start.get("customParameters"), dict) else {}
            call_sid, token = str(start.get("callSid") or ""), str(params.get("token") or "")
            if not token or not await genuine(token, call_sid):
                return message  # the handler refuses it; a forged token must not fill the memory
            digest = hashlib.blake2b(token.encode(), digest_size=16).hexdigest()
            if await self.state.first(f"stream:{call_sid}:{digest}", self._stream_ttl):
                return message
            logger.warning("refused a media stream for call {}: its stream already started (replay)", call_sid)
            on_refused("replay")
            await raw_send({"type": "websocket.close", "code": 1008, "reason": "replayed stream"})
            return {"type": "websocket.disconnect", "code": 1008}

        return WebSocket(websocket.scope, receive=receive, send=raw_send)


def _shared_digest_key(settings: Settings) -> bytes:
    """The number-digest key every replica derives alike from the token secret (never the secret itself)."""
    secret = settings.token_secret or settings.twilio_auth_token
    if secret is None:
        raise ValueError("replicas sharing state need VOICE_AGENT_TOKEN_SECRET (or the Twilio auth token) to agree on rate-limit buckets")
    return hmac.new(secret.get_secret_value().encode(), b"voice-agent rate-limit digest", hashlib.sha256).digest()
