"""X-Twilio-Signature on every webhook and on the media socket: valid, missing, wrong and replayed.

Twilio signs the URL and the form; a signature has no timestamp. So a valid
signature replayed on another request is refused by the signature itself,
and the exact replay of a new call (``/twilio/voice``) or of a media stream
is refused by the replay guard (agent/server/guards.py).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from agent.core.call import Call
from tests.security.support import PUBLIC, app, client, rejected, sign

CALLER = "+4915112345678"


def new_sid() -> str:
    return "CA" + uuid.uuid4().hex


def genuine(application, endpoint: str) -> tuple[str, dict[str, str], int, dict[str, str]]:
    """(path, form, expected status, a different form for the same path) of a genuine request."""
    sid = new_sid()
    codec = application.state.live.codec
    if endpoint == "voice":
        form = {"CallSid": sid, "From": CALLER, "To": "+15555550199", "CallStatus": "ringing"}
        return "/twilio/voice", form, 200, {**form, "From": "+15005550006"}
    if endpoint == "continue":
        token = codec.seal(Call(call_id=sid, node="agent", caller_number=CALLER))
        path = "/twilio/continue?" + urlencode({"t": token, "e": "gather"})
        form = {"CallSid": sid, "SpeechResult": "the checkout is broken"}
        return path, form, 200, {**form, "SpeechResult": "I need a person"}
    if endpoint == "whisper":
        token = codec.seal(Call(call_id=sid, node="page_oncall", caller_number=CALLER, fields={"incident": "login down"}))
        path = "/twilio/whisper?" + urlencode({"t": token})
        form = {"CallSid": new_sid(), "To": "+4930901820"}
        return path, form, 200, {**form, "Digits": "1"}
    if endpoint == "status":
        form = {"CallSid": sid, "CallStatus": "completed"}
        return "/twilio/status", form, 204, {**form, "CallStatus": "busy"}
    raise AssertionError(endpoint)


ENDPOINTS = ["voice", "continue", "whisper", "status"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("mode", ["valid", "missing", "wrong", "replayed"])
def test_every_webhook_checks_the_signature(endpoint, mode):
    application = app()
    path, form, expected, other = genuine(application, endpoint)

    async def go():
        async with client(application) as http:
            if mode == "valid":
                return [(await http.post(path, data=form, headers={"X-Twilio-Signature": sign(path, form)})).status_code]
            if mode == "missing":
                return [(await http.post(path, data=form)).status_code]
            if mode == "wrong":
                headers = {"X-Twilio-Signature": sign(path, form, token="someone-elses-token")}
                return [(await http.post(path, data=form, headers=headers)).status_code]
            # replayed: a genuine signature captured from one request, sent with another form,
            # then the same signature on another path
            signature = sign(path, form)
            first = await http.post(path, data=form, headers={"X-Twilio-Signature": signature})
            tampered = await http.post(path, data=other, headers={"X-Twilio-Signature": signature})
            elsewhere = "/twilio/status" if endpoint != "status" else "/twilio/voice"
            moved = await http.post(elsewhere, data=form, headers={"X-Twilio-Signature": signature})
            return [first.status_code, tampered.status_code, moved.status_code]

    statuses = asyncio.run(go())
    if mode == "valid":
        assert statuses == [expected]
        assert rejected(application, "signature") == 0
    elif mode == "replayed":
        assert statuses == [expected, 403, 403]
        assert rejected(application, "signature") == 2
    else:
        assert statuses == [403]
        assert rejected(application, "signature") == 1


def test_a_replayed_new_call_is_refused_and_counted(caplog_loguru):
    """Twilio never posts /twilio/voice twice for one CallSid: a second one is a replay (403, logged, counted)."""
    application = app()
    path, form, _, _ = genuine(application, "voice")
    headers = {"X-Twilio-Signature": sign(path, form)}

    async def go():
        async with client(application) as http:
            first = await http.post(path, data=form, headers=headers)
            again = await http.post(path, data=form, headers=headers)
            return first, again

    first, again = asyncio.run(go())
    assert first.status_code == 200 and "<Response>" in first.text
    assert again.status_code == 403 and again.text == ""
    assert rejected(application, "replay") == 1
    assert any("replay" in line and form["CallSid"] in line for line in caplog_loguru)


# -- the media socket ---------------------------------------------------------------------------

MEDIA_URL = "wss://voice.example.test/twilio/media"


async def accepting_media(websocket, live) -> None:
    """A stand-in media handler: accepts a stream with a genuine token, answers one message."""
    await websocket.accept()
    try:
        while True:
            message = json.loads(await websocket.receive_text())
            if message.get("event") == "start":
                break
        start = message["start"]
        live.codec.open(start["customParameters"]["token"], start["callSid"])
        await websocket.send_text(json.dumps({"event": "accepted"}))
        await websocket.receive_text()
    except WebSocketDisconnect as exc:
        if exc.code == 1008:
            raise
    except Exception:  # noqa: BLE001 - any refusal of the stand-in handler is a 1008, like the real one
        await websocket.close(code=1008)


def stream(test_client: TestClient, signature: str | None, start: dict) -> str:
    """Open the media socket like Twilio; 'accepted', or how the server refused it."""
    headers = {"X-Twilio-Signature": signature} if signature else {}
    try:
        with test_client.websocket_connect("/twilio/media", headers=headers) as ws:
            ws.send_text(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            ws.send_text(json.dumps({"event": "start", "sequenceNumber": "1", "start": start, "streamSid": start["streamSid"]}))
            return json.loads(ws.receive_text())["event"]
    except WebSocketDisconnect as exc:
        return f"closed {exc.code}"


@pytest.mark.parametrize("mode", ["valid", "missing", "wrong", "replayed"])
def test_the_media_socket_checks_the_signature_and_refuses_a_replayed_stream(mode):
    application = app(media=accepting_media)
    sid = new_sid()
    token = application.state.live.codec.seal(Call(call_id=sid, node="agent", caller_number=CALLER))
    start = {"callSid": sid, "streamSid": "MZ" + uuid.uuid4().hex, "accountSid": "AC" + "1" * 32,
             "customParameters": {"token": token}, "tracks": ["inbound"]}
    good = sign(MEDIA_URL, {})
    with TestClient(application, base_url=PUBLIC) as test_client:
        if mode == "valid":
            assert stream(test_client, good, start) == "accepted"
            assert rejected(application, "signature") == 0 and rejected(application, "replay") == 0
        elif mode == "missing":
            assert stream(test_client, None, start) == "closed 1008"
            assert rejected(application, "signature") == 1
        elif mode == "wrong":
            assert stream(test_client, sign(MEDIA_URL, {}, token="someone-elses-token"), start) == "closed 1008"
            # a webhook's genuine signature does not open the socket either
            assert stream(test_client, sign(PUBLIC + "/twilio/voice", {}), start) == "closed 1008"
            assert rejected(application, "signature") == 2
        else:
            assert stream(test_client, good, start) == "accepted"
            replay = {**start, "streamSid": "MZ" + uuid.uuid4().hex}
            assert stream(test_client, good, replay) == "closed 1008"
            assert rejected(application, "replay") == 1
            # the next AI node of the same call gets a fresh token, and streams
            fresh = {**start, "customParameters": {"token": application.state.live.codec.seal(Call(call_id=sid, node="agent"))}}
            assert stream(test_client, good, fresh) == "accepted"


def test_the_real_media_pipeline_refuses_a_replayed_stream_before_opening_a_model_session():
    """The production handler (pipelines/twilio_realtime.py) behind the guard, over real sockets."""
    import respx

    from agent.server.app import create_app
    from agent.testing.fake_realtime import FakeModel, FakeRealtimeServer, Say
    from agent.testing.fake_twilio import CallEnded, FakeTwilioCall
    from agent.testing.live import TOKEN, live_settings
    from agent.testing.server import running_server
    from tests.conftest import HOTLINE

    async def go():
        async with FakeRealtimeServer(FakeModel([Say("Hello, what's going on?")])) as fake:
            with respx.mock(assert_all_called=False) as rest:
                rest.route(host="127.0.0.1").pass_through()
                rest.route(host="twilio.fake").respond(200, json={"sid": "CA", "status": "in-progress"})
                async with running_server(lambda base: create_app(live_settings(base, fake.url, HOTLINE))) as (base, application):
                    sid = new_sid()
                    token = application.state.live.codec.seal(Call(call_id=sid, node="agent", caller_number=CALLER))
                    url = base.replace("http://", "ws://") + "/twilio/media"
                    codes = []
                    for _ in range(2):
                        async with FakeTwilioCall(url, auth_token=TOKEN, call_sid=sid, custom_parameters={"token": token}) as call:
                            try:
                                await call.wait_for_audio(ms=200, timeout=5)
                            except (TimeoutError, CallEnded):
                                await call.wait_closed(timeout=5)
                            codes.append((call.closed_by_server, call.close_code, call.received_ms > 0))
                    return codes, len(fake.handshakes), rejected(application, "replay")

    codes, sessions, replays = asyncio.run(go())
    assert codes[0] == (False, None, True), "the genuine stream is answered"
    assert codes[1][:2] == (True, 1008) and not codes[1][2], "the replay is closed with 1008, unheard"
    assert sessions == 1 and replays == 1
