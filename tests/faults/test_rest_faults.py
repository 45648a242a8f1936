"""Twilio's REST API fails or times out on the redirect: retries with backoff, then a clean end.

When every attempt fails the server closes the media stream, and Twilio runs
the ``<Redirect>`` after ``<Connect>``: the call goes on in the deterministic
mode (what the model gathered is lost: that URL's token was sealed when the
stream started).
"""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest

from agent.testing.fake_realtime import FakeModel, Say, ToolCall
from tests.faults.conftest import ON_CALL, run_fault_call

BACKOFF = [0.2, 0.4, 0.8]  # agent/live/twilio_rest.py: 0.2 s, doubling


def _deciding_model() -> FakeModel:
    """Greets and routes at once (no caller turn needed), then says the hand-over line."""
    return FakeModel([
        [Say("Hello."), ToolCall("route_call", {"intent": "talk_to_human", "summary": "wants a person"})],
        Say("Connecting you now."),
    ])


async def _listen(call, fc) -> None:
    await asyncio.sleep(20)


def _gaps(fc) -> list[float]:
    times = [a.at for a in fc.rest_attempts]
    return [b - a for a, b in itertools.pairwise(times)]


def test_redirect_failing_every_retry_closes_the_stream_and_twilio_runs_the_fallback_redirect():
    fc = asyncio.run(run_fault_call(
        _deciding_model(), _listen, rest=lambda request, fc: httpx.Response(503, text="Service Unavailable"),
        gather_turns=["I need a human"],
    ))
    assert len(fc.rest_attempts) == 4, "one attempt and rest_retries=3 retries"
    assert all(set(a.form) == {"Url", "Method", "FallbackUrl", "FallbackMethod"} for a in fc.rest_attempts)
    for gap, expected in zip(_gaps(fc), BACKOFF):
        assert expected - 0.05 <= gap <= expected + 0.35, (_gaps(fc), BACKOFF)
    assert fc.stream_closed_by_server, "the server closed the stream so Twilio moves on"
    assert any("/twilio/continue" in url and "e=gather" in url for url, _ in fc.record.requests), "the <Redirect> after <Connect> ran"
    assert "technical problem" not in fc.said and "didn't catch" not in fc.said, "it follows the decision: " + fc.said
    assert fc.record.dialled == [ON_CALL], fc.said
    assert fc.log.count("Twilio call update failed (HTTP 503") == 3
    assert "redirect of call" in fc.log and "failed (Twilio call update failed: HTTP 503" in fc.log and "closing the stream" in fc.log
    fc.assert_complete_outcome("connected")
    fc.assert_clean()


@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.ConnectError])
def test_redirect_timing_out_is_retried_with_backoff_and_then_succeeds(error):
    from tests.faults.conftest import rest_ok

    def flaky(request: httpx.Request, fc):
        if len(fc.rest_attempts) <= 2:
            raise error("Twilio did not answer", request=request)
        return rest_ok(request, fc)

    fc = asyncio.run(run_fault_call(_deciding_model(), _listen, rest=flaky))
    assert len(fc.rest_attempts) == 3
    for gap, expected in zip(_gaps(fc), BACKOFF):
        assert expected - 0.05 <= gap <= expected + 0.35, (_gaps(fc), BACKOFF)
    assert len(fc.redirects) == 1 and fc.redirects[0].endswith("e=agent") and "Please hold while I connect you" in fc.said
    assert not fc.stream_closed_by_server
    assert fc.log.count(f"Twilio call update failed ({error.__name__}") == 2
    assert fc.record.dialled == [ON_CALL]
    outcome = fc.assert_complete_outcome("connected")
    assert outcome.intent == "talk_to_human"
    fc.assert_clean()


def test_redirect_refused_with_a_client_error_is_not_retried():
    fc = asyncio.run(run_fault_call(
        _deciding_model(), _listen, rest=lambda request, fc: httpx.Response(401, json={"code": 20003, "message": "Authenticate"}),
        gather_turns=["I need a human"],
    ))
    assert len(fc.rest_attempts) == 1, "a 401 will not get better by retrying"
    assert fc.stream_closed_by_server
    assert "failed (Twilio call update failed: HTTP 401" in fc.log
    assert fc.record.dialled == [ON_CALL]
    fc.assert_complete_outcome("connected")
    fc.assert_clean()
