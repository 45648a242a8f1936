"""The http_json source maps any JSON endpoint to facts, with secrets from the environment."""

import asyncio

import httpx
import pytest
import respx

from agent.core.call import Call
from agent.core.facts import OpenIncident, ServiceState
from agent.flow.models import SourceConfig
from agent.core.registry import load_registry
from agent.core.settings import Settings
from agent.core.sources import PluginContext, SourceConfigError, build_source
from tests.conftest import ROOT

ANSWER = {
    "services": [{"name": "Search", "state": "down"}, {"name": "Login", "state": "ok"}, {"name": "Odd", "state": "??"}],
    "data": {"incidents": [{"summary": "Search index lost", "status": "investigating", "components": ["Search"], "opened": "2026-11-26T07:00:00Z"}]},
}
CONFIG = {
    "type": "http_json", "url": "https://health.test/status", "headers": {"Authorization": "env:HEALTH_TOKEN"},
    "facts": [
        {"kind": "service_state", "items": "services", "fields": {"service": "name", "status": "state"},
         "values": {"status": {"ok": "operational", "down": "major_outage"}}},
        {"kind": "open_incident", "items": "data.incidents", "fields": {"title": "summary", "status": "status", "services": "components", "started_at": "opened"}},
    ],
}


def fetch(config=CONFIG, response=None):
    source = build_source(SourceConfig.model_validate(config), load_registry().sources, PluginContext(Settings(), ROOT))

    async def go():
        with respx.mock() as mock:
            route = mock.get("https://health.test/status").mock(return_value=response or httpx.Response(200, json=ANSWER))
            facts = await source.fetch(Call())
            return facts, route.calls.last.request

    return asyncio.run(go())


def test_records_become_facts_and_odd_ones_are_skipped(monkeypatch):
    monkeypatch.setenv("HEALTH_TOKEN", "Bearer s3cret")
    facts, request = fetch()
    assert request.headers["Authorization"] == "Bearer s3cret"
    states = {f.service: f.status for f in facts if isinstance(f, ServiceState)}
    assert states == {"Search": "major_outage", "Login": "operational"}
    incident = next(f for f in facts if isinstance(f, OpenIncident))
    assert (incident.title, incident.services, incident.started_at.hour) == ("Search index lost", ["Search"], 7)


def test_errors_are_clear(monkeypatch):
    monkeypatch.setenv("HEALTH_TOKEN", "x")
    with pytest.raises(RuntimeError, match="HTTP 500"):
        fetch(response=httpx.Response(500))
    with pytest.raises(RuntimeError, match="did not answer JSON"):
        fetch(response=httpx.Response(200, text="<html>"))
    monkeypatch.delenv("HEALTH_TOKEN")
    with pytest.raises(RuntimeError, match="HEALTH_TOKEN is not set"):
        fetch()


def test_a_bad_mapping_is_a_config_error():
    with pytest.raises(SourceConfigError, match="facts"):
        build_source(SourceConfig.model_validate({**CONFIG, "facts": [{"kind": "weather", "items": "x", "fields": {}}]}), load_registry().sources, PluginContext(Settings(), ROOT))
