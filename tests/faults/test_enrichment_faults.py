"""An enrichment API hangs, answers 500 or answers garbage: the source is dropped by name, the call goes on.

The flow has three sources: an ``http_json`` health API and a ``statuspage``
(both broken by the test, through respx on their URLs; what the statuspage source
sends is still checked against Statuspage's documented API, tests/contracts) and the
example's ``static`` facts (healthy). The model gets the healthy facts by the node's
deadline; the broken sources are logged and left out.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from agent.testing.fake_realtime import FakeModel, Say, ToolCall
from tests.conftest import EXAMPLES
from tests.contracts.checker import checked
from tests.faults.conftest import FALLBACK_LINE, QUICK_ON_CALL, run_fault_call

HEALTH = "https://health.faults.test/api/status"
STATUS_PAGE = "https://status.faults.test"
DEADLINE_MS = 600


def _flow(tmp_path):
    path = tmp_path / "enriched.yaml"
    path.write_text(f"""
name: Enriched
start: agent
nodes:
  agent:
    type: ai_agent
    greeting: Hello, what's going on?
    intents: {{incident: human, talk_to_human: human}}
    gathers: [caller_name]
    fallback: human
    enrichment:
      deadline_ms: {DEADLINE_MS}
      sources:
        - type: http_json
          name: health_api
          url: {HEALTH}
          facts: [{{kind: service_state, items: services, fields: {{service: name, status: state}}}}]
        - {{type: statuspage, name: status_page, page_url: "{STATUS_PAGE}"}}
        - {{type: static, path: {EXAMPLES / "facts" / "acme.yaml"}}}
  human: {{type: route_call, targets: [{{type: number, number: "{QUICK_ON_CALL}"}}]}}
""")
    return path


HTTP_TIMEOUT_S = 1.0  # settings.http_timeout_s: httpx gives up on a hanging API after this


async def _hang(request):
    """No answer: httpx's own timeout ends the request (respx does not enforce timeouts, so this does)."""
    await asyncio.sleep(HTTP_TIMEOUT_S)
    raise httpx.ReadTimeout("timed out", request=request)


FAULTS = {
    "hangs": (lambda request: _hang(request), "missed the 600 ms deadline", "missed the 600 ms deadline"),
    "500": (lambda request: httpx.Response(500, text="Internal Server Error"), "answered HTTP 500", "status page server error (500)"),
    "garbage": (lambda request: httpx.Response(200, text="<html>502 Bad Gateway</html>"), "did not answer JSON", "malformed JSON"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_enrichment_api_fault_is_dropped_and_the_call_goes_on(tmp_path, fault):
    respond, health_log, page_log = FAULTS[fault]
    model = FakeModel([
        Say("Hello, what's going on?"),
        ToolCall("route_call", {"intent": "talk_to_human", "summary": "wants a person"}),
        Say("Connecting you now."),
    ])

    def mock(router):
        router.get(HEALTH).mock(side_effect=respond)  # http_json: the user's own API, no vendor contract
        router.get(f"{STATUS_PAGE}/api/v2/summary.json").mock(side_effect=checked("statuspage", respond))  # requests checked

    async def caller(call, fc):
        started = asyncio.get_running_loop().time()
        await call.wait_for_audio(ms=100, timeout=10)
        await fc.fake.wait_for("session.update", count=2, timeout=5)  # the facts, by the deadline
        fc.notes["facts_after"] = asyncio.get_running_loop().time() - started
        await call.wait_until_quiet(ms=300, timeout=10)
        fc.fake.caller_said("get me a person")
        await call.say(800)
        await call.silence(600)

    fc = asyncio.run(run_fault_call(model, caller, flow=_flow(tmp_path), mock=mock, settings={"http_timeout_s": HTTP_TIMEOUT_S}))
    kinds = [e["type"] for e in fc.fake.received]
    facts_update = [i for i, kind in enumerate(kinds) if kind == "session.update"][1]
    assert kinds.index("response.create") < facts_update, "the greeting was asked for before the sources answered"
    assert fc.notes["facts_after"] < DEADLINE_MS / 1000 + 1.5, "the facts arrived by the deadline"
    instructions = fc.fake.session.config["instructions"]
    assert "INC-1042" in instructions or "Checkout API returning 502 errors" in instructions, "the healthy source's facts arrived"
    assert "enrichment source health_api dropped" in fc.log and health_log in fc.log
    assert "enrichment source status_page dropped" in fc.log and page_log in fc.log
    assert FALLBACK_LINE not in fc.said and fc.record.dialled == [QUICK_ON_CALL]
    outcome = fc.assert_complete_outcome("connected")
    assert outcome.intent == "talk_to_human"
    fc.assert_clean()
