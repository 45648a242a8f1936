"""Enrichment: building a node's sources and fetching their facts concurrently under a deadline."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from loguru import logger
from pydantic import BaseModel, ValidationError

from agent.core.facts import Fact
from agent.flow.models import EnrichmentConfig, PluginRef, SourceConfig
from agent.core.alert_ledger import REPORTS
from agent.core.settings import Settings


class EnrichmentSource(Protocol):
    """What a source plugin's class builds: something that fetches facts for a call."""

    name: str

    async def fetch(self, call: Any) -> list[Fact]: ...


@dataclass
class SourceContext:
    """What a source may need besides its own config."""

    settings: Settings
    base_dir: Path


class SourceConfigError(ValueError):
    """A source entry in a flow that its plugin cannot use."""


def build_source(config: SourceConfig, registry_sources: dict[str, Any], context: SourceContext) -> EnrichmentSource:
    """Instantiate one configured source; raises :class:`SourceConfigError` with what to fix."""
    return build_plugin(config, registry_sources, context, kind="enrichment source")


def build_plugin(config: PluginRef, classes: dict[str, Any], context: SourceContext, *, kind: str) -> Any:
    """Instantiate a plugin a flow refers to (source, alert platform, on-call directory)."""
    cls = classes.get(config.type)
    if cls is None:
        raise SourceConfigError(f"unknown {kind} type {config.type!r}")
    options: Any = config.options
    model = getattr(cls, "Config", None)
    if isinstance(model, type) and issubclass(model, BaseModel):
        try:
            options = model.model_validate(options)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            raise SourceConfigError(f"source {config.type!r}: " + (f"{where}: " if where else "") + message) from exc
    try:
        source = cls(options, context)
    except (OSError, ValueError) as exc:
        raise SourceConfigError(f"source {config.type!r}: {exc}") from exc
    source.name = config.name or getattr(source, "name", None) or config.type
    if config.timeout_ms is not None:
        source.timeout_s = config.timeout_ms / 1000
    if getattr(config, "cache_ttl_s", None) is not None:
        source.cache_ttl_s = config.cache_ttl_s
    source.cache_key = f"{config.type}:{json.dumps(config.options, sort_keys=True, default=str)}"
    return source


class FactCache:
    """Facts about systems (never about callers), shared by every call for a few seconds.

    During an outage hundreds of people call at once; each source is asked at
    most once per TTL, and calls that arrive while it is being asked wait for
    that same answer — also after their own deadline dropped it, so a hung
    API is not asked again by every caller. A failed fetch is remembered for
    at most ``FAILED_TTL_S``: a failing API is not hammered, and later turns
    do not wait for it again. Only sources that declare ``cache_ttl_s`` (facts
    that do not depend on the call) are cached.
    """

    FAILED_TTL_S = 2.0

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, asyncio.Future[list[Fact]]]] = {}

    async def get(self, key: str, ttl_s: float, fetch: Any) -> list[Fact]:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and (entry[0] > now or not entry[1].done()):
            return [fact.model_copy() for fact in await asyncio.shield(entry[1])]
        future: asyncio.Future[list[Fact]] = asyncio.ensure_future(fetch())
        self._entries[key] = (now + ttl_s, future)
        future.add_done_callback(lambda done: self._settled(key, done, ttl_s))
        return [fact.model_copy() for fact in await asyncio.shield(future)]

    def _settled(self, key: str, future: asyncio.Future[list[Fact]], ttl_s: float) -> None:
        if future.cancelled() or future.exception() is not None:  # (also marks the exception as seen)
            entry = self._entries.get(key)
            if entry is not None and entry[1] is future:
                self._entries[key] = (time.monotonic() + min(ttl_s, self.FAILED_TTL_S), future)

    def clear(self) -> None:
        self._entries.clear()


FACT_CACHE = FactCache()


@dataclass
class EnrichmentResult:
    facts: list[Fact]
    timings_ms: dict[str, float]
    dropped: dict[str, str]


async def _timed_fetch(source: EnrichmentSource, call: Any) -> tuple[list[Fact], float]:
    started = time.perf_counter()
    timeout = getattr(source, "timeout_s", None)

    async def fetch() -> list[Fact]:
        return list(await asyncio.wait_for(source.fetch(call), timeout) if timeout else await source.fetch(call))

    ttl = getattr(source, "cache_ttl_s", 0) or 0
    facts = await FACT_CACHE.get(source.cache_key, ttl, fetch) if ttl > 0 else await fetch()
    return list(facts or []), (time.perf_counter() - started) * 1000


async def fetch_facts(sources: list[EnrichmentSource], call: Any, deadline_s: float) -> EnrichmentResult:
    """Fetch every source at once; whatever is late or fails is dropped and logged, never raised.

    The problems other callers reported recently (:mod:`agent.core.alert_ledger`) always come first.
    """
    result = EnrichmentResult(await REPORTS.facts(), {}, {})
    if not sources:
        return result
    tasks = {asyncio.ensure_future(_timed_fetch(s, call)): s for s in sources}
    done, pending = await asyncio.wait(tasks, timeout=deadline_s)
    for task in pending:
        task.cancel()
        result.dropped[tasks[task].name] = f"missed the {deadline_s * 1000:.0f} ms deadline"
    for task in done:
        source = tasks[task]
        try:
            facts, took = task.result()
        except asyncio.TimeoutError:
            result.dropped[source.name] = f"missed its own {source.timeout_s * 1000:.0f} ms timeout"  # type: ignore[attr-defined]
            continue
        except Exception as exc:
            result.dropped[source.name] = repr(exc)
            continue
        for fact in facts:
            if not fact.source:
                fact.source = source.name
        result.facts.extend(facts)
        result.timings_ms[source.name] = round(took, 1)
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    for name, why in result.dropped.items():
        logger.warning("enrichment source {} dropped: {}", name, why)
    return result


def deadline_of(config: EnrichmentConfig, settings: Settings) -> float:
    ms = config.deadline_ms if config.deadline_ms is not None else settings.enrichment_deadline_ms
    return ms / 1000
