"""A caller who dials in a loop is stopped: a sliding window per number, numbers kept only as salted digests."""

from __future__ import annotations

import asyncio
import uuid

from agent.server.guards import RateLimiter
from agent.core.shared_state import MemoryState
from tests.security.support import app, client, rejected, sign

LOOPER = "+4915177700011"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(limit: int, anonymous: int, clock: Clock | None = None, max_entries: int = 1000) -> RateLimiter:
    return RateLimiter(MemoryState(max_entries, clock or Clock()), limit, 60, anonymous)


def allowed(limiter: RateLimiter, number: str | None) -> bool:
    return asyncio.run(limiter.allow(number))[0]


def test_the_window_slides():
    clock = Clock()
    looper = limiter(3, 10, clock)
    assert [allowed(looper, LOOPER) for _ in range(4)] == [True, True, True, False]
    assert allowed(looper, "+4930123456"), "other callers are not affected"
    clock.now += 30
    assert not allowed(looper, LOOPER), "refused calls do not count, but the window has not moved on yet"
    clock.now += 30.5
    assert [allowed(looper, LOOPER) for _ in range(4)] == [True, True, True, False]


def test_zero_disables_the_limit():
    state = MemoryState(1000, Clock())
    unlimited = RateLimiter(state, 0, 60, 0)
    assert all(allowed(unlimited, LOOPER) for _ in range(50))
    assert all(allowed(unlimited, None) for _ in range(50))
    assert state.keys() == []


def test_withheld_numbers_share_one_bucket_with_its_own_limit():
    looper = limiter(2, 4)
    results = [allowed(looper, n) for n in ["", None, "anonymous", "Restricted", "unknown"]]
    assert results == [True, True, True, True, False]
    assert allowed(looper, LOOPER)


def test_the_number_is_never_stored_only_a_keyed_digest():
    state = MemoryState(1000, Clock())
    looper = RateLimiter(state, 5, 60, 10)
    allowed(looper, LOOPER)
    stored = repr(vars(looper)) + repr(vars(state)) + repr(state.keys())
    for form in (LOOPER, LOOPER[1:], LOOPER[-7:]):
        assert form not in stored
    other = limiter(5, 10)
    assert other.key(LOOPER) != looper.key(LOOPER), "a random key per process"
    assert looper.key(LOOPER) == looper.key(LOOPER)


def test_memory_is_bounded():
    clock = Clock()
    seen = MemoryState(3, clock)
    assert all(asyncio.run(seen.first(k, 10)) for k in "abcd") and len(seen.keys()) == 3
    assert not asyncio.run(seen.first("d", 10))
    clock.now += 11
    assert asyncio.run(seen.first("d", 10)) and len(seen.keys()) == 1, "expired entries are dropped"
    state = MemoryState(3, clock)
    many = RateLimiter(state, 5, 60, 10)
    for i in range(10):
        allowed(many, f"+49301234{i:04d}")
    assert len(state.keys()) == 3


def test_the_server_rejects_a_looping_caller_busy_and_counts_it(caplog_loguru):
    application = app(rate_limit_calls=3, rate_limit_window_s=300)

    async def go():
        async with client(application) as http:
            out = []
            for number in [LOOPER] * 5 + ["+4930123456"]:
                form = {"CallSid": "CA" + uuid.uuid4().hex, "From": number, "To": "+15555550199", "CallStatus": "ringing"}
                response = await http.post("/twilio/voice", data=form, headers={"X-Twilio-Signature": sign("/twilio/voice", form)})
                out.append(response)
                # Twilio reports every call's end: busy for the refused ones, completed for the others.
                ended = {**form, "CallStatus": "busy" if "<Reject" in response.text else "completed"}
                await http.post("/twilio/status", data=ended, headers={"X-Twilio-Signature": sign("/twilio/status", ended)})
            return out, (await http.get("/metrics")).text

    responses, metrics = asyncio.run(go())
    assert "voice_agent_calls_active 0.0" in metrics, "refused calls were never counted as active, nor uncounted"
    assert [r.status_code for r in responses] == [200] * 6
    answered = [r.text for r in responses]
    assert all("<Reject" not in text and "<Say" in text for text in answered[:3])
    for text in answered[3:5]:
        assert '<Reject reason="busy" />' in text and "<Say" not in text and "<Dial" not in text
    assert "<Reject" not in answered[5], "another caller still gets through"
    assert rejected(application, "rate_limit") == 2
    refusals = [line for line in caplog_loguru if "rate limit" in line]
    assert len(refusals) == 2
    assert all(LOOPER not in line and LOOPER[1:] not in line for line in caplog_loguru), "the number is never logged"


def test_the_server_limit_can_be_turned_off():
    application = app(rate_limit_calls=0)

    async def go():
        async with client(application) as http:
            texts = []
            for _ in range(8):
                form = {"CallSid": "CA" + uuid.uuid4().hex, "From": LOOPER}
                texts.append((await http.post("/twilio/voice", data=form, headers={"X-Twilio-Signature": sign("/twilio/voice", form)})).text)
            return texts

    assert not any("<Reject" in text for text in asyncio.run(go()))
