"""Continuation tokens: what one webhook hands the next, authenticated, encrypted and bound to its call.

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
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import BaseModel, Field, field_validator

from agent.core.call import AlertReceipt, Dial, Turn
from agent.core.printable import printable


class TokenError(ValueError):
    """A token that is forged, tampered with, expired or from another call."""


class OpenedAlert(BaseModel):
    """An alert the call opened, so what is learnt after the call (the recording's text) can join it."""

    node: str  # the node whose ``platform`` opened it
    summary: str
    priority: str = "high"
    dedup_key: str | None = None
    receipt: AlertReceipt


class Decided(BaseModel):
    """How an AI node ended (:class:`agent.conversation.session.Decision`), carried to the request that renders its branch."""

    exit: str
    target: str | None = None
    say: str = ""  # what is still to be said: empty when the model already said it
    intent: str | None = None
    reason: str | None = None


class LiveState(BaseModel):
    """Everything a call carries from one webhook to the next."""

    call_sid: str
    node: str
    caller: str | None = None
    called: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    intent: str | None = None
    summary: str | None = None
    facts_used: list[str] = Field(default_factory=list)
    nodes: list[str] = Field(default_factory=list)
    attempt: int = 0
    engine: dict[str, Any] | None = None
    briefing: str | None = None
    started_at: float = 0.0
    node_since: float = 0.0  # when the call entered ``node``
    transcript: list[Turn] = Field(default_factory=list)  # the most recent part only: tokens ride in URLs
    branch: str | None = None  # where the AI agent sent the call
    dials: list[Dial] = Field(default_factory=list)
    alerts: list[OpenedAlert] = Field(default_factory=list)
    decided: Decided | None = None  # the AI node's decision, between the media stream and the redirect it asked for
    streaming: bool = False  # a media stream holds the call (its handler writes the outcome of a hang-up)
    seq: int = 0  # how many times the call's latest state was kept: the higher, the more recent

    @field_validator("fields", "summary", "caller", mode="before")
    @classmethod
    def _printable(cls, value: Any) -> Any:
        return printable(value)  # whatever set them, they may be spoken in TwiML


def _fernet_key(secret: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(("voice-agent-token:" + secret).encode()).digest())


class TokenCodec:
    """Seals and opens :class:`LiveState`; the first secret seals, all open (key rotation)."""

    def __init__(self, secrets: list[str], ttl_s: int) -> None:
        if not secrets or not all(secrets):
            raise ValueError("a token secret is needed (set VOICE_AGENT_TOKEN_SECRET or the Twilio auth token)")
        self._fernet = MultiFernet([Fernet(_fernet_key(s)) for s in secrets])
        self._ttl = ttl_s

    def seal(self, state: LiveState) -> str:
        raw = zlib.compress(state.model_dump_json(exclude_defaults=True).encode(), 9)
        return self._fernet.encrypt(raw).decode()

    def open(self, token: str, call_sid: str | None) -> LiveState:
        """The state in ``token``; raises :class:`TokenError` unless it is genuine, fresh and this call's."""
        try:
            raw = self._fernet.decrypt(token.encode(), ttl=self._ttl)
            state = LiveState.model_validate(json.loads(zlib.decompress(raw)))
        except (InvalidToken, ValueError, zlib.error) as exc:
            raise TokenError("invalid or expired continuation token") from exc
        if call_sid is not None and state.call_sid != call_sid:
            raise TokenError("continuation token belongs to another call")
        return state
