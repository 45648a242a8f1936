"""The ilert plugin: enrichment, on-call directory and alert platform against a mocked ilert API (respx)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import respx

from agent.call import Alert, Call
from agent.facts import MaintenanceWindow, OpenIncident, ServiceState
from agent.flow.loader import check_flow
from agent.flow.models import PluginRef, RouteTarget
from agent.plugins import load_registry
from agent.settings import Settings
from agent.sources import SourceConfigError, SourceContext, build_plugin
from plugins import ilert
from plugins.ilert import IlertError
from tests.conftest import EXAMPLES
from tests.helpers import agent_lines, simulate

BASE = "https://ilert.test"
FIXTURES = Path(__file__).parent / "fixtures" / "ilert"
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def settings():
    return Settings(
        ilert_base_url=BASE, ilert_api_key="secret-token", ilert_alert_source_key="il1api-key",
        http_timeout_s=2.5, default_region="DE",
    )


@pytest.fixture
def registry():
    return load_registry([("ilert", ilert)])


def build(kind: str, settings: Settings, registry, **options):
    classes = {"source": registry.sources, "platform": registry.alert_platforms, "directory": registry.oncall_directories}[kind]
    return build_plugin(PluginRef(type="ilert", **options), classes, SourceContext(settings, Path(".")), kind=kind)


def fetch(source):
    return asyncio.run(source.fetch(Call(now=NOW)))


@pytest.fixture
def api():
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


def mock_reads(api):
    return {
        "incidents": api.get("/api/incidents").respond(json=fixture("incidents.json")),
        "services": api.get("/api/services").respond(json=fixture("services.json")),
        "maintenance": api.get("/api/maintenance-windows").respond(json=fixture("maintenance-windows.json")),
        "alerts": api.get("/api/alerts").respond(json=fixture("alerts.json")),
    }


# --------------------------------------------------------------------------- registration


def test_one_module_registers_all_three_roles(registry):
    assert registry.sources["ilert"] is ilert.IlertSource
    assert registry.alert_platforms["ilert"] is ilert.IlertAlerts
    assert registry.oncall_directories["ilert"] is ilert.IlertDirectory


def test_missing_keys_fail_the_request_with_the_setting_to_set(api, registry):
    bare = Settings(ilert_base_url=BASE, ilert_api_key=None, ilert_alert_source_key=None)
    routes = mock_reads(api)  # built fine (a flow check needs no secrets), but nothing is sent
    with pytest.raises(IlertError, match="VOICE_AGENT_ILERT_API_KEY"):
        fetch(build("source", bare, registry))
    with pytest.raises(IlertError, match="VOICE_AGENT_ILERT_API_KEY"):
        asyncio.run(build("directory", bare, registry).on_call(RouteTarget(type="user", id="1"), Call(now=NOW)))
    with pytest.raises(IlertError, match="VOICE_AGENT_ILERT_ALERT_SOURCE_KEY"):
        asyncio.run(build("platform", bare, registry).open_alert(Alert(summary="s", details="d"), Call(now=NOW)))
    assert not any(r.called for r in routes.values())


def test_bad_options_are_config_errors(registry):
    good = Settings(ilert_base_url=BASE, ilert_api_key="t")
    with pytest.raises(SourceConfigError, match="information"):
        build("source", good, registry, information=["tickets"])
    with pytest.raises(SourceConfigError):
        build("source", good, registry, unknown_option=1)
    with pytest.raises(SourceConfigError):
        build("platform", good, registry, team="sre")


# --------------------------------------------------------------------------- enrichment


def test_incidents_services_and_active_maintenance_become_facts(api, settings, registry):
    routes = mock_reads(api)
    facts = fetch(build("source", settings, registry))

    incidents = [f for f in facts if isinstance(f, OpenIncident)]
    assert len(incidents) == 1  # the resolved one and the one without a summary are left out
    incident = incidents[0]
    assert (incident.id, incident.title, incident.status) == ("4711", "Checkout API returning 502 errors", "investigating")
    assert incident.services == ["Checkout API"]
    assert incident.started_at == datetime(2026, 11, 26, 9, 25, tzinfo=timezone.utc)

    states = {f.service: f.status for f in facts if isinstance(f, ServiceState)}
    assert states == {
        "Checkout API": "major_outage", "Payments": "operational", "Login": "operational",
        "Reporting": "under_maintenance", "Search": "degraded", "Email delivery": "partial_outage",
    }  # the unknown status and the nameless service are skipped, not fatal

    windows = [f for f in facts if isinstance(f, MaintenanceWindow)]
    assert [(w.summary, w.services) for w in windows] == [("Reporting database upgrade", ["Reporting"])]

    assert not routes["alerts"].called  # alerts only when asked for
    assert all(f.disclose for f in facts)


def test_open_alerts_are_reported_when_asked_for(api, settings, registry):
    routes = mock_reads(api)
    facts = fetch(build("source", settings, registry, information=["incidents"], include_alerts=True))
    request = routes["alerts"].calls.last.request
    assert request.url.params.get_list("states") == ["NEW", "ACCEPTED"]
    titles = [f.title for f in facts]
    assert titles == ["Checkout API returning 502 errors", "High error rate on checkout-service", "Disk almost full on db-2"]
    assert facts[1].id == "alert-9001" and facts[1].status == "accepted"
    assert not routes["services"].called and not routes["maintenance"].called


def test_only_the_information_types_asked_for_are_fetched(api, settings, registry):
    routes = mock_reads(api)
    facts = fetch(build("source", settings, registry, information=["maintenance", "alerts"]))
    assert routes["maintenance"].called and routes["alerts"].called
    assert not routes["incidents"].called and not routes["services"].called
    assert {type(f) for f in facts} == {MaintenanceWindow, OpenIncident}


def test_service_ids_filter_the_facts(api, settings, registry):
    routes = mock_reads(api)
    facts = fetch(build("source", settings, registry, services=["104"]))
    assert routes["incidents"].calls.last.request.url.params.get_list("services") == ["104"]
    assert [f.service for f in facts if isinstance(f, ServiceState)] == ["Reporting"]
    assert not [f for f in facts if isinstance(f, OpenIncident)]
    assert [f.summary for f in facts if isinstance(f, MaintenanceWindow)] == ["Reporting database upgrade"]


def test_empty_answers_give_no_facts(api, settings, registry):
    for path in ("/api/incidents", "/api/services", "/api/maintenance-windows", "/api/alerts"):
        api.get(path).respond(json=[])
    assert fetch(build("source", settings, registry, include_alerts=True)) == []


def test_every_request_carries_the_token_the_page_params_and_the_timeout(api, settings, registry):
    routes = mock_reads(api)
    fetch(build("source", settings, registry))
    for name in ("incidents", "services", "maintenance"):
        request = routes[name].calls.last.request
        assert request.headers["Authorization"] == "Bearer secret-token"
        assert request.url.params["start-index"] == "0" and request.url.params["max-results"] == "100"
        assert request.extensions["timeout"]["read"] == 2.5


@pytest.mark.parametrize(
    ("status", "message"),
    [(401, "401: the API key was rejected"), (403, "403"), (429, "429: rate limited"), (500, "500: server error"), (503, "503")],
)
def test_http_errors_raise_with_a_clear_message(api, settings, registry, status, message):
    mock_reads(api)
    api.get("/api/services").respond(status, json={"message": "nope"}, headers={"Retry-After": "30"})
    with pytest.raises(IlertError, match=message) as caught:
        fetch(build("source", settings, registry))
    assert "GET /api/services" in str(caught.value)


def test_a_timeout_raises_with_the_limit(api, settings, registry):
    mock_reads(api)
    api.get("/api/incidents").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(IlertError, match=r"GET /api/incidents timed out after 2.5 s"):
        fetch(build("source", settings, registry))


def test_a_connection_error_raises(api, settings, registry):
    mock_reads(api)
    api.get("/api/incidents").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(IlertError, match="ConnectError"):
        fetch(build("source", settings, registry))


def test_malformed_json_raises(api, settings, registry):
    mock_reads(api)
    api.get("/api/maintenance-windows").respond(200, content=b"<html>oops</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(IlertError, match="not JSON"):
        fetch(build("source", settings, registry))


def test_json_of_the_wrong_shape_raises(api, settings, registry):
    mock_reads(api)
    api.get("/api/services").respond(json={"error": "unexpected"})
    with pytest.raises(IlertError, match="expected a JSON list"):
        fetch(build("source", settings, registry))


def test_the_framework_drops_a_failing_source_and_the_call_goes_on(api, settings, registry):
    from agent.sources import fetch_facts

    api.get("/api/incidents").respond(401)
    source = build("source", settings, registry, information=["incidents"])
    result = asyncio.run(fetch_facts([source], Call(now=NOW), 2))
    assert result.facts == [] and "401" in result.dropped["ilert"]


def test_pages_are_followed_until_a_short_page(api, settings, registry):
    full = [{"id": i, "name": f"Service {i}", "status": "OPERATIONAL"} for i in range(100)]
    last = [{"id": 100, "name": "Service 100", "status": "DEGRADED"}]
    route = api.get("/api/services").mock(side_effect=[httpx.Response(200, json=full), httpx.Response(200, json=last)])
    facts = fetch(build("source", settings, registry, information=["services"]))
    assert len(facts) == 101 and facts[-1].status == "degraded"
    assert [c.request.url.params["start-index"] for c in route.calls] == ["0", "100"]


def test_paging_stops_at_the_page_cap(api, settings, registry):
    full = [{"id": i, "name": f"Service {i}", "status": "OPERATIONAL"} for i in range(100)]
    route = api.get("/api/services").respond(json=full)
    facts = fetch(build("source", settings, registry, information=["services"], max_pages=3))
    assert route.call_count == 3 and len(facts) == 300


# --------------------------------------------------------------------------- on-call directory


def on_call(settings, registry, target):
    directory = build("directory", settings, registry)
    return asyncio.run(directory.on_call(target, Call(now=NOW)))


def test_the_escalation_policy_gives_people_by_level_with_e164_numbers(api, settings, registry):
    route = api.get("/api/on-calls").respond(json=fixture("on-calls.json"))
    shifts = on_call(settings, registry, RouteTarget(type="escalation_policy", id="123"))
    params = route.calls.last.request.url.params
    assert params["policies"] == "123" and params["expand"] == "user"
    assert route.calls.last.request.headers["Authorization"] == "Bearer secret-token"
    assert [(s.name, s.number) for s in shifts] == [
        ("Alice Example", "+4930901820"),  # object with a regionCode and a national number
        ("Bob Backup", "+4930901821"),  # a plain string
        ("dave", "+14155550134"),  # no name: the username; landline when there is no mobile
    ]  # Carol has no number and is skipped
    assert {s.schedule for s in shifts} == {"123"} and not any(s.disclose for s in shifts)


@pytest.mark.parametrize(("kind", "param"), [("on_call_schedule", "schedules"), ("user", "users")])
def test_schedules_and_users_use_their_own_filter(api, settings, registry, kind, param):
    route = api.get("/api/on-calls").respond(json=fixture("on-calls.json")[:1])
    shifts = on_call(settings, registry, RouteTarget(type=kind, id="77"))
    assert route.calls.last.request.url.params[param] == "77"
    assert [s.name for s in shifts] == ["Bob Backup"]


def test_a_user_not_on_call_is_still_dialled_from_their_profile(api, settings, registry):
    api.get("/api/on-calls").respond(json=[])
    api.get("/api/users/5").respond(json={"id": 5, "firstName": "Erin", "lastName": "Ops", "mobile": {"regionCode": "US", "number": "(415) 555-0199"}})
    shifts = on_call(settings, registry, RouteTarget(type="user", id="5"))
    assert [(s.name, s.number) for s in shifts] == [("Erin Ops", "+14155550199")]


def test_nobody_on_call_is_an_empty_list(api, settings, registry):
    api.get("/api/on-calls").respond(json=[])
    assert on_call(settings, registry, RouteTarget(type="escalation_policy", id="9")) == []


def test_on_call_errors_raise(api, settings, registry):
    api.get("/api/on-calls").respond(500)
    with pytest.raises(IlertError, match="GET /api/on-calls answered 500"):
        on_call(settings, registry, RouteTarget(type="escalation_policy", id="123"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+49 30 901820", "+4930901820"),
        ({"regionCode": "DE", "number": "030 901820"}, "+4930901820"),
        ({"number": "+1 415 555 0134"}, "+14155550134"),
        ("0151 12345678", "+4915112345678"),  # national: the default region
        ("", None), (None, None), ({"regionCode": "DE"}, None), ("not a number", None), (42, None),
    ],
)
def test_phone_shapes(value, expected):
    assert ilert._phone(value, "DE") == expected


# --------------------------------------------------------------------------- alert platform


def test_an_alert_is_posted_as_an_event_and_the_receipt_kept(api, settings, registry):
    route = api.post("/api/events").respond(json=fixture("events.json"))
    alert = Alert(summary="Checkout down", details="briefing text", priority="high",
                  fields={"incident": "checkout down", "affected_services": ["Checkout API"]}, dedup_key="system_outage:checkout api")
    receipt = asyncio.run(build("platform", settings, registry).open_alert(alert, Call(now=NOW)))
    request = route.calls.last.request
    assert json.loads(request.content) == {
        "apiKey": "il1api-key", "eventType": "ALERT", "summary": "Checkout down", "details": "briefing text",
        "alertKey": "system_outage:checkout api", "priority": "HIGH",
        "customDetails": {"incident": "checkout down", "affected_services": ["Checkout API"]},
    }
    assert "Authorization" not in request.headers  # the integration key in the body authenticates
    assert receipt.platform == "ilert"
    assert receipt.key == "system_outage:checkout api"
    assert receipt.url == "https://acme.ilert.com/alert/view?id=9100"


def test_low_priority_and_an_answer_without_key(api, settings, registry):
    route = api.post("/api/events").respond(json={"responseCode": "OK"})
    alert = Alert(summary="s", details="d", priority="low", dedup_key="k-1")
    receipt = asyncio.run(build("platform", settings, registry).open_alert(alert, Call(now=NOW)))
    assert json.loads(route.calls.last.request.content)["priority"] == "LOW"
    assert (receipt.key, receipt.url) == ("k-1", None)


@pytest.mark.parametrize("status", [400, 401, 429, 500])
def test_alert_errors_raise(api, settings, registry, status):
    api.post("/api/events").respond(status, json={"message": "bad"})
    with pytest.raises(IlertError, match=f"POST /api/events answered {status}"):
        asyncio.run(build("platform", settings, registry).open_alert(Alert(summary="s", details="d"), Call(now=NOW)))


def test_alert_timeout_raises(api, settings, registry):
    api.post("/api/events").mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(IlertError, match="timed out"):
        asyncio.run(build("platform", settings, registry).open_alert(Alert(summary="s", details="d"), Call(now=NOW)))


# --------------------------------------------------------------------------- a whole call

FLOW = """
name: ilert hotline (test)
timezone: UTC
start: agent
nodes:
  agent:
    type: ai_agent
    greeting: Hello, what's going on?
    intents: {incident: alert, system_outage: alert, talk_to_human: page}
    gathers: [incident, affected_services, caller_name, contact_number]
    enrichment:
      sources:
        - type: ilert
    known_issue: alert
    fallback: page
  alert:
    type: create_alert
    platform: {type: ilert}
    next: page
  page:
    type: route_call
    on_call: {type: ilert}
    targets: [{type: escalation_policy, id: "123"}]
"""


def test_a_simulated_call_uses_ilert_for_facts_alert_and_dial(tmp_path, monkeypatch, api):
    monkeypatch.setenv("VOICE_AGENT_ILERT_BASE_URL", BASE)
    monkeypatch.setenv("VOICE_AGENT_ILERT_API_KEY", "secret-token")
    monkeypatch.setenv("VOICE_AGENT_ILERT_ALERT_SOURCE_KEY", "il1api-key")
    mock_reads(api)
    on_calls = api.get("/api/on-calls").respond(json=fixture("on-calls.json"))
    events = api.post("/api/events").respond(json=fixture("events.json"))
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)

    call, outcome = simulate(flow, ["the checkout is down for everyone", "no that's all, thanks"], at=NOW.isoformat())

    told = " ".join(agent_lines(call))
    assert "There is an open incident: Checkout API returning 502 errors" in told
    assert "open_incident:4711" in outcome.facts_used
    assert outcome.nodes == ["agent", "alert", "page"]

    body = json.loads(events.calls.last.request.content)
    assert body["apiKey"] == "il1api-key" and body["eventType"] == "ALERT" and body["priority"] == "HIGH"
    assert body["customDetails"]["incident"] == "the checkout is down for everyone"
    assert body["customDetails"]["affected_services"] == ["Checkout API"]
    assert outcome.briefing and outcome.briefing in body["details"]
    assert body["alertKey"] == outcome.alerts[0].dedup_key
    assert outcome.alerts[0].receipt.url == "https://acme.ilert.com/alert/view?id=9100"

    assert on_calls.calls.last.request.url.params["policies"] == "123"
    assert [(d.name, d.number) for d in outcome.dials] == [("Alice Example", "+4930901820")]


def test_the_example_flow_is_valid(registry):
    flow = EXAMPLES / "flows" / "ilert.yaml"
    _, problems = check_flow(flow, registry)
    assert problems == []


def test_when_nobody_answers_everyone_on_call_is_rung_by_level(tmp_path, monkeypatch, api):
    monkeypatch.setenv("VOICE_AGENT_ILERT_BASE_URL", BASE)
    monkeypatch.setenv("VOICE_AGENT_ILERT_API_KEY", "secret-token")
    monkeypatch.setenv("VOICE_AGENT_ILERT_ALERT_SOURCE_KEY", "il1api-key")
    monkeypatch.setenv("VOICE_AGENT_DEFAULT_REGION", "DE")
    mock_reads(api)
    api.get("/api/on-calls").respond(json=fixture("on-calls.json"))
    api.post("/api/events").respond(json=fixture("events.json"))
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    _, outcome = simulate(flow, ["put me through to a person"], at=NOW.isoformat(), answer_calls=False)
    assert [d.name for d in outcome.dials] == ["Alice Example", "Bob Backup", "dave"]


def test_a_failing_ilert_still_lets_the_call_through(tmp_path, monkeypatch, api):
    monkeypatch.setenv("VOICE_AGENT_ILERT_BASE_URL", BASE)
    monkeypatch.setenv("VOICE_AGENT_ILERT_API_KEY", "secret-token")
    monkeypatch.setenv("VOICE_AGENT_ILERT_ALERT_SOURCE_KEY", "il1api-key")
    for path in ("/api/incidents", "/api/services", "/api/maintenance-windows"):
        api.get(path).respond(503)
    api.post("/api/events").respond(429)
    api.get("/api/on-calls").mock(side_effect=httpx.ReadTimeout("slow"))
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.replace('targets: [{type: escalation_policy, id: "123"}]',
                                 'targets: [{type: escalation_policy, id: "123"}, {type: number, number: "+4930900000", name: Desk}]'))
    turns = ["Hi, this is Jane Doe. The checkout page is down for everyone", "checkout", "yes"]
    call, outcome = simulate(flow, turns, at=NOW.isoformat())
    notes = " ".join(t.text for t in call.transcript if t.speaker == "system")
    assert "alert platform ilert failed: IlertError" in notes
    assert "on-call look-up for 123 failed: IlertError" in notes
    assert [d.number for d in outcome.dials] == ["+4930900000"]
