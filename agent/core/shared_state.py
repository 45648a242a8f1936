"""What the replicas of one hotline must agree on: served calls, call counts per number, reported problems.

Four things outlive a request: which CallSids and stream invitations were
already served (replay protection), how many calls each number placed lately
(the rate limit), which problems callers reported (one outage, one alert),
and the calls still going on (their latest sealed token, so a hang-up that
no webhook reports still gets its outcome record, written once). One process keeps them in memory (:class:`MemoryState`); replicas
behind a load balancer share them through Redis (:class:`RedisState`, set
``VOICE_AGENT_STATE_URL=redis://…``), so no request needs sticky routing and
a restart of one replica forgets nothing.

Nothing stored is about a caller in clear: keys are CallSids, digests of
stream tokens and keyed digests of numbers (see :mod:`agent.server.guards`);
reports hold a dedup key, a service name, an alert link and a count; a call
in progress is its sealed token, encrypted with the deployment's secret,
deleted when the call ends. Every entry expires.

When Redis fails, the hotline still answers: :class:`RedisState` fails open
(a call counts as first and allowed, no reports are known) and logs it.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from loguru import logger

Clock = Callable[[], float]
MAX_REPORTS = 10_000  # bounded: a flood of distinct keys cannot grow memory without limit


@dataclass
class Report:
    """A problem callers reported: its alert's dedup key, the service, the alert's link, how many callers."""

    dedup_key: str
    service: str | None  # as the flow's facts name it
    url: str | None
    callers: int
    expires: float


class SharedState(Protocol):
    async def first(self, key: str, ttl_s: float) -> bool:
        """True the first time ``key`` is offered within ``ttl_s``; False for a repeat (a replay)."""

    async def allow(self, bucket: str, limit: int, window_s: float) -> bool:
        """Whether one more event fits ``limit`` per sliding ``window_s`` in ``bucket``; counted only when it does."""

    async def put(self, key: str, value: str, ttl_s: float) -> None:
        """Keep ``value`` under ``key`` for ``ttl_s`` (replacing what was there)."""

    async def get(self, key: str) -> str | None:
        """The value under ``key``, left in place (a webhook Twilio retries reads it again)."""

    async def take(self, key: str) -> str | None:
        """The value under ``key``, removed (exactly one caller gets it)."""

    async def add_report(self, dedup_key: str, service: str | None, url: str | None, ttl_s: float) -> None:
        """One more caller reported the problem ``dedup_key``; it stays open ``ttl_s`` from now."""

    async def report(self, dedup_key: str) -> Report | None:
        """The open report for ``dedup_key``, if any."""

    async def reports(self) -> list[Report]:
        """Every open report (at most :data:`MAX_REPORTS`)."""

    async def clear(self) -> None:
        """Forget everything (tests)."""

    async def aclose(self) -> None:
        """Release connections."""


class MemoryState:
    """This process's memory: at most ``max_entries`` served keys and rate buckets (oldest dropped first)."""

    def __init__(self, max_entries: int = 100_000, clock: Clock = time.monotonic) -> None:
        self._max = max(1, max_entries)
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # key -> expiry, in insertion order
        self._windows: OrderedDict[str, deque[float]] = OrderedDict()  # bucket -> event times, least recent first
        self._values: OrderedDict[str, tuple[str, float]] = OrderedDict()  # key -> (value, expiry)
        self._reports: dict[str, Report] = {}

    async def first(self, key: str, ttl_s: float) -> bool:
        now = self._clock()
        while self._seen:
            oldest, expiry = next(iter(self._seen.items()))
            if expiry > now:
                break
            del self._seen[oldest]
        expiry = self._seen.get(key)
        if expiry is not None and expiry > now:
            return False
        self._seen.pop(key, None)
        self._seen[key] = now + ttl_s
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return True

    async def allow(self, bucket: str, limit: int, window_s: float) -> bool:
        now = self._clock()
        events = self._windows.pop(bucket, None) or deque()
        while events and events[0] <= now - window_s:
            events.popleft()
        allowed = len(events) < limit
        if allowed:
            events.append(now)
        if events:
            self._windows[bucket] = events  # most recently used last
        while len(self._windows) > self._max:
            self._windows.popitem(last=False)
        return allowed

    async def put(self, key: str, value: str, ttl_s: float) -> None:
        self._values.pop(key, None)
        self._values[key] = (value, self._clock() + ttl_s)
        while len(self._values) > self._max:
            self._values.popitem(last=False)

    async def get(self, key: str) -> str | None:
        value, expiry = self._values.get(key, (None, 0.0))
        return value if value is not None and expiry > self._clock() else None

    async def take(self, key: str) -> str | None:
        value, expiry = self._values.pop(key, (None, 0.0))
        return value if value is not None and expiry > self._clock() else None

    async def add_report(self, dedup_key: str, service: str | None, url: str | None, ttl_s: float) -> None:
        report = await self.report(dedup_key)
        if report is None:
            if len(self._reports) >= MAX_REPORTS:
                self._reports.pop(next(iter(self._reports)))
            report = self._reports[dedup_key] = Report(dedup_key, service, url, 0, 0.0)
        report.callers += 1
        report.url = report.url or url
        report.expires = self._clock() + ttl_s

    async def report(self, dedup_key: str) -> Report | None:
        report = self._reports.get(dedup_key)
        if report is not None and report.expires <= self._clock():
            del self._reports[dedup_key]
            return None
        return report

    async def reports(self) -> list[Report]:
        now = self._clock()
        return [r for r in self._reports.values() if r.expires > now]

    async def clear(self) -> None:
        self._seen.clear()
        self._windows.clear()
        self._values.clear()
        self._reports.clear()

    async def aclose(self) -> None:
        return None

    def keys(self) -> list[str]:
        """Everything this process remembers under a key (what a privacy check must look at)."""
        return [*self._seen, *self._windows, *self._values, *self._reports]


class RedisState:
    """Redis shared by every replica; every key under ``prefix``, every key with an expiry."""

    def __init__(self, client: Any, prefix: str = "voice-agent:") -> None:
        self._redis = client  # redis.asyncio.Redis (or a compatible fake)
        self._prefix = prefix
        self._failures = 0

    @classmethod
    def from_url(cls, url: str, prefix: str = "voice-agent:", timeout_s: float = 0.5) -> RedisState:
        import redis.asyncio as redis

        client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True)
        return cls(client, prefix)

    async def first(self, key: str, ttl_s: float) -> bool:
        try:
            return bool(await self._redis.set(self._prefix + "seen:" + key, "1", nx=True, px=_ms(ttl_s)))
        except Exception as exc:  # noqa: BLE001 - Redis down must not stop the hotline
            return self._failed("first", exc, True)

    async def allow(self, bucket: str, limit: int, window_s: float) -> bool:
        key = self._prefix + "rate:" + bucket
        now = time.time()
        member = f"{now:.6f}:{uuid.uuid4().hex[:8]}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(key, "-inf", now - window_s)
                pipe.zadd(key, {member: now})
                pipe.zcard(key)
                pipe.pexpire(key, _ms(window_s))
                _, _, count, _ = await pipe.execute()
            if count <= limit:
                return True
            await self._redis.zrem(key, member)  # refused calls do not count
            return False
        except Exception as exc:  # noqa: BLE001
            return self._failed("allow", exc, True)

    async def put(self, key: str, value: str, ttl_s: float) -> None:
        try:
            await self._redis.set(self._prefix + "value:" + key, value, px=_ms(ttl_s))
        except Exception as exc:  # noqa: BLE001
            self._failed("put", exc, None)

    async def get(self, key: str) -> str | None:
        try:
            return await self._redis.get(self._prefix + "value:" + key)
        except Exception as exc:  # noqa: BLE001
            return self._failed("get", exc, None)

    async def take(self, key: str) -> str | None:
        try:
            return await self._redis.getdel(self._prefix + "value:" + key)
        except Exception as exc:  # noqa: BLE001
            return self._failed("take", exc, None)

    async def add_report(self, dedup_key: str, service: str | None, url: str | None, ttl_s: float) -> None:
        key = self._prefix + "report:" + dedup_key
        expires = time.time() + ttl_s
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(key, "callers", 1)
                if service:
                    pipe.hsetnx(key, "service", service)
                if url:
                    pipe.hsetnx(key, "url", url)
                pipe.hset(key, "expires", f"{expires:.3f}")
                pipe.pexpire(key, _ms(ttl_s))
                index = self._prefix + "reports"  # dedup keys by expiry; lives as long as its newest report
                pipe.zadd(index, {dedup_key: expires})
                pipe.zremrangebyscore(index, "-inf", time.time())
                pipe.zremrangebyrank(index, 0, -MAX_REPORTS - 1)  # keep the newest
                pipe.pexpire(index, _ms(ttl_s))
                await pipe.execute()
        except Exception as exc:  # noqa: BLE001
            self._failed("add_report", exc, None)

    async def report(self, dedup_key: str) -> Report | None:
        try:
            return _report(dedup_key, await self._redis.hgetall(self._prefix + "report:" + dedup_key))
        except Exception as exc:  # noqa: BLE001
            return self._failed("report", exc, None)

    async def reports(self) -> list[Report]:
        index = self._prefix + "reports"
        try:
            keys = await self._redis.zrangebyscore(index, time.time(), "+inf", start=0, num=MAX_REPORTS)
            if not keys:
                return []
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(self._prefix + "report:" + key)
                found = await pipe.execute()
        except Exception as exc:  # noqa: BLE001
            return self._failed("reports", exc, [])
        return [r for key, fields in zip(keys, found) if (r := _report(key, fields)) is not None]

    async def clear(self) -> None:
        async for key in self._redis.scan_iter(match=self._prefix + "*"):
            await self._redis.delete(key)

    async def aclose(self) -> None:
        await self._redis.aclose()

    def _failed(self, operation: str, exc: Exception, answer: Any) -> Any:
        self._failures += 1
        if self._failures <= 5 or self._failures % 100 == 0:
            logger.warning("shared state (Redis) failed in {} ({}); going on without it", operation, type(exc).__name__)
        return answer


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _report(dedup_key: str, fields: dict[str, str]) -> Report | None:
    if not fields or "callers" not in fields:
        return None
    return Report(
        dedup_key, fields.get("service") or None, fields.get("url") or None,
        int(fields.get("callers", 0)), float(fields.get("expires", 0.0)),
    )


def open_state(url: str | None, *, prefix: str = "voice-agent:", max_entries: int = 100_000) -> SharedState:
    """Redis when ``url`` is set (``redis://``, ``rediss://``, ``unix://``), else this process's memory."""
    if url:
        return RedisState.from_url(url, prefix)
    return MemoryState(max_entries)
