"""Continuation tokens: encrypted, authenticated, bound to their call, and expiring.

Already covered elsewhere (not repeated here): a tampered token and another
call's token are refused by /twilio/continue (tests/test_server_gather.py,
test_a_tampered_or_foreign_token_is_refused).
"""

from __future__ import annotations

import asyncio
import base64
import time
import zlib
from urllib.parse import urlencode

import pytest

from agent.core.call import Call
from agent.live.tokens import TokenCodec, TokenError
from tests.security.support import app, client, rejected, sign

NAME, NUMBER, EMAIL = "Zebulon Quartermaine", "+4915199887766", "zeb.q@initech-secret.example"
INCIDENT = "the flux capacitor cluster melted"


def state(**overrides) -> Call:
    values = {
        "call_id": "CA" + "a" * 32, "node": "agent", "caller_number": NUMBER, "called_number": "+15555550199",
        "fields": {"caller_name": NAME, "email": EMAIL, "contact_number": NUMBER, "incident": INCIDENT},
        "summary": INCIDENT, "briefing": f"{NAME} called about {INCIDENT}",
    }
    return Call(**{**values, **overrides})


def test_the_sealed_bytes_reveal_nothing_about_the_caller():
    codec = TokenCodec(["token-secret"], 3600)
    token = codec.seal(state())
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    decoded = [token, raw.decode("latin-1")]
    # not even after undoing the compression the codec applies before encrypting
    for blob in (raw, raw[25:-32]):
        try:
            decoded.append(zlib.decompress(blob).decode("latin-1"))
        except zlib.error:
            pass
    for secret in (NAME, "Zebulon", NUMBER, "15199887766", EMAIL, "initech-secret", "flux capacitor", "agent", "call_sid"):
        assert all(secret not in text for text in decoded), secret
    assert codec.open(token, state().call_id).fields["caller_name"] == NAME  # while the key holder reads it back
    assert codec.seal(state()) != token, "a fresh IV each time: equal states do not give equal tokens"


def test_a_token_is_authenticated():
    codec = TokenCodec(["token-secret"], 3600)
    token = codec.seal(state())
    raw = bytearray(base64.urlsafe_b64decode(token))
    for position in (9, 30, len(raw) - 40, len(raw) - 1):  # timestamp, IV/ciphertext, ciphertext, MAC
        forged = bytearray(raw)
        forged[position] ^= 0x01
        with pytest.raises(TokenError):
            codec.open(base64.urlsafe_b64encode(bytes(forged)).decode(), state().call_id)
    with pytest.raises(TokenError):
        TokenCodec(["another-deployment"], 3600).open(token, state().call_id)
    with pytest.raises(TokenError):
        codec.open("", state().call_id)
    # rotation: a token sealed with the previous secret still opens while that secret is listed
    assert TokenCodec(["new-secret", "token-secret"], 3600).open(token, state().call_id).node == "agent"


def test_a_token_is_bound_to_its_call():
    codec = TokenCodec(["token-secret"], 3600)
    token = codec.seal(state())
    with pytest.raises(TokenError, match="another call"):
        codec.open(token, "CA" + "b" * 32)
    assert codec.open(token, state().call_id).call_id == state().call_id


def test_a_token_expires_after_token_ttl_s(monkeypatch):
    codec = TokenCodec(["token-secret"], 60)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 61)
    old = codec.seal(state())
    monkeypatch.setattr(time, "time", lambda: real() - 59)
    recent = codec.seal(state())
    monkeypatch.setattr(time, "time", real)
    with pytest.raises(TokenError, match="expired"):
        codec.open(old, state().call_id)
    assert codec.open(recent, state().call_id).node == "agent"


def test_the_server_refuses_an_expired_continuation(monkeypatch):
    application = app(token_ttl_s=60)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 120)
    token = application.state.live.codec.seal(state())
    monkeypatch.setattr(time, "time", real)
    path = "/twilio/continue?" + urlencode({"t": token, "e": "gather"})
    form = {"CallSid": state().call_id, "SpeechResult": "hello"}

    async def go():
        async with client(application) as http:
            return await http.post(path, data=form, headers={"X-Twilio-Signature": sign(path, form)})

    response = asyncio.run(go())
    assert response.status_code == 403
    assert rejected(application, "token") == 1
