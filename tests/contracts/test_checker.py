"""The OpenAPI -> JSON Schema translation the checker relies on, and the trimmed files' closure."""

import json
from pathlib import Path

import pytest

from tests.contracts.checker import CONTRACTS, Contract, ContractViolation
from tests.contracts.trim import trim

HERE = Path(__file__).resolve().parent

SPEC = {
    "openapi": "3.0.1",
    "info": {"title": "t", "version": "1"},
    "servers": [{"url": "https://x.test/v9"}],
    "paths": {
        "/things": {
            "get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}}}
        }
    },
    "components": {
        "schemas": {
            "Base": {"type": "object", "properties": {"id": {"type": "string"}, "note": {"type": "string", "nullable": True}}},
            "Thing": {
                "allOf": [{"$ref": "#/components/schemas/Base"}, {"type": "object", "properties": {"kind": {"type": "string", "enum": ["a"], "nullable": True}}}],
            },
            "Bag": {"type": "object", "properties": {"extra": {"type": "object"}, "map": {"type": "object", "additionalProperties": {"type": "integer"}}}},
        }
    },
}


@pytest.fixture
def contract():
    return Contract("test", "Test", SPEC, "openapi")


def test_allof_members_are_merged_and_nullable_is_a_type_list(contract):
    contract.check_response("GET", "/v9/things", {"id": "1", "note": None, "kind": None})
    with pytest.raises(ContractViolation, match=r"Test GET /v9/things: response 200 \$\.other: `other` is not a field the spec declares here"):
        contract.check_response("GET", "/v9/things", {"id": "1", "other": 1})
    with pytest.raises(ContractViolation, match=r"\$\.kind: 'b' is not one of \['a', None\]"):
        contract.check_response("GET", "/v9/things", {"kind": "b"})


def test_free_form_objects_stay_open_and_explicit_additional_properties_is_respected(contract):
    contract.schema_check("Bag", {"extra": {"anything": [1]}, "map": {"a": 1}})
    with pytest.raises(ContractViolation, match=r"\$\.map\.a: 'x' is not of type 'integer'"):
        contract.schema_check("Bag", {"map": {"a": "x"}})


@pytest.mark.parametrize("name", ["ilert", "pagerduty-rest", "pagerduty-events", "openai"])
def test_the_trimmed_specs_are_closed_under_their_references(name):
    spec = json.loads((HERE / CONTRACTS[name][0]).read_text())
    selectors = [f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item if method != "parameters"]
    again = trim(spec, selectors, spec["info"].get("x-trimmed-from"))
    assert again == spec, "re-trimming a trimmed spec must change nothing (no dangling or unused component)"


def test_openapi_3_1_keeps_ref_siblings_and_still_reads_nullable():
    spec = json.loads(json.dumps(SPEC))
    spec["openapi"] = "3.1.0"
    spec["components"]["schemas"]["Thing"] = {"$ref": "#/components/schemas/Base", "nullable": True, "required": ["id"]}
    contract = Contract("test31", "Test", spec, "openapi")
    contract.check_response("GET", "/v9/things", None)
    with pytest.raises(ContractViolation, match=r"\$: 'id' is a required property"):  # a 3.0 reader would drop `required`
        contract.check_response("GET", "/v9/things", {"note": None})
    three_oh = Contract("test30", "Test", dict(spec, openapi="3.0.3"), "openapi")
    three_oh.check_response("GET", "/v9/things", {"note": None})


def test_contracts_are_loaded_once():
    assert Contract.load("pagerduty-rest") is Contract.load("pagerduty-rest")
