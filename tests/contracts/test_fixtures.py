"""Every recorded answer we serve in tests is an instance of the vendor's published contract."""

import json
from pathlib import Path

import pytest

from tests.contracts.checker import Contract, ContractViolation

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# fixture -> (contract, method, path as sent, status): which operation answers it (from how
# tests/test_pagerduty.py, tests/test_statuspage.py and tests/test_after_call.py serve it).
OPERATIONS = {
    "pagerduty/incidents.json": ("pagerduty-rest", "GET", "/incidents", 200),
    "pagerduty/services.json": ("pagerduty-rest", "GET", "/services", 200),
    "pagerduty/oncalls.json": ("pagerduty-rest", "GET", "/oncalls", 200),
    "pagerduty/contact_methods_PUSR001.json": ("pagerduty-rest", "GET", "/users/PUSR001/contact_methods", 200),
    "pagerduty/contact_methods_PUSR002.json": ("pagerduty-rest", "GET", "/users/PUSR002/contact_methods", 200),
    "pagerduty/enqueue.json": ("pagerduty-events", "POST", "/v2/enqueue", 202),
    "statuspage/summary.json": ("statuspage", "GET", "/api/v2/summary.json", 200),
    "openai/transcription.json": ("openai", "POST", "/v1/audio/transcriptions", 200),
}
VENDORS = ("pagerduty", "statuspage", "openai")


def test_every_fixture_has_an_operation():
    found = {str(p.relative_to(FIXTURES)) for vendor in VENDORS for p in (FIXTURES / vendor).glob("*.json")}
    assert found == set(OPERATIONS), "map each fixture to the operation that answers it (OPERATIONS)"


@pytest.mark.parametrize("fixture", sorted(OPERATIONS))
def test_the_fixture_is_an_instance_of_the_vendors_schema(fixture):
    contract, method, path, status = OPERATIONS[fixture]
    Contract.load(contract).check_response(method, path, json.loads((FIXTURES / fixture).read_text()), status)


@pytest.mark.parametrize(
    "contract, component, instance",
    [
        ("pagerduty-rest", "PhoneContactMethod", {"type": "phone_contact_method", "label": "Mobile", "address": "30901820", "country_code": 49}),
        ("pagerduty-events", "Payload", {"summary": "s", "source": "voice-agent", "severity": "critical", "custom_details": {"any": ["thing"]}}),
        ("statuspage", "Page", {"id": "y2j98763l56x", "name": "Atlassian Statuspage", "url": "http://metastatuspage.com", "updated_at": "2024-03-27T17:57:01-07:00"}),
        ("ilert", "ContactPhoneNumber", {"id": 1, "regionCode": "DE", "target": "+4930901820", "primary": True}),
        ("openai", "CreateTranscriptionResponseJson", {"text": "Hello"}),
    ],
)
def test_one_component_schema_can_be_checked(contract, component, instance):
    Contract.load(contract).schema_check(component, instance)


def test_an_unknown_component_is_named():
    with pytest.raises(ContractViolation, match="no schema `Nope`"):
        Contract.load("ilert").schema_check("Nope", {})
