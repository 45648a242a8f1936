"""Enrichment: building a node's sources and fetching their facts concurrently under a deadline.

Also what every plugin class a flow names is built with: its validated
``Config`` and a :class:`PluginContext`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import httpx
from loguru import logger
from pydantic import BaseModel, ValidationError

from agent.core.alert_ledger import ALERT_LEDGER
from agent.core.facts import Fact
from agent.core.http_client import http_client
from agent.core.settings import PluginSettings, Settings
from agent.core.config import EnrichmentConfig, PluginRef, SourceConfig

P = TypeVar("P", bound=PluginSettings)
T = TypeVar("T")


@runtime_checkable
class EnrichmentSource(Protocol):
    """What a source plugin's class builds: something that fetches facts for a call.

    The class is called as ``SourceClass(config, context)`` (``config``: the
    flow entry's options, validated by the class's optional pydantic
    ``Config`` model; ``context``: a :class:`PluginContext`). The agent sets
    ``name`` (the flow entry's ``name:``, else its ``type:``, unless the class
    sets a non-empty one), ``timeout_s`` (the entry's ``timeout_ms``) and,
    when the class declares ``cache_ttl_s`` (facts that do not depend on the
    call), shares its facts between calls for that many seconds.
    """

    name: str

    async def fetch(self, call: Any) -> list[Fact]:
        """The facts this source knows for ``call`` (a :class:`~agent.core.call.Call`); raise to be dropped."""
        ...


@dataclass
class PluginContext:
    """What a plugin instance may need besides its flow options: settings, files, HTTP, a cache.

    ``PluginContext(settings=..., base_dir=...)`` (also positional). Built by
    the agent for every source, alert platform and on-call directory a flow
    names; build one yourself to test a plugin class on its own.
    """

    settings: Settings
    """The agent's settings (``http_timeout_s``, ``default_region``, ...)."""
    base_dir: Path
    """The flow file's folder: resolve relative paths from the flow against it."""

    def plugin_settings(self, cls: type[P]) -> P:
        """Your plugin's own settings (a :class:`~agent.core.settings.PluginSettings` subclass), read once.

        They come from the environment and ``.env`` (the variables named by the
        class's ``env_prefix``), or from keywords given to the agent's
        ``Settings`` (``Settings(ilert_api_key=...)``). An invalid value raises
        ``ValueError`` naming the variable; the flow check reports it at the flow entry.
        """
        return self.settings.plugin_settings(cls)

    def http_client(self, **options: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` on the process's shared TLS set-up, with ``settings.http_timeout_s``.

        Use it as ``async with context.http_client(base_url=...) as client:``.
        Options are httpx's (``base_url``, ``headers``, ``timeout``, ...); tests
        stand in for the network with ``respx``.
        """
        options.setdefault("timeout", self.settings.http_timeout_s)
        return http_client(**options)

    @property
    def cache(self) -> SharedCache:
        """The process-wide cache of facts about systems (never about callers); see :class:`SharedCache`."""
        return FACT_CACHE




class SourceConfigError(ValueError):
    """A source entry in a flow that its plugin cannot use."""


def build_source(config: SourceConfig, registry_sources: dict[str, Any], context: PluginContext) -> EnrichmentSource:
    """Instantiate one configured source; raises :class:`SourceConfigError` with what to fix."""
    return build_plugin(config, registry_sources, context, kind="enrichment source")


def build_plugin(config: PluginRef, classes: dict[str, Any], context: PluginContext, *, kind: str) -> Any:
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


def _copy(value: Any) -> Any:
    """A caller's own copy of a cached value, where that is cheap (facts and other pydantic models)."""
    if isinstance(value, BaseModel):
        return value.model_copy()
    if isinstance(value, list):
        return [item.model_copy() if isinstance(item, BaseModel) else item for item in value]
    return value


class SharedCache:
    """Answers about systems (never about callers), shared by every call for a few seconds.

    During an outage hundreds of people call at once; each source is asked at
    most once per TTL, and calls that arrive while it is being asked wait for
    that same answer — also after their own deadline dropped it, so a hung
    API is not asked again by every caller. A failed fetch is remembered for
    at most ``FAILED_TTL_S``: a failing API is not hammered, and later turns
    do not wait for it again. Sources that declare ``cache_ttl_s`` (facts that
    do not depend on the call) are cached by the agent; a plugin may cache
    anything else about systems itself through ``context.cache``.
    """

    FAILED_TTL_S = 2.0

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, asyncio.Future[Any]]] = {}

    async def get(self, key: str, ttl_s: float, fetch: Callable[[], Awaitable[T]]) -> T:
        """``await fetch()``'s answer, shared for ``ttl_s`` seconds under ``key``.

        Prefix keys with your plugin's name. Facts and pydantic models come back as
        copies; other values are shared between calls, so do not change them.
        """
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and (entry[0] > now or not entry[1].done()):
            return _copy(await asyncio.shield(entry[1]))
        future: asyncio.Future[T] = asyncio.ensure_future(fetch())
        self._entries[key] = (now + ttl_s, future)
        future.add_done_callback(lambda done: self._settled(key, done, ttl_s))
        return _copy(await asyncio.shield(future))

    def _settled(self, key: str, future: asyncio.Future[Any], ttl_s: float) -> None:
        if future.cancelled() or future.exception() is not None:  # (also marks the exception as seen)
            entry = self._entries.get(key)
            if entry is not None and entry[1] is future:
                self._entries[key] = (time.monotonic() + min(ttl_s, self.FAILED_TTL_S), future)

    def clear(self) -> None:
        self._entries.clear()


FactCache = SharedCache  # its name before plugins could use it
FACT_CACHE = SharedCache()


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
    result = EnrichmentResult(await ALERT_LEDGER.facts(), {}, {})
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
