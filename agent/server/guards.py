"""Replay protection and a per-number rate limit for the webhooks and the media socket.

Twilio's ``X-Twilio-Signature`` has no timestamp or nonce: a captured request
stays valid forever. So the server remembers, in memory, what it has already
served:

- :class:`SeenOnce` — a bounded set with a TTL. ``/twilio/voice`` accepts each
  ``CallSid`` once (a second ``/voice`` for a known call is a replay: 403); the
  media socket accepts each (call, stream token) once (a second stream for the
  same invitation: close 1008). A flow that reaches a second AI agent node
  gets a new token, so it still streams.
- :class:`RateLimiter` — a sliding window per caller: at most
  ``rate_limit_calls`` calls per ``rate_limit_window_s`` from one number;
  excess calls are answered ``<Reject reason="busy"/>``. Numbers are kept only
  as keyed BLAKE2b digests (a random key per process), never in clear.
  Callers without a caller ID (empty, ``anonymous``, ``restricted``,
  ``unknown``) share one bucket with its own, higher limit
  (``rate_limit_anonymous_calls``): exempting them would let anyone loop by
  withholding their number, and one bucket per withheld call would be no
  limit at all. A flood of withheld calls can therefore crowd out a genuine
  withheld caller for one window; flows that must never lose one can set
  ``rate_limit_anonymous_calls: 0`` (no limit for them).

Limits of this design (documented in docs/reliability.md): everything here is
per process. With N replicas behind a load balancer, a caller gets up to N
times the limit, and a replayed request is only caught when it reaches the
replica that served the original (sticky routing by ``CallSid`` closes that
gap). A restart forgets everything. Memory is bounded: each structure holds at
most ``guard_max_entries`` keys and drops the oldest first.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from loguru import logger
from starlette.websockets import WebSocket
from twilio.twiml.voice_response import VoiceResponse

from agent.node_logic import caller_id_withheld
from agent.settings import Settings

Clock = Callable[[], float]


class SeenOnce:
    """Keys seen in the last ``ttl_s`` seconds, at most ``max_entries`` of them (oldest dropped first)."""

    def __init__(self, ttl_s: float, max_entries: int, clock: Clock = time.monotonic) -> None:
        self._ttl = ttl_s
        self._max = max(1, max_entries)
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # key -> expiry, in insertion order

    def first(self, key: str) -> bool:
        """True the first time ``key`` is offered (within the TTL); False for a repeat."""
        now = self._clock()
        while self._seen:
            oldest, expiry = next(iter(self._seen.items()))
            if expiry > now:
                break
            del self._seen[oldest]
        if key in self._seen:
            return False
        self._seen[key] = now + self._ttl
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._seen)


class RateLimiter:
    """A sliding-window call counter per caller, keyed by a salted hash of the number."""

    def __init__(self, limit: int, window_s: float, anonymous_limit: int, max_entries: int, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window = window_s
        self.anonymous_limit = anonymous_limit
        self._max = max(1, max_entries)
        self._clock = clock
        self._salt = os.urandom(16)  # per process: digests mean nothing outside it
        self._calls: OrderedDict[str, deque[float]] = OrderedDict()

    def key(self, number: str | None) -> str:
        """The bucket of a caller: ``anonymous`` or a digest of the number (never the number)."""
        number = (number or "").strip()
        if caller_id_withheld(number):
            return "anonymous"
        return hashlib.blake2b(number.encode(), digest_size=12, key=self._salt).hexdigest()

    def allow(self, number: str | None) -> tuple[bool, str]:
        """(whether this call may go on, its bucket key) — counts the call when allowed."""
        key = self.key(number)
        limit = self.anonymous_limit if key == "anonymous" else self.limit
        if limit <= 0:
            return True, key
        now = self._clock()
        calls = self._calls.pop(key, None) or deque()
        while calls and calls[0] <= now - self.window:
            calls.popleft()
        allowed = len(calls) < limit
        if allowed:
            calls.append(now)
        if calls:
            self._calls[key] = calls  # most recently used last
        while len(self._calls) > self._max:
            self._calls.popitem(last=False)
        return allowed, key

    def stored_keys(self) -> list[str]:
        return list(self._calls)


def busy_reject() -> str:
    """TwiML that refuses the call with a busy signal (Twilio does not answer it, nothing is billed)."""
    response = VoiceResponse()
    response.reject(reason="busy")
    return str(response)


class Guards:
    """The replay and rate-limit state of one server process."""

    def __init__(self, settings: Settings, clock: Clock = time.monotonic) -> None:
        self.calls = SeenOnce(settings.replay_window_s, settings.guard_max_entries, clock)
        self.streams = SeenOnce(max(settings.token_ttl_s, settings.replay_window_s), settings.guard_max_entries, clock)
        self.rate = RateLimiter(
            settings.rate_limit_calls, settings.rate_limit_window_s, settings.rate_limit_anonymous_calls,
            settings.guard_max_entries, clock,
        )

    def check_call(self, form: dict[str, str]) -> str | None:
        """Why a new call (the voice webhook) must be refused: ``replay``, ``rate_limit``, or None."""
        call_sid = form.get("CallSid", "")
        if not self.calls.first(f"call:{call_sid}"):
            logger.warning("refused /twilio/voice for call {}: its CallSid was already served (replay)", call_sid)
            return "replay"
        allowed, key = self.rate.allow(form.get("From"))
        if not allowed:
            logger.warning(
                "refused call {} from caller #{}: more than {} calls in {:g}s (rate limit)",
                call_sid, key[:8], self.rate.anonymous_limit if key == "anonymous" else self.rate.limit, self.rate.window,
            )
            return "rate_limit"
        return None

    def media_socket(self, websocket: WebSocket, genuine: Callable[[str, str], bool], on_replay: Callable[[], None]) -> WebSocket:
        """``websocket`` as seen by the media handler, refusing a stream whose invitation was already used.

        The call and its stream token only arrive in Twilio's ``start``
        message, after the upgrade; so the ASGI ``receive`` is wrapped: when
        ``start`` names a (genuine) token already streamed, the socket is closed
        with 1008 and the handler sees a disconnect.
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
            params = start.get("customParameters") if isinstance(start.get("customParameters"), dict) else {}
            call_sid, token = str(start.get("callSid") or ""), str(params.get("token") or "")
            if not token or not genuine(token, call_sid):
                return message  # the handler refuses it; a forged token must not fill the memory
            digest = hashlib.blake2b(token.encode(), digest_size=16).hexdigest()
            if self.streams.first(f"stream:{call_sid}:{digest}"):
                return message
            logger.warning("refused a media stream for call {}: its stream already started (replay)", call_sid)
            on_replay()
            await raw_send({"type": "websocket.close", "code": 1008, "reason": "replayed stream"})
            return {"type": "websocket.disconnect", "code": 1008}

        return WebSocket(websocket.scope, receive=receive, send=raw_send)
