"""The ilert plugin: enrichment, on-call directory and alert platform against a mocked ilert API (respx).

Every mocked answer is an instance of ilert's published OpenAPI spec and every
request the plugin sends is checked against it (``tests/contracts``,
``contract_route``): a query parameter, a filter value or a body field the spec
does not declare fails the test. The fixtures in ``tests/fixtures/ilert`` are
spec instances (see the README there).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import respx

from agent.core.call import Alert, Call
from agent.core.facts import MaintenanceWindow, OpenIncident, ServiceState, StatusPageEntry
from agent.flow.loader import check_flow
from agent.flow.models import PluginRef, RouteTarget
from agent.core.registry import load_registry
from agent.core.settings import Settings
from agent.core.sources import PluginContext, SourceConfigError, build_plugin
from plugins import ilert
from plugins.ilert import IlertError
from tests.conftest import EXAMPLES
from tests.contracts import checker
from tests.contracts.checker import Contract, ContractViolation, checked, contract_route
from tests.helpers import agent_lines, simulate

BASE = "https://ilert.test"
FIXTURES = Path(__file__).parent / "fixtures" / "ilert"
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
ILERT = Contract.load("ilert")


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
    return build_plugin(PluginRef(type="ilert", **options), classes, PluginContext(settings, Path(".")), kind=kind)


def fetch(source):
    return asyncio.run(source.fetch(Call(now=NOW)))


@pytest.fixture(autouse=True)
def no_contract_violations():
    """A request off the spec fails the test even when the plugin or the framework swallowed the error."""
    seen = len(checker.RECORDED)
    yield
    assert checker.RECORDED[seen:] == []


@pytest.fixture
def api():
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


def route(api, method: str, path: str, body=None, status: int = 200):
    """A respx route whose answer is checked against the spec now and every request at call time."""
    return contract_route(api, ILERT, method, path, json=body, status=status)


def failing(api, method: str, path: str, status: int, **extra):
    """An error answer (the spec declares none for these operations); the requests are still checked."""
    body = {"status": status, "message": "nope", "code": "ERR"}
    return contract_route(api, ILERT, method, path, json=body, status=status, check_body=False, **extra)


def raising(api, method: str, path: str, exc: Exception):
    def respond(request):
        raise exc

    return api.route(method=method, url=path).mock(side_effect=checked(ILERT, respond))


def mock_reads(api):
    return {
        "incidents": route(api, "GET", "/api/incidents", fixture("incidents.json")),
        "services": route(api, "GET", "/api/services", fixture("services.json")),
        "maintenance": route(api, "GET", "/api/maintenance-windows", fixture("maintenance-windows.json")),
        "alerts": route(api, "GET", "/api/alerts", fixture("alerts.json")),
        "status_pages": route(api, "GET", "/api/status-pages", fixture("status-pages.json")),
    }


def mock_on_call(api):
    routes = {"on-calls": route(api, "GET", "/api/on-calls", fixture("on-calls.json"))}
    for user in (1, 2, 3, 4):
        routes[user] = route(api, "GET", f"/api/users/{user}/contacts/phone-numbers", fixture(f"phone-numbers-{user}.json"))
    return routes


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
    with pytest.raises(SourceConfigError, match="service ids are numbers"):
        build("source", good, registry, services=["checkout"])  # the spec's `services` filter is int64
    with pytest.raises(SourceConfigError, match="status page ids are numbers"):
        build("source", good, registry, status_pages=["acme"])
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
    }  # the nameless service is skipped, not fatal

    windows = [f for f in facts if isinstance(f, MaintenanceWindow)]
    assert [(w.summary, w.services) for w in windows] == [("Reporting database upgrade", ["Reporting"])]  # not next week's

    assert not routes["alerts"].called and not routes["status_pages"].called  # only when asked for
    assert all(f.disclose for f in facts)


def test_the_open_states_are_filtered_on_ilerts_side(api, settings, registry):
    routes = mock_reads(api)
    fetch(build("source", settings, registry, information=["incidents", "maintenance", "alerts"]))
    incidents = routes["incidents"].calls.last.request.url.params
    assert incidents.get_list("states") == ["INVESTIGATING", "IDENTIFIED", "MONITORING"]
    assert routes["maintenance"].calls.last.request.url.params["state"] == "OPEN"
    assert routes["alerts"].calls.last.request.url.params.get_list("states") == ["PENDING", "ACCEPTED"]


def test_open_alerts_are_reported_when_asked_for(api, settings, registry):
    routes = mock_reads(api)
    facts = fetch(build("source", settings, registry, information=["incidents"], include_alerts=True))
    request = routes["alerts"].calls.last.request
    assert request.url.params.get_list("states") == ["PENDING", "ACCEPTED"]
    titles = [f.title for f in facts]
    assert titles == ["Checkout API returning 502 errors", "High error rate on checkout-service", "Disk almost full on db-2"]
    assert facts[1].id == "alert-9001" and facts[1].status == "accepted" and facts[1].dedup_key == "checkout-5xx"
    assert facts[2].status == "pending" and facts[2].started_at == datetime(2026, 11, 26, 9, 55, tzinfo=timezone.utc)
    assert not routes["services"].called and not routes["maintenance"].called


def test_status_pages_become_facts(api, settings, registry):
    routes = mock_reads(api)
    facts = fetch(build("source", settings, registry, information=["status_pages"]))
    params = routes["status_pages"].calls.last.request.url.params
    assert (params["start-index"], params["max-results"]) == ("0", "50")  # the spec's maximum for status pages
    pages = [f for f in facts if isinstance(f, StatusPageEntry)]
    assert [(p.page, p.status, p.components) for p in pages] == [
        ("ACME status", "degraded", ["Search", "Mobile app API"]),
        ("ACME internal", "operational", []),
    ]
    assert pages[0].message == "Search is running with degraded performance; Mobile app API has a partial outage"
    states = {f.service: f.status for f in facts if isinstance(f, ServiceState)}
    assert states == {"Search": "degraded", "Login": "operational", "Mobile app API": "partial_outage", "Payments": "operational"}


def test_a_service_on_a_status_page_and_in_the_services_list_is_one_state(api, settings, registry):
    mock_reads(api)
    facts = fetch(build("source", settings, registry, information=["services", "status_pages"]))
    names = [f.service for f in facts if isinstance(f, ServiceState)]
    assert sorted(names) == sorted(set(names)) and "Mobile app API" in names and "Search" in names


def test_chosen_status_pages_are_read_one_by_one(api, settings, registry):
    page = route(api, "GET", "/api/status-pages/42", fixture("status-pages.json")[0])
    listing = route(api, "GET", "/api/status-pages", [])
    facts = fetch(build("source", settings, registry, information=["status_pages"], status_pages=["42"]))
    assert page.called and not listing.called
    assert [f.page for f in facts if isinstance(f, StatusPageEntry)] == ["ACME status"]


def test_only_the_information_types_asked_for_are_fetched(api, settings, registry):
    routes = mock_reads(api)
    facts = fetch(build("source", settings, registry, information=["maintenance", "alerts"]))
    assert routes["maintenance"].called and routes["alerts"].called
    assert not routes["incidents"].called and not routes["services"].called and not routes["status_pages"].called
    assert {type(f) for f in facts} == {MaintenanceWindow, OpenIncident}


def test_service_ids_filter_the_facts(api, settings, registry):
    routes = mock_reads(api)
    facts = fetch(build("source", settings, registry, services=["104"], information=["incidents", "services", "maintenance", "status_pages"]))
    assert routes["incidents"].calls.last.request.url.params.get_list("services") == ["104"]
    assert routes["maintenance"].calls.last.request.url.params.get_list("services") == ["104"]
    assert "services" not in routes["services"].calls.last.request.url.params  # not declared there: picked from the pages
    assert [f.service for f in facts if isinstance(f, ServiceState)] == ["Reporting"]
    assert not [f for f in facts if isinstance(f, OpenIncident)]
    assert [f.summary for f in facts if isinstance(f, MaintenanceWindow)] == ["Reporting database upgrade"]
    assert all(p.components == [] for p in facts if isinstance(p, StatusPageEntry))


def test_empty_answers_give_no_facts(api, settings, registry):
    for path in ("/api/incidents", "/api/services", "/api/maintenance-windows", "/api/alerts", "/api/status-pages"):
        route(api, "GET", path, [])
    assert fetch(build("source", settings, registry, include_alerts=True, information=["incidents", "services", "maintenance", "status_pages"])) == []


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
    [(400, "400: "), (401, "401: the API key was rejected"), (403, "403"), (429, "429: rate limited"), (500, "500: server error"), (503, "503")],
)
def test_http_errors_raise_with_a_clear_message(api, settings, registry, status, message):
    failing(api, "GET", "/api/services", status, headers={"Retry-After": "30"})
    with pytest.raises(IlertError, match=message) as caught:
        fetch(build("source", settings, registry, information=["services"]))
    assert "GET /api/services" in str(caught.value)


@pytest.mark.parametrize("status", [400, 500])
def test_one_failing_endpoint_drops_only_its_own_facts(api, settings, registry, caplog_loguru, status):
    mock_reads(api)
    failing(api, "GET", "/api/services", status)
    facts = fetch(build("source", settings, registry, include_alerts=True, information=["incidents", "services", "maintenance", "status_pages"]))
    kinds = {type(f) for f in facts}
    assert kinds == {OpenIncident, MaintenanceWindow, StatusPageEntry, ServiceState}  # states from the status pages
    assert "Checkout API returning 502 errors" in [f.title for f in facts if isinstance(f, OpenIncident)]
    assert "Disk almost full on db-2" in [f.title for f in facts if isinstance(f, OpenIncident)]
    assert "Checkout API" not in [f.service for f in facts if isinstance(f, ServiceState)]  # that came from /api/services
    assert any("ilert services: left out" in line and f"GET /api/services answered {status}" in line for line in caplog_loguru)


def test_when_every_endpoint_fails_the_source_fails(api, settings, registry):
    from agent.core.sources import fetch_facts

    for path in ("/api/incidents", "/api/services", "/api/maintenance-windows"):
        failing(api, "GET", path, 401)
    source = build("source", settings, registry)
    with pytest.raises(IlertError, match="GET /api/incidents answered 401.*GET /api/services answered 401.*GET /api/maintenance-windows answered 401"):
        fetch(source)
    result = asyncio.run(fetch_facts([source], Call(now=NOW), 2))
    assert result.facts == [] and "401" in result.dropped["ilert"]


def test_a_timeout_raises_with_the_limit(api, settings, registry):
    raising(api, "GET", "/api/incidents", httpx.ReadTimeout("slow"))
    with pytest.raises(IlertError, match=r"GET /api/incidents timed out after 2.5 s"):
        fetch(build("source", settings, registry, information=["incidents"]))


def test_a_timeout_on_one_endpoint_keeps_the_others(api, settings, registry):
    mock_reads(api)
    raising(api, "GET", "/api/incidents", httpx.ReadTimeout("slow"))
    facts = fetch(build("source", settings, registry))
    assert {type(f) for f in facts} == {ServiceState, MaintenanceWindow}


def test_a_connection_error_raises(api, settings, registry):
    raising(api, "GET", "/api/incidents", httpx.ConnectError("refused"))
    with pytest.raises(IlertError, match="ConnectError"):
        fetch(build("source", settings, registry, information=["incidents"]))


def test_malformed_json_raises(api, settings, registry):
    api.get("/api/maintenance-windows").mock(side_effect=checked(
        ILERT, lambda request: httpx.Response(200, content=b"<html>oops</html>", headers={"Content-Type": "text/html"})))
    with pytest.raises(IlertError, match="not JSON"):
        fetch(build("source", settings, registry, information=["maintenance"]))


def test_json_of_the_wrong_shape_raises(api, settings, registry):
    contract_route(api, ILERT, "GET", "/api/services", json={"error": "unexpected"}, check_body=False)
    with pytest.raises(IlertError, match="expected a JSON list"):
        fetch(build("source", settings, registry, information=["services"]))


def test_the_framework_drops_a_failing_source_and_the_call_goes_on(api, settings, registry):
    from agent.core.sources import fetch_facts

    failing(api, "GET", "/api/incidents", 401)
    source = build("source", settings, registry, information=["incidents"])
    result = asyncio.run(fetch_facts([source], Call(now=NOW), 2))
    assert result.facts == [] and "401" in result.dropped["ilert"]


def test_pages_are_followed_until_a_short_page(api, settings, registry):
    full = [{"id": i, "name": f"Service {i}", "status": "OPERATIONAL"} for i in range(100)]
    last = [{"id": 100, "name": "Service 100", "status": "DEGRADED"}]
    pages = route(api, "GET", "/api/services", lambda request: full if request.url.params["start-index"] == "0" else last)
    facts = fetch(build("source", settings, registry, information=["services"]))
    assert len(facts) == 101 and facts[-1].status == "degraded"
    assert [c.request.url.params["start-index"] for c in pages.calls] == ["0", "100"]


def test_paging_stops_at_the_page_cap(api, settings, registry, caplog_loguru):
    def page(request):
        start = int(request.url.params["start-index"])
        return [{"id": i, "name": f"Service {i}", "status": "OPERATIONAL"} for i in range(start, start + 100)]

    pages = route(api, "GET", "/api/services", page)
    facts = fetch(build("source", settings, registry, information=["services"], max_pages=3))
    assert pages.call_count == 3 and len(facts) == 300
    assert any("stopped after 3 pages" in line for line in caplog_loguru)


# --------------------------------------------------------------------------- a large account


def fake_list(records: list[dict], states_param: str, states_of, max_results: int):
    """An ilert list endpoint on a large account: filters by the states asked for, pages like ilert, refuses more than its maximum."""

    def answer(request: httpx.Request) -> list[dict]:
        params = request.url.params
        wanted = set(params.get_list(states_param))
        start, size = int(params.get("start-index", 0)), int(params.get("max-results", 10))
        assert size <= max_results
        matching = [r for r in records if not wanted or states_of(r) in wanted]
        return matching[start:start + size]

    return answer


def test_a_large_account_keeps_open_records_on_later_pages(api, settings, registry):
    base = datetime(2026, 11, 1, tzinfo=timezone.utc)
    alerts = [  # 450 resolved alerts first, then the 130 open ones
        {"id": i, "summary": f"Alert {i}", "status": "RESOLVED" if i < 450 else ("PENDING" if i % 2 else "ACCEPTED"),
         "reportTime": (base + timedelta(minutes=i)).isoformat().replace("+00:00", "Z")}
        for i in range(580)
    ]
    incidents = [
        {"id": i, "summary": f"Incident {i}", "status": "RESOLVED" if i < 300 else "MONITORING",
         "createdAt": (base + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"), "affectedServices": []}
        for i in range(320)
    ]
    alert_route = route(api, "GET", "/api/alerts", fake_list(alerts, "states", lambda r: r["status"], 100))
    incident_route = route(api, "GET", "/api/incidents", fake_list(incidents, "states", lambda r: r["status"], 100))

    facts = fetch(build("source", settings, registry, information=["incidents", "alerts"], max_pages=2))

    found = {f.title for f in facts}
    assert {f"Alert {i}" for i in range(450, 580)} <= found and len([t for t in found if t.startswith("Alert")]) == 130
    assert {f"Incident {i}" for i in range(300, 320)} <= found
    assert {f.status for f in facts} == {"pending", "accepted", "monitoring"}
    for call in alert_route.calls:
        assert call.request.url.params.get_list("states") == ["PENDING", "ACCEPTED"]
    assert [c.request.url.params["start-index"] for c in alert_route.calls] == ["0", "100"]
    assert all(c.request.url.params.get_list("states") == ["INVESTIGATING", "IDENTIFIED", "MONITORING"] for c in incident_route.calls)


def test_a_large_account_keeps_maintenance_running_now(api, settings, registry):
    windows = [
        {"summary": f"Past window {i}", "start": "2026-10-01T01:00:00Z", "end": "2026-10-01T02:00:00Z"} for i in range(300)
    ] + [{"summary": "Reporting database upgrade", "start": "2026-11-26T09:40:00Z", "end": "2026-11-26T10:40:00Z",
          "services": [{"id": 104, "name": "Reporting"}]}]
    state = {"OPEN": lambda w: w["end"] >= "2026-11-26", "CLOSED": lambda w: w["end"] < "2026-11-26"}

    def answer(request):
        params = request.url.params
        wanted = state.get(params.get("state", ""), lambda w: True)
        start, size = int(params["start-index"]), int(params["max-results"])
        return [w for w in windows if wanted(w)][start:start + size]

    windows_route = route(api, "GET", "/api/maintenance-windows", answer)
    facts = fetch(build("source", settings, registry, information=["maintenance"], max_pages=1))
    assert [f.summary for f in facts] == ["Reporting database upgrade"]
    assert windows_route.calls.last.request.url.params["state"] == "OPEN"


# --------------------------------------------------------------------------- on-call directory


def on_call(settings, registry, target):
    directory = build("directory", settings, registry)
    return asyncio.run(directory.on_call(target, Call(now=NOW)))


def test_the_escalation_policy_gives_people_by_level_with_their_primary_numbers(api, settings, registry):
    routes = mock_on_call(api)
    shifts = on_call(settings, registry, RouteTarget(type="escalation_policy", id="123"))
    params = routes["on-calls"].calls.last.request.url.params
    assert params["policies"] == "123" and params["expand"] == "user"
    assert routes["on-calls"].calls.last.request.headers["Authorization"] == "Bearer secret-token"
    assert [(s.name, s.number) for s in shifts] == [
        ("Alice Example", "+4930901820"),  # the primary contact (national, in its regionCode), not the other OK one
        ("Bob Backup", "+4930901821"),  # the primary is LOCKED: the other OK one
        ("dave@acme.example", "+14155550134"),  # no name: the e-mail; a US number in its regionCode
    ]  # Carol's only number is BLACKLISTED: skipped
    assert {s.schedule for s in shifts} == {"123"} and not any(s.disclose for s in shifts)
    assert all(routes[user].call_count == 1 for user in (1, 2, 3, 4))


def test_the_contacts_of_the_people_on_call_are_fetched_at_once(api, settings, registry):
    route(api, "GET", "/api/on-calls", fixture("on-calls.json"))
    in_flight, most = [0], [0]

    def contacts(user: int):
        async def answer(request):
            ILERT.check_request(request)
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            await asyncio.sleep(0.05)
            in_flight[0] -= 1
            return httpx.Response(200, json=fixture(f"phone-numbers-{user}.json"))

        return answer

    for user in (1, 2, 3, 4):
        api.get(f"/api/users/{user}/contacts/phone-numbers").mock(side_effect=contacts(user))
    assert len(on_call(settings, registry, RouteTarget(type="escalation_policy", id="123"))) == 3
    assert most[0] == 4


def test_a_user_whose_contacts_fail_is_skipped_and_the_others_dialled(api, settings, registry, caplog_loguru):
    mock_on_call(api)
    failing(api, "GET", "/api/users/1/contacts/phone-numbers", 500)
    shifts = on_call(settings, registry, RouteTarget(type="escalation_policy", id="123"))
    assert [s.name for s in shifts] == ["Bob Backup", "dave@acme.example"]
    assert any("on-call user 1 skipped" in line and "500" in line for line in caplog_loguru)


def test_when_no_contacts_can_be_read_the_look_up_fails(api, settings, registry):
    route(api, "GET", "/api/on-calls", fixture("on-calls.json"))
    for user in (1, 2, 3, 4):
        failing(api, "GET", f"/api/users/{user}/contacts/phone-numbers", 403)
    with pytest.raises(IlertError, match="contacts/phone-numbers answered 403"):
        on_call(settings, registry, RouteTarget(type="escalation_policy", id="123"))


@pytest.mark.parametrize(("kind", "param"), [("on_call_schedule", "schedules"), ("user", "users")])
def test_schedules_and_users_use_their_own_filter(api, settings, registry, kind, param):
    routes = mock_on_call(api)
    routes["on-calls"] = route(api, "GET", "/api/on-calls", fixture("on-calls.json")[:1])
    shifts = on_call(settings, registry, RouteTarget(type=kind, id="77"))
    assert routes["on-calls"].calls.last.request.url.params[param] == "77"
    assert [s.name for s in shifts] == ["Bob Backup"]
    assert not routes[1].called  # only the people on call


def test_a_user_not_on_call_is_still_dialled_from_their_contacts(api, settings, registry):
    route(api, "GET", "/api/on-calls", [])
    route(api, "GET", "/api/users/5", {"id": 5, "firstName": "Erin", "lastName": "Ops", "email": "erin@acme.example", "region": "US"})
    route(api, "GET", "/api/users/5/contacts/phone-numbers",
          [{"id": 51, "regionCode": "US", "target": "(415) 555-0199", "primary": True, "status": "OK"}])
    shifts = on_call(settings, registry, RouteTarget(type="user", id="5"))
    assert [(s.name, s.number) for s in shifts] == [("Erin Ops", "+14155550199")]


def test_nobody_on_call_is_an_empty_list(api, settings, registry):
    route(api, "GET", "/api/on-calls", [])
    assert on_call(settings, registry, RouteTarget(type="escalation_policy", id="9")) == []


def test_on_call_errors_raise(api, settings, registry):
    failing(api, "GET", "/api/on-calls", 500)
    with pytest.raises(IlertError, match="GET /api/on-calls answered 500"):
        on_call(settings, registry, RouteTarget(type="escalation_policy", id="123"))


def test_an_id_that_is_not_a_number_is_refused_before_asking(api, settings, registry):
    routes = mock_on_call(api)
    with pytest.raises(IlertError, match="ids are numbers"):
        on_call(settings, registry, RouteTarget(type="escalation_policy", id="checkout-policy"))
    assert not routes["on-calls"].called


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("+49 30 901820", "DE", "+4930901820"),
        ("030 901820", "DE", "+4930901820"),
        ("+1 415 555 0134", "DE", "+14155550134"),
        ("(415) 555-0134", "US", "+14155550134"),
        ("0151 12345678", "DE", "+4915112345678"),
        ("", "DE", None), (None, "DE", None), ("not a number", "DE", None), (42, "DE", None),
    ],
)
def test_phone_shapes(value, region, expected):
    assert ilert._phone(value, region) == expected


@pytest.mark.parametrize(
    ("contacts", "expected"),
    [
        ([{"target": "+4930111111", "primary": False, "status": "OK"}, {"target": "+4930222222", "primary": True, "status": "OK"}], "+4930222222"),
        ([{"target": "+4930111111", "primary": True, "status": "LOCKED"}, {"target": "+4930222222", "primary": False, "status": "OK"}], "+4930222222"),
        ([{"target": "+4930111111", "primary": True}, {"target": "+4930222222", "primary": False, "status": "OK"}], "+4930222222"),
        ([{"target": "+4930111111", "primary": True}], "+4930111111"),  # no status declared: still usable, last
        ([{"target": "+4930111111", "primary": True, "status": "BLACKLISTED"}], None),
        ([{"target": "nope", "primary": True, "status": "OK"}, {"target": "030 222222", "regionCode": "DE", "status": "OK"}], "+4930222222"),
        ([], None),
    ],
)
def test_the_number_dialled_is_the_primary_ok_one_first(contacts, expected):
    for contact in contacts:
        ILERT.schema_check("ContactPhoneNumber", contact)
    assert ilert._dial_number(contacts, "DE") == expected


# --------------------------------------------------------------------------- alert platform


def test_an_alert_is_posted_as_an_event_and_the_receipt_kept(api, settings, registry):
    events = route(api, "POST", "/api/events", status=202)
    alert = Alert(summary="Checkout down", details="briefing text", priority="high",
                  fields={"incident": "checkout down", "affected_services": ["Checkout API"]}, dedup_key="system_outage:checkout api")
    receipt = asyncio.run(build("platform", settings, registry).open_alert(alert, Call(now=NOW)))
    request = events.calls.last.request
    body = json.loads(request.content)
    assert body == {
        "integrationKey": "il1api-key", "eventType": "ALERT", "summary": "Checkout down", "details": "briefing text",
        "alertKey": "system_outage:checkout api", "priority": "HIGH",
        "customDetails": {"incident": "checkout down", "affected_services": ["Checkout API"]},
    }
    ILERT.schema_check("Event", body)
    assert "Authorization" not in request.headers  # the integration key in the body authenticates
    assert receipt.platform == "ilert"
    assert receipt.key == "system_outage:checkout api"  # ilert's 202 declares no body: the key we sent
    assert receipt.url is None


def test_the_events_body_is_an_instance_of_the_spec(api, settings, registry):
    events = route(api, "POST", "/api/events", status=202)
    alert = Alert(summary="s", details="d", priority="low", transcript="Caller: it's down",
                  links=[{"href": "https://rec.example/1.mp3", "text": "Call recording"}])
    asyncio.run(build("platform", settings, registry).open_alert(alert, Call(now=NOW, call_id="CA123")))
    body = json.loads(events.calls.last.request.content)
    ILERT.schema_check("Event", body)  # and contract_route checked the request against POST /events
    assert body["integrationKey"] == "il1api-key" and "apiKey" not in body
    assert body["links"] == [{"href": "https://rec.example/1.mp3", "text": "Call recording"}]
    with pytest.raises(ContractViolation, match="'integrationKey' is a required property"):  # what the plugin used to send
        ILERT.schema_check("Event", {**{k: v for k, v in body.items() if k != "integrationKey"}, "apiKey": "il1api-key"})


def test_low_priority_and_an_alert_without_a_key_gets_one(api, settings, registry):
    events = route(api, "POST", "/api/events", status=202)
    platform = build("platform", settings, registry)
    receipt = asyncio.run(platform.open_alert(Alert(summary="s", details="d", priority="low"), Call(now=NOW, call_id="CA123")))
    body = json.loads(events.calls.last.request.content)
    assert body["priority"] == "LOW"
    assert body["alertKey"] == receipt.key == "voice-agent:CA123"  # so a note can follow it
    assert receipt.url is None


@pytest.mark.parametrize("status", [400, 401, 429, 500])
def test_alert_errors_raise(api, settings, registry, status):
    failing(api, "POST", "/api/events", status)
    with pytest.raises(IlertError, match=f"POST /api/events answered {status}"):
        asyncio.run(build("platform", settings, registry).open_alert(Alert(summary="s", details="d"), Call(now=NOW)))


def test_alert_timeout_raises(api, settings, registry):
    raising(api, "POST", "/api/events", httpx.ConnectTimeout("slow"))
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


@pytest.fixture
def ilert_env(monkeypatch):
    monkeypatch.setenv("VOICE_AGENT_ILERT_BASE_URL", BASE)
    monkeypatch.setenv("VOICE_AGENT_ILERT_API_KEY", "secret-token")
    monkeypatch.setenv("VOICE_AGENT_ILERT_ALERT_SOURCE_KEY", "il1api-key")
    monkeypatch.setenv("VOICE_AGENT_DEFAULT_REGION", "DE")


def test_a_simulated_call_uses_ilert_for_facts_alert_and_dial(tmp_path, ilert_env, api):
    mock_reads(api)
    on_calls = mock_on_call(api)["on-calls"]
    events = route(api, "POST", "/api/events", status=202)
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)

    call, outcome = simulate(flow, ["the checkout is down for everyone", "no that's all, thanks"], at=NOW.isoformat())

    told = " ".join(agent_lines(call))
    assert "There is an open incident: Checkout API returning 502 errors" in told
    assert "open_incident:4711" in outcome.facts_used
    assert outcome.nodes == ["agent", "alert", "page"]

    body = json.loads(events.calls.last.request.content)
    ILERT.schema_check("Event", body)
    assert body["integrationKey"] == "il1api-key" and body["eventType"] == "ALERT" and body["priority"] == "HIGH"
    assert body["customDetails"]["incident"] == "the checkout is down for everyone"
    assert body["customDetails"]["affected_services"] == ["Checkout API"]
    assert outcome.briefing and outcome.briefing in body["details"]
    assert body["alertKey"] == outcome.alerts[0].dedup_key == outcome.alerts[0].receipt.key

    assert on_calls.calls.last.request.url.params["policies"] == "123"
    assert [(d.name, d.number) for d in outcome.dials] == [("Alice Example", "+4930901820")]  # her primary contact


def test_a_pending_alert_and_a_degraded_status_page_component_reach_the_caller(tmp_path, ilert_env, api):
    route(api, "GET", "/api/status-pages", fixture("status-pages.json"))
    alerts = route(api, "GET", "/api/alerts", fixture("alerts.json") + [{
        "id": 9003, "summary": "Search latency above 2 s", "details": "p95 latency of product search",
        "reportTime": "2026-11-26T09:45:00Z", "status": "PENDING", "priority": "HIGH", "alertKey": "system_outage:search",
    }])
    mock_on_call(api)
    events = route(api, "POST", "/api/events", status=202)
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.replace("- type: ilert\n", "- type: ilert\n          information: [status_pages, alerts]\n"))

    call, outcome = simulate(flow, ["Hi, search is down, nobody can find any products", "no that's all, thanks"], at=NOW.isoformat())

    told = " ".join(agent_lines(call))
    assert "Our status page says: Search is running with degraded performance" in told
    assert "You're not the first to report this. I've added your call to the alert that is already open." in told
    assert alerts.calls.last.request.url.params.get_list("states") == ["PENDING", "ACCEPTED"]
    assert "status_page:ACME status" in outcome.facts_used
    assert outcome.alerts[0].already_reported
    assert json.loads(events.calls.last.request.content)["alertKey"] == "system_outage:search"  # joins the pending alert


def test_the_example_flow_is_valid(registry):
    flow = EXAMPLES / "flows" / "ilert.yaml"
    _, problems = check_flow(flow, registry)
    assert problems == []


def test_when_nobody_answers_everyone_on_call_is_rung_by_level(tmp_path, ilert_env, api):
    mock_reads(api)
    mock_on_call(api)
    route(api, "POST", "/api/events", status=202)
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    _, outcome = simulate(flow, ["put me through to a person"], at=NOW.isoformat(), answer_calls=False)
    assert [(d.name, d.number) for d in outcome.dials] == [
        ("Alice Example", "+4930901820"), ("Bob Backup", "+4930901821"), ("dave@acme.example", "+14155550134")]


def test_a_failing_ilert_still_lets_the_call_through(tmp_path, ilert_env, api):
    for path in ("/api/incidents", "/api/services", "/api/maintenance-windows"):
        failing(api, "GET", path, 503)
    failing(api, "POST", "/api/events", 429)
    raising(api, "GET", "/api/on-calls", httpx.ReadTimeout("slow"))
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.replace('targets: [{type: escalation_policy, id: "123"}]',
                                 'targets: [{type: escalation_policy, id: "123"}, {type: number, number: "+4930900000", name: Desk}]'))
    turns = ["Hi, this is Jane Doe. The checkout page is down for everyone", "checkout", "yes"]
    call, outcome = simulate(flow, turns, at=NOW.isoformat())
    notes = " ".join(t.text for t in call.transcript if t.speaker == "system")
    assert "alert platform ilert failed: IlertError" in notes
    assert "on-call look-up for 123 failed: IlertError" in notes
    assert [d.number for d in outcome.dials] == ["+4930900000"]
