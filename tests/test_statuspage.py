"""The Statuspage source against summary.json answers that are instances of Statuspage's documented API.

The fixture (tests/fixtures/statuspage/summary.json) is checked against the schema of what the public
``/api`` documentation shows (tests/contracts/statuspage) when it is served, and so is each request.
Deliberately off-contract answers (errors, robustness) are served with ``check_body=False`` or
``checked`` (the request is still checked).
"""

import json
from pathlib import Path

import httpx
import pytest
import respx

from agent.core.facts import MaintenanceWindow, OpenIncident, ServiceState, StatusPageEntry
from agent.flow.loader import check_flow
from agent.core.registry import load_registry
from agent.core.settings import Settings
from agent.core.sources import PluginContext
from plugins.statuspage import StatuspageError, StatuspageSource
from tests.contracts.checker import checked, contract_route
from tests.helpers import agent_lines, simulate

SUMMARY = json.loads((Path(__file__).parent / "fixtures" / "statuspage" / "summary.json").read_text())
PAGE = "https://status.example.com"
URL = f"{PAGE}/api/v2/summary.json"


def summary(mock, body=SUMMARY, **kwargs):
    return contract_route(mock, "statuspage", "GET", URL, json=body, **kwargs)


def source(**config):
    config.setdefault("page_url", PAGE)
    settings = Settings(_env_file=None, http_timeout_s=2)
    return StatuspageSource(StatuspageSource.Config(**config), PluginContext(settings=settings, base_dir=Path(".")))


@respx.mock
def test_the_summary_becomes_facts(respx_mock, run):
    route = summary(respx_mock)
    facts = run(source(aliases={"Checkout API": ["checkout"]}).fetch(None))
    states = {f.service: f.status for f in facts if isinstance(f, ServiceState)}
    assert states == {
        "Checkout API": "major_outage", "Login": "operational", "Email delivery": "degraded",
        "Search": "partial_outage", "Reporting": "under_maintenance",
    }, "groups are left out"
    checkout = next(f for f in facts if isinstance(f, ServiceState) and f.service == "Checkout API")
    assert checkout.aliases == ["checkout"] and checkout.description == "Payments and checkout"
    [incident] = [f for f in facts if isinstance(f, OpenIncident)]
    assert (incident.id, incident.title, incident.status) == ("inc1", "Checkout API returning 502 errors", "identified")
    assert incident.services == ["Checkout API"] and incident.url == "https://stspg.io/abc123"
    assert incident.started_at.isoformat() == "2026-11-26T09:25:00+00:00"
    [maintenance] = [f for f in facts if isinstance(f, MaintenanceWindow)]
    assert maintenance.summary == "Reporting database upgrade" and maintenance.services == ["Reporting"]
    assert maintenance.end.isoformat() == "2026-11-26T11:00:00+00:00"
    [page] = [f for f in facts if isinstance(f, StatusPageEntry)]
    assert (page.page, page.status, page.message) == ("status.example.com", "major", "Partial System Outage")
    assert page.components == ["Checkout API", "Email delivery", "Search", "Reporting"]
    assert "authorization" not in route.calls.last.request.headers, "public pages need no auth"


@respx.mock
def test_groups_can_be_included_and_the_page_named(respx_mock, run):
    summary(respx_mock)
    facts = run(source(groups=True, page="ACME status page", disclose=False).fetch(None))
    assert "Commerce" in {f.service for f in facts if isinstance(f, ServiceState)}
    assert next(f for f in facts if isinstance(f, StatusPageEntry)).page == "ACME status page"
    assert not any(f.disclose for f in facts)


@respx.mock
def test_resolved_incidents_and_future_maintenance_are_not_facts(respx_mock, run):
    body = json.loads(json.dumps(SUMMARY))
    body["incidents"][0]["status"] = "resolved"
    body["scheduled_maintenances"][0]["status"] = "completed"
    summary(respx_mock, body)
    facts = run(source().fetch(None))
    assert not [f for f in facts if isinstance(f, (OpenIncident, MaintenanceWindow))]


@respx.mock
def test_an_incident_is_linked_to_the_components_its_updates_mention(respx_mock, run):
    # The documented summary.json shows no affected-components list on an incident: what it says counts.
    body = json.loads(json.dumps(SUMMARY))
    body["incidents"][0]["name"] = "Payments failing"
    body["incidents"][0]["incident_updates"][0]["body"] = "The payment page and search return errors."
    summary(respx_mock, body)
    facts = run(source(aliases={"Checkout API": ["payment page"]}).fetch(None))
    [incident] = [f for f in facts if isinstance(f, OpenIncident)]
    assert incident.services == ["Checkout API", "Search"]


@respx.mock
def test_records_off_the_documented_shape_are_skipped(respx_mock, run):
    # Deliberately not an instance of the documented schema: unknown statuses and nameless records.
    body = json.loads(json.dumps(SUMMARY))
    body["components"] += [{"id": "c6", "name": "Brand new", "status": "some_future_status"}, {"id": "c7", "status": "operational"}]
    body["incidents"].append({"id": "inc2", "status": "investigating"})
    summary(respx_mock, body, check_body=False)
    facts = run(source().fetch(None))
    assert {f.service for f in facts if isinstance(f, ServiceState)} == {"Checkout API", "Login", "Email delivery", "Search", "Reporting"}
    assert [f.id for f in facts if isinstance(f, OpenIncident)] == ["inc1"]


@respx.mock
def test_an_all_clear_page(respx_mock, run):
    page = {"id": "kctbh9vrtdwd", "name": "X", "url": PAGE, "updated_at": "2026-11-26T09:40:00.000Z"}
    summary(respx_mock, {"page": page, "status": {"indicator": "none", "description": "All Systems Operational"},
                         "components": [], "incidents": [], "scheduled_maintenances": []})
    [entry] = run(source().fetch(None))
    assert isinstance(entry, StatusPageEntry) and entry.status == "none" and entry.components == []


@respx.mock
def test_an_empty_object_gives_no_facts(respx_mock, run):
    summary(respx_mock, {}, check_body=False)  # not a documented answer: nothing to tell, nothing breaks
    assert run(source().fetch(None)) == []


@respx.mock
def test_a_trailing_slash_in_the_page_url_is_fine(respx_mock, run):
    route = summary(respx_mock)
    run(source(page_url=PAGE + "/").fetch(None))
    assert route.called


@pytest.mark.parametrize(
    "answer, message",
    [
        (httpx.Response(401), "unexpected answer 401"),
        (httpx.Response(404), "unexpected answer 404"),
        (httpx.Response(429), r"rate limited \(429\)"),
        (httpx.Response(500), r"server error \(500\)"),
        (httpx.Response(200, text="<html>maintenance</html>"), "malformed JSON"),
        (httpx.Response(200, json=[1, 2]), "expected a JSON object"),
    ],
)
@respx.mock
def test_unusable_answers_raise(respx_mock, run, answer, message):
    respx_mock.get(URL).mock(side_effect=checked("statuspage", lambda request: answer))
    with pytest.raises(StatuspageError, match=message):
        run(source().fetch(None))


@respx.mock
def test_a_timeout_is_reported(respx_mock, run):
    def slow(request):
        raise httpx.ReadTimeout("slow")

    respx_mock.get(URL).mock(side_effect=checked("statuspage", slow))
    with pytest.raises(StatuspageError, match="no answer within 2s"):
        run(source().fetch(None))


def test_page_url_must_be_http():
    with pytest.raises(ValueError, match="page_url must be an http"):
        source(page_url="status.example.com")


FLOW = """
name: Statuspage hotline
start: agent
nodes:
  agent:
    type: ai_agent
    greeting: Hello, what's going on?
    intents: {incident: bye, system_outage: bye, talk_to_human: bye}
    gathers: [incident, affected_services]
    enrichment:
      sources:
        - type: statuspage
          page_url: https://status.example.com
          aliases: {Checkout API: [checkout]}
    known_issue: known_goodbye
    fallback: bye
  bye:
    type: hangup
    text: Bye.
  known_goodbye:
    type: hangup
    text: Thanks for letting us know.
"""


def test_a_caller_hears_the_incident_on_the_status_page(tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    with respx.mock() as mock:
        summary(mock)
        call, outcome = simulate(flow, ["checkout is failing with 502s", "no, that's all"], at="2026-11-26T10:00:00")
    told = " ".join(agent_lines(call))
    assert "Checkout API returning 502 errors" in told and "35 minutes ago" in told
    assert outcome.facts_used[0] == "open_incident:inc1"
    assert "Partial System Outage" in told
    assert outcome.branch == "known_goodbye"


def test_a_flow_without_page_url_is_reported(tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.replace("page_url: https://status.example.com", "page: x"))
    _, problems = check_flow(flow, load_registry())
    assert any("page_url" in p.message for p in problems), [p.message for p in problems]
