"""Twilio's identifiers have one form; a signed request with anything else is refused (400, logged, counted).

``CallSid`` is ``CA`` + 32 hex digits, ``AccountSid`` ``AC`` + 32, a media
stream's ``streamSid`` ``MZ`` + 32 (the ``pattern`` of Twilio's API spec,
tests/contracts/twilio/api_v2010.json). Twilio never sends an empty or
missing ``CallSid``; a request that does was not made by Twilio's voice
engine, even when it is signed (a leaked auth token, a tool replaying forms).
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from agent.core.call import Call
from tests.security.support import ACCOUNT, PUBLIC, app, client, rejected, sign
from tests.security.test_signatures import ENDPOINTS, MEDIA_URL, accepting_media, genuine, new_sid, stream

CALLER = "+4915112345678"
HEX = "5f0c2a9e8d7b4c1e9a3f6b2d8e4c7a10"  # fixed: test ids must be the same in every collection (pytest-xdist workers)
MALFORMED_CALL_SIDS = {
    "missing": None, "empty": "", "short": "CA1", "31 digits": "CA" + HEX[:31], "33 digits": "CA" + HEX + "0",
    "not hex": "CA" + "g" * 32, "lower-case prefix": "ca" + HEX, "an account SID": "AC" + HEX,
    "a trailing newline": "CA" + HEX + "\n", "spaces": " CA" + HEX, "non-ASCII digits": "CA" + "٣" * 32,
}
MALFORMED_ACCOUNT_SIDS = {"empty": "", "short": "AC1", "a call SID": "CA" + HEX, "not hex": "AC" + "z" * 32}


def post_signed(application, path: str, form: dict[str, str]) -> int:
    async def go():
        async with client(application) as http:
            return (await http.post(path, data=form, headers={"X-Twilio-Signature": sign(path, form)})).status_code

    return asyncio.run(go())


def test_the_patterns_are_twilios():
    from agent.server.security import ACCOUNT_SID, CALL_SID, STREAM_SID

    assert CALL_SID.fullmatch("CA" + HEX.upper()) and ACCOUNT_SID.fullmatch(ACCOUNT) and STREAM_SID.fullmatch("MZ" + HEX)
    assert not CALL_SID.fullmatch("CA" + HEX + "\n")  # fullmatch: no `$`-before-newline slack


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("case", list(MALFORMED_CALL_SIDS))
def test_every_webhook_refuses_a_missing_or_malformed_call_sid(endpoint, case, caplog_loguru):
    application = app()
    path, form, _, _ = genuine(application, endpoint)
    value = MALFORMED_CALL_SIDS[case]
    form = {k: v for k, v in form.items() if k != "CallSid"} | ({} if value is None else {"CallSid": value})
    assert post_signed(application, path, form) == 400
    assert rejected(application, "malformed") == 1
    refusals = [line for line in caplog_loguru if "malformed" in line]
    assert len(refusals) == 1 and "CallSid" in refusals[0]
    assert CALLER not in refusals[0] and (not value or value.strip() not in refusals[0]), "names the field, not what it held"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("case", list(MALFORMED_ACCOUNT_SIDS))
def test_every_webhook_refuses_a_malformed_account_sid(endpoint, case):
    application = app()
    path, form, _, _ = genuine(application, endpoint)
    assert post_signed(application, path, {**form, "AccountSid": MALFORMED_ACCOUNT_SIDS[case]}) == 400
    assert rejected(application, "malformed") == 1


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_well_formed_sids_in_either_case_are_served(endpoint):
    application = app()
    path, form, expected, _ = genuine(application, endpoint)
    if endpoint != "continue":  # (a continuation's token is bound to its call's SID as Twilio wrote it)
        form = {**form, "CallSid": "CA" + form["CallSid"][2:].upper()}
    assert post_signed(application, path, {**form, "AccountSid": "AC" + HEX.upper()}) == expected
    assert rejected(application, "malformed") == 0


def test_an_unsigned_request_is_still_a_403_whatever_its_sids():
    application = app()

    async def go():
        async with client(application) as http:
            return (await http.post("/twilio/voice", data={"CallSid": ""})).status_code

    assert asyncio.run(go()) == 403
    assert rejected(application, "signature") == 1 and rejected(application, "malformed") == 0


def media_start(application, **changes) -> dict:
    sid = new_sid()
    token = application.state.live.codec.seal(Call(call_id=sid, node="agent", caller_number=CALLER))
    start = {"callSid": sid, "streamSid": "MZ" + uuid.uuid4().hex, "accountSid": ACCOUNT, "customParameters": {"token": token},
             "tracks": ["inbound"]}
    for name, value in changes.items():
        if value is None:
            start.pop(name)
        else:
            start[name] = value
    return start


@pytest.mark.parametrize(("field", "value"), [
    ("callSid", None), ("callSid", ""), ("callSid", "CA1"), ("callSid", "MZ" + HEX),
    ("streamSid", None), ("streamSid", ""), ("streamSid", "MZ" + "x" * 32), ("streamSid", "CA" + HEX),
    ("accountSid", ""), ("accountSid", "AC"), ("accountSid", 42),
])
def test_a_media_stream_start_with_a_missing_or_malformed_sid_is_closed_1008(field, value, caplog_loguru):
    application = app(media=accepting_media)
    with TestClient(application, base_url=PUBLIC) as test_client:
        refused = stream_with(test_client, sign(MEDIA_URL, {}), media_start(application, **{field: value}), "MZ" + HEX)
    assert refused == "closed 1008", "the stand-in handler never saw the stream"
    assert rejected(application, "malformed") == 1 and rejected(application, "replay") == 0
    refusals = [line for line in caplog_loguru if "malformed" in line]
    assert len(refusals) == 1 and field in refusals[0] and CALLER not in refusals[0]


def test_a_media_stream_whose_message_level_stream_sid_is_malformed_is_closed_1008():
    application = app(media=accepting_media)
    start = media_start(application)
    with TestClient(application, base_url=PUBLIC) as test_client:
        good = sign(MEDIA_URL, {})
        refused = stream_with(test_client, good, start, "MZ-not-a-sid")
        accepted = stream(test_client, good, media_start(application))
    assert (refused, accepted) == ("closed 1008", "accepted")
    assert rejected(application, "malformed") == 1


def stream_with(test_client: TestClient, signature: str, start: dict, stream_sid: str) -> str:
    """Like ``stream``, with the message's own ``streamSid`` set apart from the one in ``start``."""
    try:
        with test_client.websocket_connect("/twilio/media", headers={"X-Twilio-Signature": signature}) as ws:
            ws.send_text(json.dumps({"event": "start", "sequenceNumber": "1", "start": start, "streamSid": stream_sid}))
            return json.loads(ws.receive_text())["event"]
    except WebSocketDisconnect as exc:
        return f"closed {exc.code}"
