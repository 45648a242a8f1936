"""The engineer's briefing: summarised by a model when configured, the template when it is slow or fails.

OpenAI is mocked through the contract checker (tests/contracts): every answer is an instance of OpenAI's
published spec (the spec's own documented example, with our text) and every request we send is checked.
"""

import asyncio
import json

import httpx
import pytest
import respx

from agent.conversation.briefing import SUMMARY_PROMPT, engineer_briefing, spoken_briefing
from agent.core.call import Call
from agent.core.settings import Settings
from tests.contracts.checker import checked, contract_route
from tests.contracts.openai import chat_completion

CALL = Call(caller_number="+4915112345678", fields={"caller_name": "Jane Doe", "incident": "login times out", "affected_services": ["Login"]})
SETTINGS = dict(openai_api_key="sk-test", openai_base_url="https://openai.test/v1", briefing_model="gpt-test", briefing_timeout_s=0.5)
URL = "https://openai.test/v1/chat/completions"


def test_the_template_without_a_model():
    text = asyncio.run(engineer_briefing(CALL, "System outage", Settings(openai_api_key=None)))
    assert text == spoken_briefing(CALL, "System outage")
    assert "Jane Doe" in text and "Login" in text and "+49 1511 2345678" in text


def test_the_model_summarises_with_only_the_call_facts():
    with respx.mock() as mock:
        route = contract_route(mock, "openai", "POST", URL, json=chat_completion("Jane Doe: login down for everyone.", model="gpt-test"))
        text = asyncio.run(engineer_briefing(CALL, "System outage", Settings(**SETTINGS)))
    assert text == "Jane Doe: login down for everyone."
    sent = json.loads(route.calls.last.request.content)
    assert sent["model"] == "gpt-test" and sent["max_completion_tokens"] == 120 and "max_tokens" not in sent
    assert [m["role"] for m in sent["messages"]] == ["system", "user"] and sent["messages"][0]["content"] == SUMMARY_PROMPT
    assert "login times out" in sent["messages"][1]["content"]


@pytest.mark.parametrize("text, finish_reason", [("Jane Doe: login down for", "length"), (None, "content_filter"), ("", "stop")])
def test_a_cut_off_filtered_or_empty_answer_falls_back_to_the_template(text, finish_reason):
    with respx.mock() as mock:
        contract_route(mock, "openai", "POST", URL, json=chat_completion(text, model="gpt-test", finish_reason=finish_reason))
        briefing = asyncio.run(engineer_briefing(CALL, "System outage", Settings(**SETTINGS)))
    assert briefing == spoken_briefing(CALL, "System outage")


def test_a_failing_or_slow_model_falls_back_to_the_template():
    async def slow(request):
        await asyncio.sleep(2)
        return httpx.Response(200, json=chat_completion("too late", model="gpt-test"))

    # Fault injection: an undeclared 500 and an answer after the deadline (requests still checked).
    for respond in (lambda request: httpx.Response(500, json={"error": {"message": "boom"}}), slow):
        with respx.mock(assert_all_called=False) as mock:
            mock.post(URL).mock(side_effect=checked("openai", respond))
            text = asyncio.run(engineer_briefing(CALL, "System outage", Settings(**SETTINGS)))
        assert text == spoken_briefing(CALL, "System outage")
