"""The embedding example: the agent mounted under a prefix in someone else's FastAPI app."""

import asyncio
import json
import re
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from agent.server.app import create_app, voice_agent_router
from agent.core.settings import Settings
from agent.testing.twiml_interpreter import TwimlInterpreter
from examples.embed_fastapi.app import build_app
from tests.conftest import HOTLINE

PUBLIC = "https://bots.example.com"


def test_a_call_completes_through_the_mounted_router_and_own_routes_still_work():
    settings = Settings(flow=str(HOTLINE), public_base_url=PUBLIC, twilio_auth_token="tok", twilio_account_sid="AC" + "2" * 32, engine="deterministic")
    app = build_app(settings)

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
            home = (await client.get("/")).json()
            twilio = TwimlInterpreter(client, PUBLIC, auth_token="tok")
            record = await twilio.call(["I need a person"], voice_path="/hotline/twilio/voice")
            metrics = (await client.get("/hotline/metrics")).text
            return home, record, metrics

    home, record, metrics = asyncio.run(go())
    assert home == {"service": "our bots"}
    assert record.dialled == ["+4930901820"] and record.whispers
    assert all(status == 200 for status in record.statuses), record.statuses
    assert all(url.startswith(PUBLIC + "/hotline/twilio/") for url, _ in record.requests)
    assert "voice_agent_calls_active" in metrics


# -- the README's snippet, as written: the public URL is the bare origin ------------------------

ORIGIN_ONLY = dict(flow=str(HOTLINE), public_base_url=PUBLIC, twilio_auth_token="tok", twilio_account_sid="AC" + "2" * 32, engine="deterministic")
URL = re.compile(r"(?:https|wss)://[^\s\"<]+")


async def stand_in_media(websocket, live) -> None:
    """A media handler that accepts a genuine stream and tells where the call would be redirected (the REST Url=)."""
    await websocket.accept()
    while True:
        message = json.loads(await websocket.receive_text())
        if message.get("event") == "start":
            break
    state = await live.states.open(message["start"]["customParameters"]["token"], message["start"]["callSid"])
    await websocket.send_text(json.dumps({"event": "accepted", "redirect": await live.failover_url(state)}))
    await websocket.close()


def readme_app(how: str) -> FastAPI:
    settings = Settings(**ORIGIN_ONLY)
    app = FastAPI()
    if how == "include_router":
        app.include_router(voice_agent_router(settings, media=stand_in_media), prefix="/hotline")
    else:  # the whole server mounted at a path of another app
        app.mount("/hotline", create_app(settings, media=stand_in_media))
    return app


@pytest.mark.parametrize("how", ["include_router", "mount"])
def test_the_readme_snippet_serves_a_whole_call_with_every_url_under_the_prefix(how):
    app = readme_app(how)
    streams: list[tuple[str, dict[str, str]]] = []

    async def on_stream(url: str, params: dict[str, str]) -> None:
        streams.append((url, params))  # the stream is opened below; the call goes on by the TwiML's own <Redirect>

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
            twilio = TwimlInterpreter(client, PUBLIC, auth_token="tok", on_stream=on_stream, status_callback="/hotline/twilio/status")
            return twilio, await twilio.call(["I need a person"], voice_path="/hotline/twilio/voice")

    twilio, record = asyncio.run(go())
    assert all(status in (200, 204) for status in record.statuses), record.statuses
    assert record.dialled == ["+4930901820"] and record.whispers and not record.said[-1].startswith("Sorry, something")
    handed = [url.replace("&amp;", "&") for doc in record.documents for url in URL.findall(doc)]
    assert handed and all(url.startswith((PUBLIC + "/hotline/twilio/", "wss://bots.example.com/hotline/twilio/")) for url in handed), handed
    assert {url.split("?")[0] for url in handed} >= {
        PUBLIC + "/hotline/twilio/continue", PUBLIC + "/hotline/twilio/whisper", "wss://bots.example.com/hotline/twilio/media",
    }
    assert all(url.startswith(PUBLIC + "/hotline/twilio/") for url, _ in record.requests)

    # Twilio opens the stream at the URL it was given, signed over that URL
    (stream_url, params), = streams
    signature = RequestValidator("tok").compute_signature(stream_url, {})
    with TestClient(app, base_url=PUBLIC) as test_client:
        with test_client.websocket_connect(urlsplit(stream_url).path, headers={"X-Twilio-Signature": signature}) as ws:
            start = {"callSid": twilio.call_sid, "streamSid": "MZ" + "3" * 32, "accountSid": "AC" + "2" * 32, "customParameters": params}
            ws.send_text(json.dumps({"event": "start", "sequenceNumber": "1", "start": start, "streamSid": start["streamSid"]}))
            answer = json.loads(ws.receive_text())
    assert answer["event"] == "accepted"
    assert answer["redirect"].startswith(PUBLIC + "/hotline/twilio/continue?"), "the AI node's REST redirect follows the prefix too"
