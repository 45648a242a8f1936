"""The PagerDuty plugin against answers that are instances of PagerDuty's published specs.

The fixtures (tests/fixtures/pagerduty) are checked against the REST API and Events API v2 OpenAPI
specs (tests/contracts) when they are served, and every request the plugin sends is checked too:
routes are made with ``contract_route`` / ``checked``. Answers that are deliberately not spec
instances (errors, robustness) are served with ``checked`` (the request is still checked).
"""

import json
from pathlib import Path

import httpx
import pytest
import respx

from agent.core.call import Alert, AlertLink, AlertNote, AlertReceipt
from agent.core.facts import OpenIncident, ServiceState
from agent.flow.loader import check_flow
from agent.flow.models import RouteTarget
from agent.core.registry import load_registry
from agent.core.settings import Settings
from agent.core.sources import PluginContext
from plugins.pagerduty import (
    PagerDutyDirectory,
    PagerDutyError,
    PagerDutyPlatform,
    PagerDutySource,
    e164,
)
from tests.contracts.checker import checked, contract_route
from tests.helpers import agent_lines, simulate

FIXTURES = Path(__file__).parent / "fixtures" / "pagerduty"
API = "https://pd.test"
EVENTS = "https://events.pd.test"


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def context(**overrides):
    values = {
        "pagerduty_api_key": "read-key", "pagerduty_routing_key": "route-key", "pagerduty_base_url": API,
        "pagerduty_events_url": EVENTS, "http_timeout_s": 2,
    }
    values.update(overrides)
    return PluginContext(settings=Settings(_env_file=None, **values), base_dir=Path("."))


def source(**config):
    return PagerDutySource(PagerDutySource.Config(**config), context())


def directory(**config):
    return PagerDutyDirectory(PagerDutyDirectory.Config(**config), context())


def platform(**config):
    return PagerDutyPlatform(PagerDutyPlatform.Config(**config), context())


def empty(key):
    return {key: [], "limit": 100, "offset": 0, "more": False}


def rest(mock, path, body, **kwargs):
    """A GET route on the REST API: ``body`` is checked against the spec, and so is every request."""
    return contract_route(mock, "pagerduty-rest", "GET", path, json=body, **kwargs)


def answers(*bodies):
    """Successive answers of one route (pagination), each checked against the spec when served."""
    pages = iter(bodies)
    return lambda request: next(pages)


def enqueue(mock, body=None, status=202, **kwargs):
    return contract_route(mock, "pagerduty-events", "POST", f"{EVENTS}/v2/enqueue", json=body or fixture("enqueue.json"), status=status, **kwargs)


# --- enrichment source -------------------------------------------------------------------------


@respx.mock(base_url=API)
def test_open_incidents_and_service_states_become_facts(respx_mock, run):
    incidents = rest(respx_mock, "/incidents", fixture("incidents.json"))
    rest(respx_mock, "/services", fixture("services.json"))
    facts = run(source(aliases={"Checkout API": ["checkout"]}).fetch(None))
    [incident] = [f for f in facts if isinstance(f, OpenIncident)]
    assert incident.id == "PD-1042" and incident.title == "Checkout API returning 502 errors"
    assert incident.status == "acknowledged" and incident.services == ["Checkout API"]
    assert incident.started_at.isoformat() == "2026-11-26T09:25:00+00:00"
    assert incident.url == "https://acme.pagerduty.com/incidents/Q2KN5OSB8ZVA3K"
    states = {f.service: f.status for f in facts if isinstance(f, ServiceState)}
    assert states == {
        "Checkout API": "major_outage", "Login": "operational", "Reporting": "under_maintenance", "Email delivery": "degraded",
    }, "disabled and nameless services are left out; the incident without a title too"
    assert [f.aliases for f in facts if isinstance(f, ServiceState) and f.service == "Checkout API"] == [["checkout"]]
    request = incidents.calls.last.request
    assert request.headers["Authorization"] == "Token token=read-key"
    assert request.headers["Accept"] == "application/vnd.pagerduty+json;version=2"
    assert request.url.params.get_list("statuses[]") == ["triggered", "acknowledged"]
    assert request.url.params["limit"] == "100" and request.url.params["offset"] == "0"


@respx.mock(base_url=API)
def test_service_ids_filter_incidents_and_services(respx_mock, run):
    incidents = rest(respx_mock, "/incidents", empty("incidents"))
    rest(respx_mock, "/services", fixture("services.json"))
    facts = run(source(service_ids=["PSVC002", "PSVC003"]).fetch(None))
    assert incidents.calls.last.request.url.params.get_list("service_ids[]") == ["PSVC002", "PSVC003"]
    assert sorted(f.service for f in facts) == ["Login", "Reporting"]


@respx.mock(base_url=API)
def test_nothing_open_means_no_facts(respx_mock, run):
    rest(respx_mock, "/incidents", empty("incidents"))
    rest(respx_mock, "/services", empty("services"))
    assert run(source().fetch(None)) == []


@respx.mock(base_url=API)
def test_a_service_status_the_spec_may_add_later_is_skipped(respx_mock, run):
    # Deliberately not a spec instance: the spec's enum has 5 statuses; a sixth is skipped, not fatal.
    body = fixture("services.json")
    body["services"].append({"id": "PSVC007", "type": "service", "name": "Odd", "status": "something-new"})
    rest(respx_mock, "/services", body, check_body=False)
    facts = run(source(incidents=False).fetch(None))
    assert "Odd" not in {f.service for f in facts}


@respx.mock(base_url=API)
def test_pages_are_followed_while_more_is_true(respx_mock, run):
    first = fixture("incidents.json")
    first["more"] = True
    second = {"incidents": [dict(first["incidents"][0], id="Q2", incident_number=1043, title="Login slow")], "more": False}
    route = rest(respx_mock, "/incidents", answers(first, second))
    facts = run(source(services=False).fetch(None))
    assert [f.title for f in facts] == ["Checkout API returning 502 errors", "Login slow"]
    assert [c.request.url.params["offset"] for c in route.calls] == ["0", "2"]


@respx.mock(base_url=API)
def test_pagination_is_capped(respx_mock, run):
    endless = dict(fixture("incidents.json"), more=True)
    route = rest(respx_mock, "/incidents", lambda request: endless)
    facts = run(source(services=False, max_pages=3).fetch(None))
    assert route.call_count == 3 and len(facts) == 3


@pytest.mark.parametrize(
    "answer, message",
    [
        (httpx.Response(401, json={"error": {"message": "Unauthorized", "code": 2006}}), "rejected the key (401"),
        (httpx.Response(403, json={"error": {"message": "Forbidden"}}), "403"),
        (httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"message": "Rate Limit Exceeded"}}), "rate limited by PagerDuty (429), retry after 7s"),
        (httpx.Response(500, text="oops"), "server error (500)"),
        (httpx.Response(200, text="{not json"), "malformed JSON"),
        (httpx.Response(200, json=["a list"]), "expected a JSON object"),
        (httpx.Response(200, json={"unexpected": True}), "no `incidents` list"),
    ],
)
@respx.mock(base_url=API)
def test_unusable_answers_raise_a_clear_error(respx_mock, run, answer, message):
    respx_mock.get("/incidents").mock(side_effect=checked("pagerduty-rest", lambda request: answer))
    with pytest.raises(PagerDutyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(source(services=False).fetch(None))


@respx.mock(base_url=API)
def test_services_still_count_when_incidents_fail(respx_mock, run):
    respx_mock.get("/incidents").mock(side_effect=checked("pagerduty-rest", lambda request: httpx.Response(500)))
    rest(respx_mock, "/services", fixture("services.json"))
    facts = run(source().fetch(None))
    assert facts and all(isinstance(f, ServiceState) for f in facts)


@respx.mock(base_url=API)
def test_a_timeout_is_reported_with_the_limit(respx_mock, run):
    def slow(request):
        raise httpx.ReadTimeout("slow")

    respx_mock.get("/incidents").mock(side_effect=checked("pagerduty-rest", slow))
    with pytest.raises(PagerDutyError, match=r"GET /incidents: PagerDuty did not answer within 2s"):
        run(source(services=False).fetch(None))


def test_without_an_api_key_the_source_says_which_setting_is_missing(run):
    built = PagerDutySource(PagerDutySource.Config(), context(pagerduty_api_key=None))  # flows stay checkable without secrets
    with pytest.raises(PagerDutyError, match="VOICE_AGENT_PAGERDUTY_API_KEY"):
        run(built.fetch(None))


# --- on-call directory -------------------------------------------------------------------------


def contacts(respx_mock):
    rest(respx_mock, "/users/PUSR001/contact_methods", fixture("contact_methods_PUSR001.json"))
    rest(respx_mock, "/users/PUSR002/contact_methods", fixture("contact_methods_PUSR002.json"))


@respx.mock(base_url=API)
def test_on_call_people_come_in_escalation_order_with_e164_numbers(respx_mock, run):
    oncalls = rest(respx_mock, "/oncalls", fixture("oncalls.json"))
    contacts(respx_mock)
    shifts = run(directory().on_call(RouteTarget(type="escalation_policy", id="PEP0001"), None))
    assert [(s.name, s.number, s.schedule) for s in shifts] == [
        ("Alice Example", "+4930901820", "PEP0001"),
        ("Bob Example", "+14155550123", "PEP0001"),
    ]
    request = oncalls.calls.last.request
    assert request.url.params.get_list("escalation_policy_ids[]") == ["PEP0001"]
    assert request.headers["Authorization"] == "Token token=read-key"


@pytest.mark.parametrize("kind, param", [("on_call_schedule", "schedule_ids[]"), ("user", "user_ids[]")])
@respx.mock(base_url=API)
def test_schedules_and_users_filter_the_on_call_list(respx_mock, run, kind, param):
    oncalls = rest(respx_mock, "/oncalls", fixture("oncalls.json"))
    contacts(respx_mock)
    run(directory().on_call(RouteTarget(type=kind, id="X1"), None))
    assert oncalls.calls.last.request.url.params.get_list(param) == ["X1"]


@respx.mock(base_url=API)
def test_sms_numbers_can_be_left_out(respx_mock, run):
    rest(respx_mock, "/oncalls", fixture("oncalls.json"))
    contacts(respx_mock)
    shifts = run(directory(sms_numbers=False).on_call(RouteTarget(type="escalation_policy", id="PEP0001"), None))
    assert [s.name for s in shifts] == ["Alice Example"], "Bob's only valid number is an SMS contact"


@respx.mock(base_url=API)
def test_one_unreadable_person_does_not_hide_the_others(respx_mock, run):
    rest(respx_mock, "/oncalls", fixture("oncalls.json"))
    respx_mock.get("/users/PUSR001/contact_methods").mock(side_effect=checked("pagerduty-rest", lambda request: httpx.Response(500)))
    rest(respx_mock, "/users/PUSR002/contact_methods", fixture("contact_methods_PUSR002.json"))
    shifts = run(directory().on_call(RouteTarget(type="escalation_policy", id="PEP0001"), None))
    assert [s.name for s in shifts] == ["Bob Example"]


@respx.mock(base_url=API)
def test_when_no_one_is_readable_the_error_is_raised(respx_mock, run):
    rest(respx_mock, "/oncalls", fixture("oncalls.json"))
    respx_mock.get(url__regex=r"/users/.*/contact_methods").mock(side_effect=checked("pagerduty-rest", lambda request: httpx.Response(401)))
    with pytest.raises(PagerDutyError, match="401"):
        run(directory().on_call(RouteTarget(type="escalation_policy", id="PEP0001"), None))


@respx.mock(base_url=API)
def test_no_one_on_call_is_an_empty_list(respx_mock, run):
    rest(respx_mock, "/oncalls", empty("oncalls"))
    assert run(directory().on_call(RouteTarget(type="on_call_schedule", id="PSCH001"), None)) == []


@respx.mock(base_url=API)
def test_on_call_pages_are_followed(respx_mock, run):
    page = fixture("oncalls.json")
    first = dict(page, oncalls=page["oncalls"][:1], more=True)
    second = dict(page, oncalls=page["oncalls"][1:2], more=False)
    route = rest(respx_mock, "/oncalls", answers(first, second))
    contacts(respx_mock)
    shifts = run(directory().on_call(RouteTarget(type="escalation_policy", id="PEP0001"), None))
    assert [s.name for s in shifts] == ["Alice Example", "Bob Example"]
    assert [c.request.url.params["offset"] for c in route.calls] == ["0", "1"]


@pytest.mark.parametrize(
    "country, address, expected",
    [(49, "30901820", "+4930901820"), ("1", "(415) 555-0123", "+14155550123"), (1, "12", None), (None, "4155550123", None), (44, "", None),
     (None, "+4930901820", "+4930901820")],
)
def test_contact_method_numbers_become_e164(country, address, expected):
    assert e164(country, address) == expected


# --- alert platform ----------------------------------------------------------------------------


@respx.mock
def test_an_alert_is_a_trigger_event(respx_mock, run):
    route = enqueue(respx_mock)
    alert = Alert(summary="Checkout down", details="Caller says checkout fails", priority="high",
                  fields={"caller_name": "Tom Baker", "affected_services": ["Checkout API"]}, dedup_key="incident:checkout api")
    receipt = run(platform().open_alert(alert, None))
    assert (receipt.platform, receipt.key, receipt.url) == ("pagerduty", "incident:checkout api", None)
    body = json.loads(route.calls.last.request.content)
    assert body == {
        "routing_key": "route-key", "event_action": "trigger", "dedup_key": "incident:checkout api",
        "payload": {
            "summary": "Checkout down", "source": "voice-agent", "severity": "critical",
            "custom_details": {"caller_name": "Tom Baker", "affected_services": ["Checkout API"], "details": "Caller says checkout fails"},
        },
    }


@respx.mock
def test_low_priority_alerts_are_warnings(respx_mock, run):
    route = enqueue(respx_mock)
    run(platform().open_alert(Alert(summary="s", details="d", priority="low"), None))
    assert json.loads(route.calls.last.request.content)["payload"]["severity"] == "warning"


@respx.mock
def test_links_component_group_and_the_transcript_go_into_the_event(respx_mock, run):
    route = enqueue(respx_mock)
    alert = Alert(summary="s", details="d", transcript="Caller: it is down", dedup_key="k1",
                  links=[AlertLink(href="https://voice-agent.test/calls/CA1", text="Call record")])
    run(platform(component="checkout", group="web").open_alert(alert, None))
    event = json.loads(route.calls.last.request.content)
    assert event["links"] == [{"href": "https://voice-agent.test/calls/CA1", "text": "Call record"}]
    assert (event["payload"]["component"], event["payload"]["group"]) == ("checkout", "web")
    assert event["payload"]["custom_details"]["transcript"] == "Caller: it is down"


@respx.mock
def test_a_note_is_another_trigger_under_the_alerts_dedup_key(respx_mock, run):
    route = enqueue(respx_mock)
    alert = Alert(summary="Checkout down", details="d", dedup_key="incident:checkout api",
                  receipt=AlertReceipt(platform="pagerduty", key="incident:checkout api"))
    note = AlertNote(text="Recording transcribed: the caller saw 502s", links=[AlertLink(href="https://rec.test/1", text="Recording")])
    run(platform().add_note(alert, note))
    event = json.loads(route.calls.last.request.content)
    assert event["event_action"] == "trigger" and event["dedup_key"] == "incident:checkout api"
    assert event["payload"]["custom_details"] == {"note": "Recording transcribed: the caller saw 502s"}
    assert event["links"] == [{"href": "https://rec.test/1", "text": "Recording"}]


@pytest.mark.parametrize(
    "answer, message",
    [
        (httpx.Response(400, json={"status": "invalid event", "message": "Event object is invalid", "errors": ["Length of 'routing_key' is incorrect"]}), "unexpected answer 400 (Event object is invalid)"),
        (httpx.Response(429, json={"status": "throttle event", "message": "Requests for this service are arriving too quickly."}), "429"),
        (httpx.Response(503, text="unavailable"), "server error (503)"),
        (httpx.Response(202, text="<html>"), "malformed JSON"),
        (httpx.Response(202, json={"status": "success", "message": "Event processed"}), "did not accept the event"),
    ],
)
@respx.mock
def test_failed_enqueues_raise(respx_mock, run, answer, message):
    respx_mock.post(f"{EVENTS}/v2/enqueue").mock(side_effect=checked("pagerduty-events", lambda request: answer))
    with pytest.raises(PagerDutyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(platform().open_alert(Alert(summary="s", details="d"), None))


@respx.mock
def test_enqueue_timeout(respx_mock, run):
    def slow(request):
        raise httpx.ConnectTimeout("slow")

    respx_mock.post(f"{EVENTS}/v2/enqueue").mock(side_effect=checked("pagerduty-events", slow))
    with pytest.raises(PagerDutyError, match="did not answer within 2s"):
        run(platform().open_alert(Alert(summary="s", details="d"), None))


def test_without_a_routing_key_alerts_cannot_be_opened(run):
    built = PagerDutyPlatform(PagerDutyPlatform.Config(), context(pagerduty_routing_key=None))
    with pytest.raises(PagerDutyError, match="VOICE_AGENT_PAGERDUTY_ROUTING_KEY"):
        run(built.open_alert(Alert(summary="s", details="d"), None))


def test_the_example_flow_checks_without_secrets(monkeypatch):
    for name in ("API_KEY", "ROUTING_KEY"):
        monkeypatch.delenv(f"VOICE_AGENT_PAGERDUTY_{name}", raising=False)
    _, problems = check_flow(Path(__file__).parent.parent / "examples" / "flows" / "pagerduty.yaml", load_registry())
    assert problems == []


def test_all_three_roles_are_registered():
    registry = load_registry()
    assert registry.sources["pagerduty"] is PagerDutySource
    assert registry.oncall_directories["pagerduty"] is PagerDutyDirectory
    assert registry.alert_platforms["pagerduty"] is PagerDutyPlatform


# --- a simulated call ----------------------------------------------------------------------------

FLOW = """
name: PagerDuty hotline
start: agent
nodes:
  agent:
    type: ai_agent
    greeting: Hello, what's going on?
    intents: {incident: alert, system_outage: alert, talk_to_human: page}
    gathers: [incident, affected_services, caller_name]
    enrichment:
      sources:
        - type: pagerduty
          aliases: {Checkout API: [checkout], Login: [sign in, sso]}
    known_issue: known_goodbye
    fallback: page
  alert:
    type: create_alert
    platform: {type: pagerduty}
    next: page
  page:
    type: route_call
    on_call: {type: pagerduty}
    targets: [{type: escalation_policy, id: PEP0001}]
  known_goodbye:
    type: hangup
    text: Thanks for letting us know.
"""


@pytest.fixture
def pagerduty(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICE_AGENT_PAGERDUTY_API_KEY", "read-key")
    monkeypatch.setenv("VOICE_AGENT_PAGERDUTY_ROUTING_KEY", "route-key")
    monkeypatch.setenv("VOICE_AGENT_PAGERDUTY_BASE_URL", API)
    monkeypatch.setenv("VOICE_AGENT_PAGERDUTY_EVENTS_URL", EVENTS)
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    with respx.mock(assert_all_called=False) as mock:
        rest(mock, f"{API}/incidents", fixture("incidents.json"))
        rest(mock, f"{API}/services", fixture("services.json"))
        rest(mock, f"{API}/oncalls", fixture("oncalls.json"))
        rest(mock, f"{API}/users/PUSR001/contact_methods", fixture("contact_methods_PUSR001.json"))
        rest(mock, f"{API}/users/PUSR002/contact_methods", fixture("contact_methods_PUSR002.json"))
        enqueue(
            mock, name="enqueue",
            body=lambda request: {"status": "success", "message": "Event processed", "dedup_key": json.loads(request.content)["dedup_key"]},
        )
        yield flow, mock


def test_a_caller_hears_the_known_pagerduty_incident(pagerduty):
    flow, mock = pagerduty
    call, outcome = simulate(flow, ["checkout is failing with 502s", "no, that's all"], at="2026-11-26T10:00:00")
    told = " ".join(agent_lines(call))
    assert "Checkout API returning 502 errors" in told and "35 minutes ago" in told
    assert outcome.facts_used == ["open_incident:PD-1042"]
    assert outcome.branch == "known_goodbye" and not outcome.dials
    assert not mock["enqueue"].called


def test_a_new_problem_is_enqueued_and_the_on_call_engineer_is_dialled(pagerduty):
    flow, mock = pagerduty
    _, outcome = simulate(
        flow, ["hello, nothing on your platform loads for any of our users", "it's the sign in", "Tom Baker here", "yep", "nope"],
        at="2026-11-26T10:00:00",
    )
    assert outcome.fields["affected_services"] == ["Login"] and outcome.fields["caller_name"] == "Tom Baker"
    event = json.loads(mock["enqueue"].calls.last.request.content)
    assert event["routing_key"] == "route-key" and event["event_action"] == "trigger"
    assert event["payload"]["custom_details"]["caller_name"] == "Tom Baker"
    assert event["payload"]["custom_details"]["affected_services"] == ["Login"]
    assert event["dedup_key"] == outcome.alerts[0].dedup_key
    assert outcome.alerts[0].receipt.platform == "pagerduty" and outcome.alerts[0].receipt.key == event["dedup_key"]
    assert [d.number for d in outcome.dials][:1] == ["+4930901820"]
    assert outcome.dials[0].name == "Alice Example"
