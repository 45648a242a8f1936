"""Continuation tokens: the call's state, as one webhook hands it to the next, authenticated, encrypted and bound to its call.

Nothing about a call is stored on the server; the state rides in the URLs
Twilio calls back (Fernet: AES-CBC + HMAC-SHA256, with a timestamp for
expiry), so any replica can serve any request. A token is only accepted for
the call it was issued to.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from agent.core.call import Call, Turn

MAX_TOKEN_TRANSCRIPT_CHARS = 2000  # the alert gets the most recent part; tokens stay small


class TokenError(ValueError):
    """A token that is forged, tampered with, expired or from another call."""


def _recent(transcript: list[Turn]) -> list[Turn]:
    """What of the conversation travels: the most recent turns, system notes left out."""
    kept: list[Turn] = []
    room = MAX_TOKEN_TRANSCRIPT_CHARS
    for turn in reversed(transcript):
        if turn.speaker == "system" or not turn.text:
            continue
        room -= len(turn.text)
        if room < 0:
            break
        kept.append(turn)
    return kept[::-1]


def _fernet_key(secret: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(("voice-agent-token:" + secret).encode()).digest())


class TokenCodec:
    """Seals and opens a :class:`Call`; the first secret seals, all open (key rotation)."""

    def __init__(self, secrets: list[str], ttl_s: int) -> None:
        if not secrets or not all(secrets):
            raise ValueError("a token secret is needed (set VOICE_AGENT_TOKEN_SECRET or the Twilio auth token)")
        self._fernet = MultiFernet([Fernet(_fernet_key(s)) for s in secrets])
        self._ttl = ttl_s

    def seal(self, call: Call) -> str:
        travelling = call.model_copy(update={"transcript": _recent(call.transcript)})
        raw = zlib.compress(travelling.model_dump_json(exclude_defaults=True).encode(), 9)
        return self._fernet.encrypt(raw).decode()

    def open(self, token: str, call_sid: str | None) -> Call:
        """The state in ``token``; raises :class:`TokenError` unless it is genuine, fresh and this call's."""
        try:
            raw = self._fernet.decrypt(token.encode(), ttl=self._ttl)
            state = Call.model_validate(json.loads(zlib.decompress(raw)))
        except (InvalidToken, ValueError, zlib.error) as exc:
            raise TokenError("invalid or expired continuation token") from exc
        if call_sid is not None and state.call_id != call_sid:
            raise TokenError("continuation token belongs to another call")
        return state
