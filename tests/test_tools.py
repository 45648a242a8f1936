"""agent/conversation/tools.py ToolBox: the model's tool contract over one AI node of one call."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from agent.conversation.session import NodeSession
from agent.core.call import Call
from agent.core.facts import MaintenanceWindow, OnCallShift, OpenIncident, ServiceState
from agent.flow.models import AiAgentNode
from agent.core.registry import load_registry
from agent.conversation.tools import MAX_TEXT, ToolBox

NOW = datetime(2026, 3, 11, 10, 0, tzinfo=timezone.utc)
REGISTRY = load_registry()

NODE = {
    "type": "ai_agent",
    "greeting": "Hello, what's going on?",
    "intents": {
        "incident": "alert",
        "system_outage": "alert",
        "security_breach": "security_team",
        "talk_to_human": "page_oncall",
        "inquiry": None,
    },
    "gathers": [
        "incident",
        "affected_services",
        "caller_name",
        "contact_number",
        {"name": "email", "required": False},
        {"name": "environment", "type": "string", "question": "Which environment?", "choices": ["production", "staging"], "required": False},
        {"name": "customer_id", "type": "string", "question": "Customer ID?", "regex": r"AC-\d{4}", "required": False},
        {"name": "users_affected", "type": "number", "question": "How many users?", "required": False},
    ],
    "known_issue": "known_goodbye",
    "fallback": "page_oncall",
}


def facts() -> list[Any]:
    return [
        OpenIncident(id="INC-1", title="Checkout errors", services=["Checkout API"], started_at=NOW - timedelta(minutes=25)),
        ServiceState(service="Checkout API", status="degraded", aliases=["checkout"]),
        ServiceState(service="Search", status="operational"),
        ServiceState(service="Payments", status="partial_outage", aliases=["billing"]),
        MaintenanceWindow(summary="Database upgrade", services=["Reports"], start=NOW - timedelta(hours=1), end=NOW + timedelta(hours=1)),
        OnCallShift(schedule="primary", name="Secret Sam", number="+4917000000000"),
        OpenIncident(id="INC-2", title="Internal credential rotation", services=["Checkout API"], disclose=False),
    ]


def make(node: dict[str, Any] | None = None, *, caller: str | None = "+4915112345678") -> ToolBox:
    call = Call(caller_number=caller, now=NOW, facts=facts())
    ctx = NodeSession.build("agent", AiAgentNode.model_validate(node or NODE), call, REGISTRY, region="DE", timezone="Europe/Berlin")
    return ToolBox(ctx)


def run(box: ToolBox, name: str, arguments: Any) -> dict[str, Any]:
    return asyncio.run(box.call(name, arguments))


def fill_required(box: ToolBox) -> None:
    result = run(box, "record_details", {
        "incident": "Checkout returns 502 errors", "affected_services": ["checkout"],
        "caller_name": "jane doe", "contact_number": "0151 23456789",
    })
    assert result["missing"] == [] and "invalid" not in result


# -- schemas -----------------------------------------------------------------------------------

def test_schemas_carry_gather_fields_and_intents() -> None:
    schemas = {s["name"]: s for s in make().schemas()}
    assert set(schemas) == {"record_details", "route_call", "check_status", "end_call"}
    assert all(s["type"] == "function" for s in schemas.values())

    record = schemas["record_details"]["parameters"]
    assert list(record["properties"]) == [
        "incident", "affected_services", "caller_name", "contact_number", "email", "environment", "customer_id", "users_affected",
    ]
    assert record["additionalProperties"] is False
    props = record["properties"]
    assert props["affected_services"]["type"] == "array"
    assert props["environment"]["enum"] == ["production", "staging"]
    assert props["customer_id"]["pattern"] == r"AC-\d{4}"
    assert props["users_affected"]["type"] == "number"
    assert props["caller_name"]["maxLength"] == MAX_TEXT  # the model is told the size limit

    route = schemas["route_call"]["parameters"]
    assert route["properties"]["intent"]["enum"] == [*sorted(NODE["intents"]), "other"]  # "other": the catch-all branch
    assert route["required"] == ["intent", "summary"]
    for name in NODE["intents"]:
        assert name in schemas["route_call"]["description"]
    assert schemas["end_call"]["parameters"]["properties"]["reason"]["enum"][0] == "known_issue"
    json.dumps(list(schemas.values()))  # serialisable as sent to the model


def test_schemas_leave_out_intents_that_are_not_installed() -> None:
    node = {**NODE, "intents": {"incident": "alert", "no_such_intent": "alert"}}
    route = {s["name"]: s for s in make(node).schemas()}["route_call"]
    assert route["parameters"]["properties"]["intent"]["enum"] == ["incident", "other"]


# -- record_details ----------------------------------------------------------------------------

def test_record_details_normalises_and_reports_invalid_and_missing() -> None:
    box = make()
    result = run(box, "record_details", {
        "contact_number": "0151 2345 6789", "caller_name": "jane doe", "email": "not an email",
        "environment": "prodution", "users_affected": "about forty", "customer_id": "XY-1",
    })
    assert result["saved"] == {
        "contact_number": "+4915123456789", "caller_name": "Jane Doe", "environment": "production", "users_affected": 40,
    }
    assert set(result["invalid"]) == {"email", "customer_id"}
    assert "at sign" in result["invalid"]["email"]
    assert "format" in result["invalid"]["customer_id"]
    assert result["missing"] == ["incident", "affected_services"]
    assert "error" not in result
    assert box.ctx.call.fields["contact_number"] == "+4915123456789"
    assert "email" not in box.ctx.call.fields


def test_record_details_matches_services_against_facts() -> None:
    box = make()
    result = run(box, "record_details", {"affected_services": ["chekout", "billing"]})
    assert result["saved"]["affected_services"] == ["Checkout API", "Payments"]


def test_record_details_refuses_unknown_fields() -> None:
    box = make()
    result = run(box, "record_details", {"caller_name": "Bob", "favourite_colour": "blue"})
    assert result["saved"] == {"caller_name": "Bob"}
    assert "favourite_colour" in result["error"] and "contact_number" in result["error"]
    assert "favourite_colour" not in box.ctx.call.fields


def test_record_details_refuses_oversized_values() -> None:
    box = make()
    result = run(box, "record_details", {
        "incident": "x" * (MAX_TEXT + 1), "affected_services": ["y" * (MAX_TEXT + 1)], "caller_name": "Bob",
    })
    assert set(result["invalid"]) == {"incident", "affected_services"}
    assert "too long" in result["invalid"]["incident"]
    assert result["saved"] == {"caller_name": "Bob"}
    result = run(box, "record_details", {"affected_services": [f"service {i}" for i in range(100)]})
    assert "too many" in result["invalid"]["affected_services"]


# -- route_call --------------------------------------------------------------------------------

def test_route_call_refuses_an_unknown_intent_naming_the_valid_ones() -> None:
    box = make()
    result = run(box, "route_call", {"intent": "order_pizza", "summary": "hungry"})
    assert "order_pizza" in result["error"]
    for name in NODE["intents"]:
        assert name in result["error"]
    assert box.ctx.decision is None


def test_route_call_waits_for_required_fields() -> None:
    box = make()
    result = run(box, "route_call", {"intent": "incident", "summary": "Checkout down"})
    assert "missing" in result["error"]
    for name in ("incident", "affected_services", "caller_name", "contact_number"):
        assert name in result["error"]
    assert "email" not in result["error"]  # optional fields do not hold the call up
    assert box.ctx.decision is None


def test_route_call_sets_decision_and_branch() -> None:
    box = make()
    fill_required(box)
    result = run(box, "route_call", {"intent": "security_breach", "summary": "Suspicious logins"})
    assert result == {"ok": True, "routed_to": "security_breach"}
    decision = box.ctx.decision
    assert decision.exit == "intent" and decision.intent == "security_breach" and decision.target == "security_team"
    assert decision.say == box.ctx.node.messages.handover
    assert box.ctx.call.intent == "security_breach" and box.ctx.call.summary == "Suspicious logins"


def test_route_call_with_details_declined() -> None:
    box = make()
    result = run(box, "route_call", {"intent": "system_outage", "summary": "Site down", "details_declined": True})
    assert result["ok"] is True
    assert box.ctx.decision.target == "alert"


def test_route_call_to_a_human_needs_no_details() -> None:
    box = make()
    assert run(box, "route_call", {"intent": "talk_to_human", "summary": "Wants a person"})["ok"] is True
    assert box.ctx.decision.target == "page_oncall"


def test_route_call_summary_is_capped() -> None:
    box = make()
    run(box, "route_call", {"intent": "talk_to_human", "summary": "s" * 5000})
    assert len(box.ctx.call.summary) == MAX_TEXT


# -- arguments ---------------------------------------------------------------------------------

def test_arguments_as_a_json_string() -> None:
    box = make()
    result = run(box, "record_details", json.dumps({"caller_name": "jane doe"}))
    assert result["saved"] == {"caller_name": "Jane Doe"}
    result = run(box, "route_call", '{"intent": "talk_to_human", "summary": "person please"}')
    assert result["ok"] is True


@pytest.mark.parametrize(("arguments", "message"), [('{"intent": "incident"', "not valid JSON"), ("[1, 2]", "JSON object"), (7, "JSON object")])
def test_bad_arguments_are_refused(arguments: Any, message: str) -> None:
    box = make()
    result = run(box, "route_call", arguments)
    assert message in result["error"]
    assert box.ctx.decision is None


def test_empty_arguments_string_is_an_empty_object() -> None:
    result = run(make(), "record_details", "")
    assert result["saved"] == {} and "caller_name" in result["missing"]


def test_unknown_tool_is_refused() -> None:
    result = run(make(), "reboot_servers", {})
    assert "unknown tool" in result["error"] and "route_call" in result["error"]


# -- check_status ------------------------------------------------------------------------------

def test_check_status_finds_an_open_incident_despite_a_typo() -> None:
    box = make()
    result = run(box, "check_status", {"service": "chekout"})
    assert result["service"] == "Checkout API"
    text = json.dumps(result)
    assert "Checkout errors" in text
    assert "25 minutes ago" in text
    assert "10:35" in text  # 09:35 UTC in the node's timezone (Berlin, UTC+1)
    assert "open_incident:INC-1" in box.ctx.call.facts_used


def test_check_status_never_discloses_hidden_facts() -> None:
    box = make()
    for service in ("Checkout API", "checkout", "primary", "on call", "Secret Sam"):
        text = json.dumps(run(box, "check_status", {"service": service}))
        assert "Internal credential rotation" not in text
        assert "Secret Sam" not in text.replace(json.dumps(service), "")
        assert "+4917000000000" not in text
    assert not any("INC-2" in used for used in box.ctx.call.facts_used)


def test_check_status_reports_states_and_maintenance() -> None:
    box = make()
    assert "partial outage" in json.dumps(run(box, "check_status", {"service": "billing"}))
    assert "Database upgrade" in json.dumps(run(box, "check_status", {"service": "Reports"}))
    assert run(box, "check_status", {"service": "Search"})["known_problems"] == []  # operational
    assert run(box, "check_status", {"service": "warehouse"}) == {"service": "warehouse", "known_problems": []}


def test_check_status_refuses_an_oversized_service() -> None:
    result = run(make(), "check_status", {"service": "x" * 5000})
    assert "too long" in result["error"]


# -- end_call ----------------------------------------------------------------------------------

def test_end_call_known_issue_takes_the_known_issue_branch() -> None:
    box = make()
    fill_required(box)  # the caller reported the checkout, which has an open incident
    assert run(box, "end_call", {"reason": "known_issue", "summary": "already handled"}) == {"ok": True}
    decision = box.ctx.decision
    assert decision.exit == "known_issue" and decision.target == "known_goodbye"
    assert box.ctx.call.summary == "already handled"


def test_end_call_known_issue_without_a_branch_says_goodbye() -> None:
    box = make({**NODE, "known_issue": None})
    fill_required(box)
    assert run(box, "end_call", {"reason": "known_issue"}) == {"ok": True}
    assert box.ctx.decision.target is None and box.ctx.decision.say == box.ctx.node.messages.goodbye


def test_end_call_known_issue_is_refused_with_no_fact_behind_it() -> None:
    box = make()
    box.ctx.call.facts = []  # enrichment found nothing
    fill_required(box)
    result = run(box, "end_call", {"reason": "known_issue", "summary": "the checkout is already being fixed"})
    assert "not a known issue" in result["error"] and "route_call" in result["error"]
    assert box.ctx.decision is None and box.ctx.call.summary != "the checkout is already being fixed"
    # the model acts on it: the call goes on to a person
    assert run(box, "route_call", {"intent": "system_outage", "summary": "checkout down"}) == {"ok": True, "routed_to": "system_outage"}


def test_end_call_known_issue_is_refused_before_the_caller_named_a_service() -> None:
    box = make()  # an open checkout incident is known, but the caller has not said what is wrong
    result = run(box, "end_call", {"reason": "known_issue"})
    assert "no service named yet" in result["error"] and box.ctx.decision is None


def test_end_call_known_issue_is_refused_when_the_facts_are_about_another_service() -> None:
    box = make()  # facts: Checkout API incident and state, Payments partial outage, Reports maintenance
    run(box, "record_details", {"incident": "The VPN drops every few minutes", "affected_services": ["VPN"]})
    result = run(box, "end_call", {"reason": "known_issue"})
    assert "(VPN)" in result["error"] and box.ctx.decision is None
    hidden = make()
    hidden.ctx.call.facts = [f for f in hidden.ctx.call.facts if getattr(f, "id", None) == "INC-2"]  # checkout, not disclosed
    run(hidden, "record_details", {"incident": "Checkout returns 502 errors", "affected_services": ["checkout"]})
    assert "error" in run(hidden, "end_call", {"reason": "known_issue"}) and hidden.ctx.decision is None


@pytest.mark.parametrize(("reported", "fact"), [
    ({"affected_services": ["checkout"]}, "open incident"),
    ({"incident": "the reports page shows nothing"}, "maintenance"),  # named in the problem, not listed as a service
    ({"affected_services": ["billing"]}, "service state"),  # Payments: partial outage
])
def test_end_call_known_issue_is_accepted_when_a_disclosed_fact_matches(reported: dict[str, Any], fact: str) -> None:
    box = make()
    assert "invalid" not in run(box, "record_details", reported)
    assert run(box, "end_call", {"reason": "known_issue"}) == {"ok": True}, fact
    assert box.ctx.decision.exit == "known_issue"


def test_end_call_known_issue_reads_the_callers_own_words_when_nothing_was_recorded() -> None:
    box = make()
    box.ctx.call.say("caller", "hi, our checkout is down")
    assert run(box, "end_call", {"reason": "known_issue"}) == {"ok": True}
    other = make()
    other.ctx.call.say("agent", "Is it the checkout?")  # the agent's words are not the caller's
    assert "error" in run(other, "end_call", {"reason": "known_issue"})


def test_end_call_other_reasons_hang_up() -> None:
    box = make()
    run(box, "end_call", {"reason": "wrong_number"})
    assert box.ctx.decision.exit == "hangup" and box.ctx.decision.target is None


def test_end_call_refuses_an_unknown_reason() -> None:
    box = make()
    result = run(box, "end_call", {"reason": "bored"})
    assert "known_issue" in result["error"]
    assert box.ctx.decision is None


# -- after the decision ------------------------------------------------------------------------

def test_tool_calls_after_the_decision_are_refused() -> None:
    box = make()
    run(box, "route_call", {"intent": "talk_to_human", "summary": "person"})
    decision = box.ctx.decision
    for name, arguments in [
        ("record_details", {"caller_name": "Bob"}),
        ("route_call", {"intent": "incident", "summary": "x", "details_declined": True}),
        ("end_call", {"reason": "caller_done"}),
    ]:
        assert "already been handed on" in run(box, name, arguments)["error"]
    assert box.ctx.decision is decision
    assert "caller_name" not in box.ctx.call.fields
    # looking up what is known stays harmless
    assert "error" not in run(box, "check_status", {"service": "checkout"})


def test_route_call_other_takes_the_catch_all_branch() -> None:
    box = make()
    ctx = box.ctx
    result = run(box, "route_call", {"intent": "other", "summary": "wants a pizza"})
    assert result == {"ok": True, "routed_to": "fallback"}
    assert ctx.decision.exit == "fallback" and ctx.decision.target == ctx.node.fallback
    assert ctx.call.intent is None
