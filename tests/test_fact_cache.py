"""A burst of calls during an outage costs each API one request per TTL."""

import asyncio

import httpx
import respx

from agent.call import Call
from agent.flow.models import SourceConfig
from agent.plugins import load_registry
from agent.settings import Settings
from agent.sources import FACT_CACHE, SourceContext, build_source, fetch_facts
from tests.conftest import ROOT

SUMMARY = (ROOT / "tests" / "fixtures" / "statuspage" / "summary.json").read_text()


def source(ttl=None):
    config = SourceConfig.model_validate({"type": "statuspage", "page_url": "https://status.test", **({"cache_ttl_s": ttl} if ttl is not None else {})})
    return build_source(config, load_registry().sources, SourceContext(Settings(), ROOT))


def test_two_hundred_concurrent_calls_make_one_request():
    async def burst():
        with respx.mock() as mock:
            route = mock.get("https://status.test/api/v2/summary.json").mock(return_value=httpx.Response(200, text=SUMMARY))
            results = await asyncio.gather(*(fetch_facts([source()], Call(), 5) for _ in range(200)))
            return route.call_count, results

    calls, results = asyncio.run(burst())
    assert calls == 1
    assert all(r.facts and len(r.facts) == len(results[0].facts) for r in results)
    assert results[0].facts[0] is not results[1].facts[0], "each call gets its own copies"


def test_after_the_ttl_the_source_is_asked_again_and_failures_are_not_kept():
    async def go():
        with respx.mock() as mock:
            route = mock.get("https://status.test/api/v2/summary.json")
            route.side_effect = [httpx.Response(500), httpx.Response(200, text=SUMMARY), httpx.Response(200, text=SUMMARY)]
            failed = await fetch_facts([source(ttl=0.2)], Call(), 5)
            first = await fetch_facts([source(ttl=0.2)], Call(), 5)
            cached = await fetch_facts([source(ttl=0.2)], Call(), 5)
            await asyncio.sleep(0.25)
            fresh = await fetch_facts([source(ttl=0.2)], Call(), 5)
            return route.call_count, failed, first, cached, fresh

    count, failed, first, cached, fresh = asyncio.run(go())
    assert failed.dropped and not failed.facts
    assert first.facts and cached.facts and fresh.facts
    assert count == 3


def test_sources_of_caller_specific_or_local_facts_are_not_cached():
    assert getattr(build_source(SourceConfig(type="static", path="examples/facts/acme.yaml"), load_registry().sources, SourceContext(Settings(), ROOT)), "cache_ttl_s", 0) == 0
    FACT_CACHE.clear()
