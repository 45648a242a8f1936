"""The checker fails, clearly, when a fixture or a request is not what the vendor publishes."""

import copy
import json
from pathlib import Path

import httpx
import pytest
import respx

from agent.flow.models import RouteTarget
from agent.core.settings import Settings
from agent.core.sources import PluginContext
from plugins.pagerduty import TARGET_FILTERS, PagerDutyDirectory, PagerDutySource, _RestClient
from tests.contracts.checker import Contract, ContractViolation, contract_route

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
API = "https://pd.test"


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def rename(body, path, new):
    """A copy of ``body`` with the field at ``path`` renamed to ``new``."""
    body = copy.deepcopy(body)
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    parent[new] = parent.pop(path[-1])
    return body


PHONE_NUMBERS = [{"id": 1, "regionCode": "DE", "target": "+4930901820", "primary": True, "status": "OK"}]

# (contract, method, path, status, a valid answer, field renamed, new name, vendor + operation named)
ANSWERS = [
    ("pagerduty-rest", "GET", "/incidents", 200, fixture("pagerduty/incidents.json"), ["incidents", 0, "title"], "titel", "PagerDuty REST API GET /incidents"),
    ("pagerduty-rest", "GET", "/users/PUSR001/contact_methods", 200, fixture("pagerduty/contact_methods_PUSR001.json"), ["contact_methods", 1, "country_code"], "countryCode", "PagerDuty REST API GET /users/{id}/contact_methods"),
    ("pagerduty-events", "POST", "/v2/enqueue", 202, fixture("pagerduty/enqueue.json"), ["dedup_key"], "dedupKey", "PagerDuty Events API v2 POST /v2/enqueue"),
    ("statuspage", "GET", "/api/v2/summary.json", 200, fixture("statuspage/summary.json"), ["components", 0, "status"], "state", "Statuspage public API GET /api/v2/summary.json"),
    ("ilert", "GET", "/api/users/7/contacts/phone-numbers", 200, PHONE_NUMBERS, [0, "target"], "number", "ilert GET /api/users/{user-id}/contacts/phone-numbers"),
]


@pytest.mark.parametrize("contract, method, path, status, body, field, new, operation", ANSWERS, ids=[a[0] + ":" + a[6] for a in ANSWERS])
def test_a_renamed_field_in_an_answer_fails(contract, method, path, status, body, field, new, operation):
    Contract.load(contract).check_response(method, path, body, status)  # the original is an instance
    with pytest.raises(ContractViolation) as failure:
        Contract.load(contract).check_response(method, path, rename(body, field, new), status)
    message = str(failure.value)
    parent = "$" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in field[:-1])
    assert message.startswith(operation), message
    assert f"{parent}.{new}: `{new}` is not a field the spec declares here" in message, message


EVENT = {"routing_key": "r", "event_action": "trigger", "dedup_key": "k",
         "payload": {"summary": "s", "source": "voice-agent", "severity": "critical", "custom_details": {"a": 1}}}
ILERT_EVENT = {"integrationKey": "il1", "eventType": "ALERT", "summary": "s", "alertKey": "k"}

# (contract, a valid request, the same request with one name changed, what the message must say)
REQUESTS = [
    ("pagerduty-rest",
     httpx.Request("GET", f"{API}/incidents", params=[("statuses[]", "triggered"), ("limit", 100)]),
     httpx.Request("GET", f"{API}/incidents", params=[("status[]", "triggered"), ("limit", 100)]),
     "PagerDuty REST API GET /incidents (listIncidents): query parameter `status[]`: not declared for this operation"),
    ("pagerduty-events",
     httpx.Request("POST", "https://events.pd.test/v2/enqueue", json=EVENT),
     httpx.Request("POST", "https://events.pd.test/v2/enqueue", json=rename(EVENT, ["payload", "severity"], "sevrity")),
     "PagerDuty Events API v2 POST /v2/enqueue (createV2Event): request body $.payload: 'severity' is a required property"
     " (also $.payload.sevrity: `sevrity` is not a field the spec declares here)"),
    ("statuspage",
     httpx.Request("GET", "https://status.example.com/api/v2/summary.json"),
     httpx.Request("GET", "https://status.example.com/api/v2/summary.json", params={"page": "1"}),
     "Statuspage public API GET /api/v2/summary.json: query parameter `page`: not declared for this operation"),
    ("ilert",
     httpx.Request("POST", "https://api.ilert.com/api/events", json=ILERT_EVENT),
     httpx.Request("POST", "https://api.ilert.com/api/events", json=rename(ILERT_EVENT, ["alertKey"], "dedupKey")),
     "ilert POST /api/events: request body $.dedupKey: `dedupKey` is not a field the spec declares here"),
]


@pytest.mark.parametrize("contract, valid, renamed, message", REQUESTS, ids=[r[0] for r in REQUESTS])
def test_a_renamed_field_in_a_request_fails(contract, valid, renamed, message):
    Contract.load(contract).check_request(valid)
    with pytest.raises(ContractViolation) as failure:
        Contract.load(contract).check_request(renamed)
    assert str(failure.value).startswith(message), str(failure.value)


def test_a_path_or_method_the_spec_does_not_declare_fails():
    with pytest.raises(ContractViolation, match=r"ilert GET /alerts: no such operation in the spec \(declared: /api/alerts"):
        Contract.load("ilert").check_request(httpx.Request("GET", "https://api.ilert.com/alerts"))
    with pytest.raises(ContractViolation, match=r"the spec declares GET for /incidents, not POST"):
        Contract.load("pagerduty-rest").check_request(httpx.Request("POST", f"{API}/incidents", json={}))


def test_a_bad_value_and_a_repeated_scalar_fail():
    ilert = Contract.load("ilert")
    with pytest.raises(ContractViolation, match=r"query parameter `states` = \['NEW'\]: 'NEW' is not one of \['PENDING', 'ACCEPTED', 'RESOLVED'\]"):
        ilert.check_request(httpx.Request("GET", "https://api.ilert.com/api/alerts", params={"states": "NEW"}))
    with pytest.raises(ContractViolation, match="sent more than once but its schema is not an array"):
        ilert.check_request(httpx.Request("GET", "https://api.ilert.com/api/on-calls", params=[("policies", "1"), ("policies", "2")]))
    with pytest.raises(ContractViolation, match=r"path parameter `id` = 'abc': 'abc' is not of type 'number'"):
        ilert.check_request(httpx.Request("GET", "https://api.ilert.com/api/call-flows/abc"))


def context():
    settings = Settings(_env_file=None, pagerduty_api_key="k", pagerduty_base_url=API, http_timeout_s=2)
    return PluginContext(settings=settings, base_dir=Path("."))


def test_a_plugin_sending_a_wrong_parameter_name_fails_the_test(run, monkeypatch, vendor):
    monkeypatch.setitem(TARGET_FILTERS, "escalation_policy", "escalation_policy_id")
    with respx.mock(base_url=API) as mock:
        contract_route(mock, "pagerduty-rest", "GET", "/oncalls", json=fixture("pagerduty/oncalls.json"))
        with pytest.raises(ContractViolation, match="query parameter `escalation_policy_id`: not declared"):
            run(PagerDutyDirectory(None, context()).on_call(RouteTarget(type="escalation_policy", id="PEP0001"), None))
    assert len(vendor.take_violations()) == 1  # recorded as well (taken: expected here)


def test_a_violation_the_plugin_swallows_is_still_recorded(run, monkeypatch, vendor):
    original = _RestClient.list

    async def with_a_typo(self, client, path, key, params, max_pages):
        if path == "/incidents":
            params = [("status[]" if name == "statuses[]" else name, value) for name, value in params]
        return await original(self, client, path, key, params, max_pages)

    monkeypatch.setattr(_RestClient, "list", with_a_typo)
    with respx.mock(base_url=API) as mock:
        contract_route(mock, "pagerduty-rest", "GET", "/incidents", json=fixture("pagerduty/incidents.json"))
        contract_route(mock, "pagerduty-rest", "GET", "/services", json=fixture("pagerduty/services.json"))
        facts = run(PagerDutySource(None, context()).fetch(None))  # the source logs the failed half and goes on
    assert facts, "the services still became facts: without the recorder this test would pass"
    [violation] = vendor.take_violations()  # taken: otherwise the test fails at teardown
    assert "query parameter `status[]`: not declared for this operation" in str(violation)


def test_a_fixture_that_is_no_instance_fails_when_the_route_is_made():
    body = rename(fixture("pagerduty/oncalls.json"), ["oncalls", 0, "escalation_level"], "level")
    with respx.mock(base_url=API) as mock, pytest.raises(ContractViolation, match=r"\$\.oncalls\[0\]\.level: `level` is not a field"):
        contract_route(mock, "pagerduty-rest", "GET", "/oncalls", json=body)
