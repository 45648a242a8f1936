"""The embedding example: the agent mounted under a prefix in someone else's FastAPI app."""

import asyncio

import httpx

from agent.settings import Settings
from agent.testing.twiml_interpreter import TwimlInterpreter
from examples.embed_fastapi.app import build_app
from tests.conftest import HOTLINE

PUBLIC = "https://bots.example.com"


def test_a_call_completes_through_the_mounted_router_and_own_routes_still_work():
    settings = Settings(flow=str(HOTLINE), public_base_url=PUBLIC, twilio_auth_token="tok", twilio_account_sid="AC" + "2" * 32, engine="offline")
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
    assert record.dialled == ["+4930901820"]
    assert all(url.startswith(PUBLIC + "/hotline/twilio/") for url, _ in record.requests)
    assert "voice_agent_calls_active" in metrics
