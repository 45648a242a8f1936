"""ilert's published contract (``ilert/openapi.json``) against our ilert fixtures and the plugin's assumptions.

Each fixture in ``tests/fixtures/ilert`` (but the call-flow export, which the
importer's tests own) is an instance of the response schema of the operation it
stands for. The plugin's constants (page sizes, open states, contact statuses)
are read back from the spec, so a new spec version that changes them fails here
with the name of what to change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugins import ilert
from tests.contracts.checker import Contract, ContractViolation

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ilert"
SPEC = json.loads((Path(__file__).resolve().parent / "ilert" / "openapi.json").read_text())


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract.load("ilert")


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


FIXTURE_OPERATIONS = {
    "incidents.json": "/api/incidents",
    "alerts.json": "/api/alerts",
    "services.json": "/api/services",
    "maintenance-windows.json": "/api/maintenance-windows",
    "on-calls.json": "/api/on-calls",  # with expand=user: full User objects
    "status-pages.json": "/api/status-pages",
    **{f"phone-numbers-{user}.json": f"/api/users/{user}/contacts/phone-numbers" for user in (1, 2, 3, 4)},
}


def test_every_ilert_fixture_is_listed_here():
    present = {p.name for p in FIXTURES.glob("*.json")} - {"call-flow.json"}
    assert present == set(FIXTURE_OPERATIONS)


@pytest.mark.parametrize(("name", "path"), sorted(FIXTURE_OPERATIONS.items()))
def test_each_fixture_is_an_instance_of_its_operations_answer(contract, name, path):
    contract.check_response("GET", path, fixture(name))


def test_a_status_page_list_entry_is_also_a_status_page(contract):
    contract.check_response("GET", "/api/status-pages/42", fixture("status-pages.json")[0])


def test_the_events_answer_declares_no_body(contract):
    contract.check_response("POST", "/api/events", None, status=202)
    with pytest.raises(ContractViolation, match="declares no body"):
        contract.check_response("POST", "/api/events", {"alertUrl": "https://acme.ilert.com/alert/view?id=1"}, status=202)


def _parameter(path: str, name: str, method: str = "get") -> dict:
    for parameter in SPEC["paths"][path][method].get("parameters", []):
        if parameter["name"] == name:
            return parameter
    raise KeyError(f"{method.upper()} {path} declares no `{name}`")


@pytest.mark.parametrize("path", ["/incidents", "/alerts", "/services", "/maintenance-windows", "/status-pages"])
def test_the_page_sizes_are_the_specs_maxima(path):
    assert ilert.PAGE_SIZE[f"/api{path}"] == _parameter(path, "max-results")["schema"]["maximum"]


def test_on_calls_pages_up_to_the_documented_limit():
    assert "may not exceed 250" in _parameter("/on-calls", "max-results")["description"]
    assert ilert.PAGE_SIZE["/api/on-calls"] == 250


def test_the_open_states_asked_for_are_the_specs():
    incident_states = _parameter("/incidents", "states")["schema"]["items"]["enum"]
    assert set(ilert.OPEN_INCIDENT_STATES) == set(incident_states) - {"RESOLVED"}
    alert_states = _parameter("/alerts", "states")["schema"]["items"]["enum"]
    assert set(ilert.OPEN_ALERT_STATES) == set(alert_states) - {"RESOLVED"}
    assert "OPEN" in _parameter("/maintenance-windows", "state")["schema"]["enum"]


def test_service_states_and_contact_statuses_are_the_specs():
    schemas = SPEC["components"]["schemas"]
    assert set(ilert._SERVICE_STATUS) == set(schemas["ServiceStatus"]["enum"])
    assert {ilert.CONTACT_OK, *ilert.CONTACT_UNUSABLE} == set(schemas["ContactStatus"]["enum"])


def test_what_the_plugin_used_to_assume_is_not_in_the_spec(contract):
    """The shapes the spec check found wrong in the old plugin and fixtures."""
    with pytest.raises(ContractViolation, match="integrationKey"):
        contract.schema_check("Event", {"apiKey": "il1api-key", "eventType": "ALERT", "summary": "s"})
    with pytest.raises(ContractViolation, match="NEW"):
        contract.schema_check("Alert", {"id": 1, "summary": "s", "status": "NEW"})
    for field in ("mobile", "landline", "phoneNumbers", "username"):
        with pytest.raises(ContractViolation, match=field):
            contract.schema_check("User", {"firstName": "A", "lastName": "B", "email": "a@b.example", field: "+4930901820"})
    with pytest.raises(ContractViolation, match="id"):
        contract.schema_check("MaintenanceWindow", {"id": 31, "summary": "s"})
    with pytest.raises(ContractViolation, match="date-time"):
        contract.schema_check("MaintenanceWindow", {"summary": "s", "start": "2026-12-03T01:00:00"})
