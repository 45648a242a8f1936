"""The engineer's briefing: summarised by a model when configured, the template when it is slow or fails."""

import asyncio

import httpx
import respx

from agent.briefing import engineer_briefing, spoken_briefing
from agent.call import Call
from agent.settings import Settings

CALL = Call(caller_number="+4915112345678", fields={"caller_name": "Jane Doe", "incident": "login times out", "affected_services": ["Login"]})
SETTINGS = dict(openai_api_key="sk-test", openai_base_url="https://openai.test/v1", briefing_model="gpt-test", briefing_timeout_s=0.5)


def completion(text):
    return httpx.Response(200, json={
        "id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-test",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
    })


def test_the_template_without_a_model():
    text = asyncio.run(engineer_briefing(CALL, "System outage", Settings(openai_api_key=None)))
    assert text == spoken_briefing(CALL, "System outage")
    assert "Jane Doe" in text and "Login" in text and "+49 1511 2345678" in text


def test_the_model_summarises_with_only_the_call_facts():
    with respx.mock() as mock:
        route = mock.post("https://openai.test/v1/chat/completions").mock(return_value=completion("Jane Doe: login down for everyone."))
        text = asyncio.run(engineer_briefing(CALL, "System outage", Settings(**SETTINGS)))
    assert text == "Jane Doe: login down for everyone."
    sent = route.calls.last.request.content.decode()
    assert "login times out" in sent and "gpt-test" in sent


def test_a_failing_or_slow_model_falls_back_to_the_template():
    async def slow(request):
        await asyncio.sleep(2)
        return completion("too late")

    for side_effect in (httpx.Response(500, json={"error": {"message": "boom"}}), slow):
        with respx.mock(assert_all_called=False) as mock:
            mock.post("https://openai.test/v1/chat/completions").mock(side_effect=side_effect)
            text = asyncio.run(engineer_briefing(CALL, "System outage", Settings(**SETTINGS)))
        assert text == spoken_briefing(CALL, "System outage")
