"""Shared state: the same behaviour in this process's memory and in Redis (fakeredis, same protocol semantics).

Replicas that share Redis agree on replays, rate-limit buckets and reported
problems; when Redis is down the hotline still answers (fails open).
"""

from __future__ import annotations

import asyncio

import fakeredis
import pytest

import agent.core.shared_state as shared_state
from agent.server.guards import Guards
from agent.core.settings import Settings
from agent.core.shared_state import MemoryState, RedisState, open_state


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(params=["memory", "redis"])
def backend(request):
    """(state, advance): ``advance(seconds)`` moves time on (a fake clock in memory, real sleep for Redis TTLs)."""
    if request.param == "memory":
        clock = Clock()

        def advance(seconds: float) -> None:
            clock.now += seconds

        return MemoryState(1000, clock), advance, 1.0
    server = fakeredis.FakeServer()
    state = RedisState(fakeredis.FakeAsyncRedis(server=server, decode_responses=True), prefix="t:")
    return state, None, 0.05  # Redis: TTLs in real time, scaled down


def test_a_key_is_first_once_until_it_expires(backend):
    state, advance, scale = backend

    async def go():
        assert await state.first("call:CA1", 10 * scale)
        assert not await state.first("call:CA1", 10 * scale), "a replay"
        assert await state.first("call:CA2", 10 * scale)
        if advance:
            advance(11)
        else:
            await asyncio.sleep(11 * scale)
        assert await state.first("call:CA1", 10 * scale), "forgotten after its time"

    run(go())


def test_the_window_slides_and_refused_events_do_not_count(backend):
    state, advance, scale = backend

    async def go():
        assert [await state.allow("b", 3, 60 * scale) for _ in range(4)] == [True, True, True, False]
        assert await state.allow("other", 3, 60 * scale)
        if advance:
            advance(61)
        else:
            await asyncio.sleep(61 * scale)
        assert [await state.allow("b", 3, 60 * scale) for _ in range(4)] == [True, True, True, False]

    run(go())


def test_reports_count_callers_keep_the_first_link_and_expire(backend):
    state, advance, scale = backend

    async def go():
        await state.add_report("outage:checkout", "Checkout", None, 60 * scale)
        await state.add_report("outage:checkout", "Other", "https://acme.ilert.com/alert/1", 60 * scale)
        await state.add_report("outage:checkout", None, "https://acme.ilert.com/alert/2", 60 * scale)
        report = await state.report("outage:checkout")
        assert (report.callers, report.service, report.url) == (3, "Checkout", "https://acme.ilert.com/alert/1")
        assert [r.dedup_key for r in await state.reports()] == ["outage:checkout"]
        assert await state.report("outage:login") is None
        if advance:
            advance(61)
        else:
            await asyncio.sleep(61 * scale)
        assert await state.report("outage:checkout") is None and await state.reports() == []

    run(go())


def test_reports_are_bounded(backend, monkeypatch):
    state, _, scale = backend
    monkeypatch.setattr(shared_state, "MAX_REPORTS", 5)

    async def go():
        for i in range(8):
            await state.add_report(f"incident:svc{i}", None, None, 60 + i)
        keys = {r.dedup_key for r in await state.reports()}
        assert len(keys) == 5 and "incident:svc7" in keys and "incident:svc0" not in keys

    run(go())


def test_replicas_sharing_redis_agree_on_replays_buckets_and_reports():
    server = fakeredis.FakeServer()
    settings = Settings(token_secret="s" * 32, rate_limit_calls=2)
    replica_a = Guards(settings, RedisState(fakeredis.FakeAsyncRedis(server=server, decode_responses=True)))
    replica_b = Guards(settings, RedisState(fakeredis.FakeAsyncRedis(server=server, decode_responses=True)))
    form = {"CallSid": "CA" + "1" * 32, "From": "+4915177700011"}

    async def go():
        assert await replica_a.check_call(form) is None
        assert await replica_b.check_call(form) == "replay", "the other replica served this CallSid"
        assert await replica_b.check_call({**form, "CallSid": "CA" + "2" * 32}) is None
        assert await replica_a.check_call({**form, "CallSid": "CA" + "3" * 32}) == "rate_limit", "one bucket for both"
        await replica_a.state.add_report("outage:checkout", "Checkout", None, 60)
        assert (await replica_b.state.report("outage:checkout")).callers == 1

    run(go())
    assert replica_a.rate.key("+4915177700011") == replica_b.rate.key("+4915177700011")
    assert Guards(settings).rate.key("+4915177700011") != replica_a.rate.key("+4915177700011"), "memory: a random key"


def test_redis_holds_no_caller_number_and_every_key_expires():
    server = fakeredis.FakeServer()
    redis = fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
    guards = Guards(Settings(token_secret="s" * 32), RedisState(redis))

    async def go():
        await guards.check_call({"CallSid": "CA" + "4" * 32, "From": "+4915177700011"})
        await guards.state.add_report("outage:checkout", "Checkout", "https://acme.ilert.com/alert/1", 60)
        dump = []
        async for key in redis.scan_iter():
            assert await redis.pttl(key) > 0, f"{key} never expires"
            kind = await redis.type(key)
            value = (await redis.zrange(key, 0, -1) if kind == "zset" else
                     await redis.hgetall(key) if kind == "hash" else await redis.get(key))
            dump.append(f"{key}={value}")
        return " ".join(dump)

    dump = run(go())
    for form in ("+4915177700011", "4915177700011", "77700011"):
        assert form not in dump


def test_a_redis_outage_fails_open_and_is_logged(caplog_loguru):
    state = open_state("redis://127.0.0.1:1/0")  # nothing listens there
    assert isinstance(state, RedisState)

    async def go():
        results = (await state.first("call:CA1", 10), await state.first("call:CA1", 10), await state.allow("b", 1, 60),
                   await state.allow("b", 1, 60), await state.reports(), await state.report("x"))
        await state.add_report("outage:x", None, None, 60)
        await state.aclose()
        return results

    assert run(go()) == (True, True, True, True, [], None), "no replay or limit can be proven: calls go on"
    assert any("shared state (Redis) failed" in line for line in caplog_loguru)


def test_shared_state_without_a_token_secret_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="VOICE_AGENT_TOKEN_SECRET"):
        Guards(Settings(), RedisState(fakeredis.FakeAsyncRedis()))


def test_memory_is_the_default():
    assert isinstance(open_state(None), MemoryState)
