"""A burst of calls during an outage costs each API one request per TTL.

Statuspage is mocked through the contract checker (tests/contracts): the answer is the documented
summary (an instance of the contract), and every request the source sends is checked.
"""

import asyncio
import json

import httpx
import respx

from agent.core.call import Call
from agent.flow.models import SourceConfig
from agent.core.registry import load_registry
from agent.core.settings import Settings
from agent.core.sources import FACT_CACHE, PluginContext, build_source, fetch_facts
from tests.conftest import ROOT
from tests.contracts.checker import Contract, checked, contract_route

SUMMARY = json.loads((ROOT / "tests" / "fixtures" / "statuspage" / "summary.json").read_text())
URL = "https://status.test/api/v2/summary.json"


def summary_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=SUMMARY)


def test_the_summary_served_here_is_the_documented_answer():
    Contract.load("statuspage").check_response("GET", "/api/v2/summary.json", SUMMARY)


def source(ttl=None):
    config = SourceConfig.model_validate({"type": "statuspage", "page_url": "https://status.test", **({"cache_ttl_s": ttl} if ttl is not None else {})})
    return build_source(config, load_registry().sources, PluginContext(Settings(), ROOT))


def test_two_hundred_concurrent_calls_make_one_request():
    async def burst():
        with respx.mock() as mock:
            route = contract_route(mock, "statuspage", "GET", URL, json=SUMMARY)
            results = await asyncio.gather(*(fetch_facts([source()], Call(), 5) for _ in range(200)))
            return route.call_count, results

    calls, results = asyncio.run(burst())
    assert calls == 1
    assert all(r.facts and len(r.facts) == len(results[0].facts) for r in results)
    assert results[0].facts[0] is not results[1].facts[0], "each call gets its own copies"


def test_after_the_ttl_the_source_is_asked_again_and_a_failure_is_kept_only_briefly():
    async def go():
        with respx.mock() as mock:
            answers = iter([httpx.Response(500), summary_answer, summary_answer])  # a 500 first (fault injection)

            def respond(request):
                answer = next(answers)
                return answer(request) if callable(answer) else answer

            route = mock.get(URL).mock(side_effect=checked("statuspage", respond))
            failed = await fetch_facts([source(ttl=0.2)], Call(), 5)
            failed_again = await fetch_facts([source(ttl=0.2)], Call(), 5)  # not asked again at once
            await asyncio.sleep(0.25)
            first = await fetch_facts([source(ttl=0.2)], Call(), 5)
            cached = await fetch_facts([source(ttl=0.2)], Call(), 5)
            await asyncio.sleep(0.25)
            fresh = await fetch_facts([source(ttl=0.2)], Call(), 5)
            return route.call_count, failed, failed_again, first, cached, fresh

    count, failed, failed_again, first, cached, fresh = asyncio.run(go())
    assert failed.dropped and not failed.facts and failed_again.dropped and not failed_again.facts
    assert first.facts and cached.facts and fresh.facts
    assert count == 3


def test_a_hung_api_is_asked_once_even_when_every_caller_gives_up_on_it():
    async def go():
        release = asyncio.Event()

        async def slow(request):
            await release.wait()
            return summary_answer(request)

        with respx.mock() as mock:
            route = mock.get(URL).mock(side_effect=checked("statuspage", slow))
            late = [await fetch_facts([source(ttl=5)], Call(), 0.05) for _ in range(3)]
            release.set()
            await asyncio.sleep(0.05)
            after = await fetch_facts([source(ttl=5)], Call(), 1)
            return route.call_count, late, after

    count, late, after = asyncio.run(go())
    assert all(r.dropped and not r.facts for r in late)
    assert after.facts and count == 1


def test_sources_of_caller_specific_or_local_facts_are_not_cached():
    assert getattr(build_source(SourceConfig(type="static", path="examples/facts/acme.yaml"), load_registry().sources, PluginContext(Settings(), ROOT)), "cache_ttl_s", 0) == 0
    FACT_CACHE.clear()


def test_a_static_facts_file_is_parsed_once_and_again_when_edited(tmp_path):
    facts_file = tmp_path / "facts.yaml"
    facts_file.write_text("services:\n  - {service: Checkout, status: operational}\n")
    static = build_source(SourceConfig(type="static", path=str(facts_file)), load_registry().sources, PluginContext(Settings(), tmp_path))
    first = asyncio.run(static.fetch(Call()))
    again = asyncio.run(static.fetch(Call()))
    assert [f.status for f in first] == [f.status for f in again] == ["operational"]
    facts_file.write_text("services:\n  - {service: Checkout, status: major_outage}\n")
    assert [f.status for f in asyncio.run(static.fetch(Call()))] == ["major_outage"]
