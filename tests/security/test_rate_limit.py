"""A caller who dials in a loop is stopped: a sliding window per number, numbers kept only as salted digests."""

from __future__ import annotations

import asyncio
import uuid

from agent.server.guards import RateLimiter, SeenOnce
from tests.security.support import app, client, rejected, sign

LOOPER = "+4915177700011"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_slides():
    clock = Clock()
    limiter = RateLimiter(3, 60, 10, 1000, clock)
    assert [limiter.allow(LOOPER)[0] for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("+4930123456")[0], "other callers are not affected"
    clock.now += 30
    assert not limiter.allow(LOOPER)[0], "refused calls do not count, but the window has not moved on yet"
    clock.now += 30.5
    assert [limiter.allow(LOOPER)[0] for _ in range(4)] == [True, True, True, False]


def test_zero_disables_the_limit():
    limiter = RateLimiter(0, 60, 0, 1000, Clock())
    assert all(limiter.allow(LOOPER)[0] for _ in range(50))
    assert all(limiter.allow(None)[0] for _ in range(50))
    assert limiter.stored_keys() == []


def test_withheld_numbers_share_one_bucket_with_its_own_limit():
    limiter = RateLimiter(2, 60, 4, 1000, Clock())
    results = [limiter.allow(n)[0] for n in ["", None, "anonymous", "Restricted", "unknown"]]
    assert results == [True, True, True, True, False]
    assert limiter.allow(LOOPER)[0]


def test_the_number_is_never_stored_only_a_salted_digest():
    limiter = RateLimiter(5, 60, 10, 1000, Clock())
    limiter.allow(LOOPER)
    state = repr(vars(limiter)) + repr(limiter.stored_keys())
    for form in (LOOPER, LOOPER[1:], LOOPER[-7:]):
        assert form not in state
    other = RateLimiter(5, 60, 10, 1000, Clock())
    assert other.key(LOOPER) != limiter.key(LOOPER), "a random salt per process"
    assert limiter.key(LOOPER) == limiter.key(LOOPER)


def test_memory_is_bounded():
    clock = Clock()
    seen = SeenOnce(ttl_s=10, max_entries=3, clock=clock)
    assert all(seen.first(k) for k in "abcd") and len(seen) == 3
    assert not seen.first("d")
    clock.now += 11
    assert seen.first("d") and len(seen) == 1, "expired entries are dropped"
    limiter = RateLimiter(5, 60, 10, 3, clock)
    for i in range(10):
        limiter.allow(f"+49301234{i:04d}")
    assert len(limiter.stored_keys()) == 3


def test_the_server_rejects_a_looping_caller_busy_and_counts_it(caplog_loguru):
    application = app(rate_limit_calls=3, rate_limit_window_s=300)

    async def go():
        async with client(application) as http:
            out = []
            for number in [LOOPER] * 5 + ["+4930123456"]:
                form = {"CallSid": "CA" + uuid.uuid4().hex, "From": number, "To": "+15555550199", "CallStatus": "ringing"}
                out.append(await http.post("/twilio/voice", data=form, headers={"X-Twilio-Signature": sign("/twilio/voice", form)}))
            return out

    responses = asyncio.run(go())
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
