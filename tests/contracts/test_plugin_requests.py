"""What the ilert, PagerDuty and Statuspage plugins send, on every code path, is what the vendors' specs declare.

tests/test_ilert.py, tests/test_pagerduty.py and tests/test_statuspage.py serve all their answers through
``contract_route`` (so every request there is checked too); this file drives each plugin role once
and proves that the operations kept in the trimmed specs are exactly the ones the plugins call.
"""

import json
from pathlib import Path

import respx

from agent.core.call import Alert, AlertLink, AlertNote, AlertReceipt
from agent.flow.models import RouteTarget
from agent.core.settings import Settings
from agent.core.sources import PluginContext
from plugins.ilert import IlertAlerts, IlertDirectory, IlertSource
from plugins.pagerduty import PagerDutyDirectory, PagerDutyPlatform, PagerDutySource
from plugins.statuspage import StatuspageSource
from tests.contracts.checker import Contract, contract_route

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
API = "https://pd.test"
EVENTS = "https://events.pd.test"
ILERT = "https://ilert.test"


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def context():
    settings = Settings(
        _env_file=None, pagerduty_api_key="k", pagerduty_routing_key="r", pagerduty_base_url=API,
        pagerduty_events_url=EVENTS, http_timeout_s=2,
    )
    return PluginContext(settings=settings, base_dir=Path("."))


def test_every_pagerduty_role_sends_only_declared_requests_and_uses_every_kept_operation(run):
    with respx.mock(base_url=API) as mock:
        routes = [
            contract_route(mock, "pagerduty-rest", "GET", "/incidents", json=fixture("pagerduty/incidents.json")),
            contract_route(mock, "pagerduty-rest", "GET", "/services", json=fixture("pagerduty/services.json")),
            contract_route(mock, "pagerduty-rest", "GET", "/oncalls", json=fixture("pagerduty/oncalls.json")),
            contract_route(mock, "pagerduty-rest", "GET", "/users/PUSR001/contact_methods", json=fixture("pagerduty/contact_methods_PUSR001.json")),
            contract_route(mock, "pagerduty-rest", "GET", "/users/PUSR002/contact_methods", json=fixture("pagerduty/contact_methods_PUSR002.json")),
            contract_route(mock, "pagerduty-events", "POST", f"{EVENTS}/v2/enqueue", json=fixture("pagerduty/enqueue.json"), status=202),
        ]
        ctx = context()
        run(PagerDutySource(PagerDutySource.Config(service_ids=["PSVC001"]), ctx).fetch(None))
        for kind in ("escalation_policy", "on_call_schedule", "user"):
            run(PagerDutyDirectory(None, ctx).on_call(RouteTarget(type=kind, id="P1"), None))
        platform = PagerDutyPlatform(PagerDutyPlatform.Config(component="checkout", group="web"), ctx)
        alert = Alert(summary="Checkout down", details="d", fields={"caller_name": "Tom"}, transcript="Caller: down",
                      dedup_key="incident:checkout", links=[AlertLink(href="https://x.test/1", text="Call")])
        receipt = run(platform.open_alert(alert, None))
        run(platform.add_note(alert.model_copy(update={"receipt": receipt}), AlertNote(text="more", links=[AlertLink(href="https://x.test/2", text="Rec")])))
        run(platform.add_note(Alert(summary="s", details="d", receipt=AlertReceipt(platform="pagerduty", key="k2")), AlertNote(text="n")))
    assert all(route.called for route in routes)
    used = {(r.calls.last.request.method, r.calls.last.request.url.path) for r in routes}
    declared = {(op.method.upper(), op.prefix + op.template) for name in ("pagerduty-rest", "pagerduty-events") for op in Contract.load(name).operations}
    assert {(m, p.replace("PUSR001", "{id}").replace("PUSR002", "{id}")) for m, p in used} == declared


def test_the_statuspage_source_sends_only_the_documented_request(run):
    with respx.mock() as mock:
        route = contract_route(mock, "statuspage", "GET", "https://status.example.com/api/v2/summary.json", json=fixture("statuspage/summary.json"))
        source = StatuspageSource(StatuspageSource.Config(page_url="https://status.example.com/"), context())
        assert run(source.fetch(None))
    assert route.call_count == 1


def test_every_ilert_role_sends_only_declared_requests(run):
    settings = Settings(_env_file=None, ilert_base_url=ILERT, ilert_api_key="k", ilert_alert_source_key="il1api", http_timeout_s=2)
    ctx = PluginContext(settings=settings, base_dir=Path("."))
    with respx.mock(base_url=ILERT) as mock:
        routes = [
            contract_route(mock, "ilert", "GET", "/api/incidents", json=fixture("ilert/incidents.json")),
            contract_route(mock, "ilert", "GET", "/api/services", json=fixture("ilert/services.json")),
            contract_route(mock, "ilert", "GET", "/api/maintenance-windows", json=fixture("ilert/maintenance-windows.json")),
            contract_route(mock, "ilert", "GET", "/api/alerts", json=fixture("ilert/alerts.json")),
            contract_route(mock, "ilert", "GET", "/api/status-pages", json=fixture("ilert/status-pages.json")),
            contract_route(mock, "ilert", "GET", "/api/on-calls", json=fixture("ilert/on-calls.json")),
            *(contract_route(mock, "ilert", "GET", f"/api/users/{user}/contacts/phone-numbers", json=fixture(f"ilert/phone-numbers-{user}.json"))
              for user in (1, 2, 3, 4)),
            contract_route(mock, "ilert", "POST", "/api/events", json=None, status=202),
        ]
        info = ["incidents", "services", "maintenance", "alerts", "status_pages"]
        assert run(IlertSource(IlertSource.Config(information=info), ctx).fetch(None))
        for kind in ("escalation_policy", "on_call_schedule", "user"):
            run(IlertDirectory(None, ctx).on_call(RouteTarget(type=kind, id="1"), None))
        platform = IlertAlerts(None, ctx)
        alert = Alert(summary="Checkout down", details="d", fields={"caller_name": "Tom"}, transcript="Caller: down",
                      dedup_key="incident:checkout", links=[AlertLink(href="https://x.test/1", text="Call")])
        receipt = run(platform.open_alert(alert, None))
        run(platform.add_note(alert.model_copy(update={"receipt": receipt}), AlertNote(text="more")))
    assert all(route.called for route in routes), [r for r in routes if not r.called]
