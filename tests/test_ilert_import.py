"""Importing an ilert call flow export into our flow YAML.

The fixture is a GET /api/call-flows/{id} answer (an instance of ilert's spec: see
tests/contracts/test_ilert_call_flows.py, which also imports ilert's published examples). Its
conditions are ICL over the call context; ilert publishes no condition for AGENTIC or PIN_CODE
branches, so the fixture's `context.intent` and `context.pinCodeMatch` are placeholders that show
how the import reads (and reports) such branches.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from agent.cli.main import app
from agent.flow.ilert_import import IlertImportError, import_ilert
from agent.flow.loader import check_flow
from agent.core.registry import load_registry
from tests.helpers import simulate

FIXTURE = Path(__file__).parent / "fixtures" / "ilert" / "call-flow.json"
runner = CliRunner()


@pytest.fixture(scope="module")
def imported() -> tuple[str, list[str]]:
    return import_ilert(json.loads(FIXTURE.read_text()))


@pytest.fixture()
def flow_file(tmp_path: Path, imported: tuple[str, list[str]]) -> Path:
    path = tmp_path / "imported.yaml"
    path.write_text(imported[0])
    return path


def _data(text: str) -> dict:
    return YAML(typ="safe").load(text)


def test_the_fixture_converts_to_a_flow_that_validates(flow_file: Path):
    flow, problems = check_flow(flow_file, load_registry())
    assert problems == []
    assert flow is not None
    assert flow.start == "spam_filter"  # the ROOT's ANSWERED target; ROOT itself is skipped
    assert {n.type for n in flow.nodes.values()} >= {
        "block_numbers", "audio_message", "support_hours", "ai_agent", "create_alert",
        "route_call", "voicemail", "ivr_menu", "pin_code",
    }


def test_ilert_node_ids_are_kept_as_comments_and_names(imported):
    text, _ = imported
    assert "spam_filter:  # ilert node 2 (BLOCK_NUMBERS)" in text or "spam_filter: # ilert node 2" in text
    assert _data(text)["nodes"]["ai_voice_agent"]["name"] == "AI voice agent"


def test_agentic_node_intents_gathers_and_enrichment(imported):
    agent = _data(imported[0])["nodes"]["ai_voice_agent"]
    assert agent["greeting"].startswith("Hello, I'm ACME's on-call assistant")
    # each branch compares a context value with an intent type: context.intent == 'SYSTEM_OUTAGE'
    assert agent["intents"] == {
        "incident": "open_alert",
        "system_outage": "open_alert",
        "security_breach": "security_pin",
        "talk_to_human": "human_or_voicemail",
    }
    assert agent["fallback"] == "human_or_voicemail"  # CATCH_ALL
    assert agent["gathers"][:2] == ["caller_name", "contact_number"]
    assert {"name": "affected_services", "required": False} in agent["gathers"]
    assert {"name": "customer_number", "label": "Customer number", "question": "What is your customer number?",
            "type": "number", "required": False} in agent["gathers"]
    assert agent["enrichment"]["sources"] == [
        {"type": "ilert", "information": ["incidents", "maintenance", "services"], "services": ["301", "302"]}
    ]


def test_route_call_targets_and_branches(imported):
    nodes = _data(imported[0])["nodes"]
    route = nodes["call_on_call_engineer"]
    assert route["targets"] == [{"type": "on_call_schedule", "id": "1234"}, {"type": "number", "number": "+4915199999999"}]
    assert route["on_call"] == {"type": "ilert"}
    assert (route["call_style"], route["retries"], route["ring_timeout"]) == ("ordered", 1, 25)
    assert route["completed"] is None and route["no_answer"] == "voicemail"
    assert nodes["open_alert"]["platform"] == {"type": "ilert"}
    assert nodes["open_alert"]["next"] == "call_on_call_engineer"
    assert nodes["business_hours"]["during"] == "ai_voice_agent"  # context.supportHoursState == 'DURING'
    assert nodes["business_hours"]["outside"] == "voicemail"
    assert nodes["business_hours"]["hours"][0]["days"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert nodes["voicemail"]["left"] == "goodbye" and nodes["voicemail"]["not_left"] == "goodbye"
    assert nodes["security_pin"]["pins"] == ["4711", "908172"]
    # no published PIN condition: the branch to open_alert is reported, the CATCH_ALL takes both outcomes
    assert (nodes["security_pin"]["match"], nodes["security_pin"]["no_match"]) == ("goodbye", "goodbye")
    assert nodes["human_or_voicemail"]["options"] == {"1": "call_on_call_engineer", "2": "voicemail"}
    assert nodes["human_or_voicemail"]["no_input"] == "call_on_call_engineer"
    assert nodes["spam_filter"]["numbers"] == ["+15005550006", "+15005550007"]
    assert nodes["spam_filter"]["allowed"] == "welcome" and nodes["spam_filter"]["blocked"] is None


def test_warnings_name_the_node_and_what_was_not_carried_over(imported):
    warnings = imported[1]
    assert any(w.startswith("ilert node 4:") and "support hours" in w and "921" in w for w in warnings)
    assert any(w.startswith("ilert node 7:") and "holdAudioUrl" in w for w in warnings)
    assert any(w.startswith("ilert node 5:") and "STATUS_PAGE" in w for w in warnings)


def test_a_flat_node_list_with_targets_by_id_converts_the_same():
    nodes = [
        {"id": 1, "nodeType": "ROOT", "branches": [{"branchType": "ANSWERED", "target": 2}]},
        {"id": 2, "name": "Hello", "nodeType": "AUDIO_MESSAGE", "metadata": {"textMessage": "Hi."},
         "branches": [{"branchType": "CATCH_ALL", "target": {"id": 3}}]},
        {"id": 3, "nodeType": "PARALLEL_ROUTE_CALL",
         "metadata": {"targets": [{"target": "u1", "type": "USER"}, {"target": "u2", "type": "USER"}]},
         "branches": []},
    ]
    text, warnings = import_ilert({"name": "Flat", "nodes": nodes})
    data = _data(text)
    assert data["start"] == "hello"
    assert data["nodes"]["hello"]["next"] == "node_3"
    assert data["nodes"]["node_3"]["call_style"] == "parallel"
    assert data["nodes"]["node_3"]["targets"][0] == {"type": "user", "id": "u1"}
    assert warnings == []


def test_an_audio_message_with_text_and_a_recording_keeps_the_recording_and_says_so():
    nodes = [
        {"id": 1, "nodeType": "ROOT", "branches": [{"branchType": "ANSWERED", "target": 2}]},
        {"id": 2, "name": "Hello", "nodeType": "AUDIO_MESSAGE",
         "metadata": {"textMessage": "Hi.", "customAudioUrl": "https://example.test/hi.mp3"}, "branches": []},
    ]
    text, warnings = import_ilert({"name": "Both", "nodes": nodes})
    hello = _data(text)["nodes"]["hello"]
    assert hello["audio_url"] == "https://example.test/hi.mp3" and "text" not in hello
    assert any(w.startswith("ilert node 2:") and "textMessage dropped" in w for w in warnings)


def test_not_a_call_flow_raises():
    with pytest.raises(IlertImportError):
        import_ilert({"alerts": []})


def test_cli_prints_yaml_and_warnings():
    result = runner.invoke(app, ["flow", "import-ilert", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert "start: spam_filter" in result.stdout
    assert _data(result.stdout)["nodes"]["call_on_call_engineer"]["type"] == "route_call"
    assert f"{FIXTURE}: ilert node 10: branch condition 'context.pinCodeMatch == true' not mapped: " in result.stderr


def test_cli_writes_the_output_file(tmp_path: Path):
    out = tmp_path / "flow.yaml"
    result = runner.invoke(app, ["flow", "import-ilert", str(FIXTURE), "-o", str(out)])
    assert result.exit_code == 0, result.output
    flow, problems = check_flow(out, load_registry())
    assert flow is not None and problems == []


@pytest.mark.parametrize("content", ['{"services": []}', "not json at all {", "[1, 2]"])
def test_cli_rejects_what_is_not_a_call_flow_in_one_line(tmp_path: Path, content: str):
    path = tmp_path / "other.json"
    path.write_text(content)
    result = runner.invoke(app, ["flow", "import-ilert", str(path)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(path))
    assert "Traceback" not in result.output


def test_a_call_asking_for_a_person_reaches_the_catch_all(flow_file: Path):
    _, outcome = simulate(flow_file, ["put me through to a person please"])
    assert outcome.intent == "talk_to_human"
    assert "human_or_voicemail" in outcome.nodes  # the ilert CATCH_ALL target


def test_a_call_about_an_outage_opens_an_alert_and_reaches_the_route_call(flow_file: Path):
    _, outcome = simulate(flow_file, ["Our website is down", "Jane Doe", "yes", "the website", "no"])
    assert outcome.intent == "system_outage"
    assert outcome.nodes[-2:] == ["open_alert", "call_on_call_engineer"]


def test_a_node_type_without_equivalent_is_left_out_and_passed_through():
    bye = {"id": 3, "name": "Bye", "nodeType": "AUDIO_MESSAGE", "metadata": {"textMessage": "Bye."}}
    recording = {"id": 12, "name": "Record call", "nodeType": "CALL_RECORDING",
                 "branches": [{"id": 102, "branchType": "CATCH_ALL", "target": bye}]}
    hello = {"id": 2, "name": "Hello", "nodeType": "AUDIO_MESSAGE", "metadata": {"textMessage": "Hi."},
             "branches": [{"id": 101, "branchType": "CATCH_ALL", "target": recording}]}
    root = {"id": 1, "nodeType": "ROOT", "branches": [{"id": 100, "branchType": "ANSWERED", "target": hello}]}
    text, warnings = import_ilert({"name": "Unknown node", "language": "en", "root": root})
    assert _data(text)["nodes"]["hello"]["next"] == "bye"
    assert warnings == ["ilert node 12: node type CALL_RECORDING (Record call) has no equivalent; left out, "
                        "callers go on to ilert node 3"]


# --- branch conditions: ICL over the call context, one node at a time --------------------------------

ROUTE = ("ROUTE_CALL", {"targets": [{"target": "7", "type": "USER"}], "callStyle": "ORDERED"})
VOICEMAIL = ("VOICEMAIL", {"textMessage": "Leave a message."})
HOURS = ("SUPPORT_HOURS", {"supportHoursId": 5})
IVR = ("IVR_MENU", {"textMessage": "Press 1 or 2.", "enabledOptions": ["1", "2"]})
PIN = ("PIN_CODE", {"codes": [{"code": 1234, "label": "Ops"}]})
BLOCK = ("BLOCK_NUMBERS", {"blacklist": ["+15005550006"]})
AGENT = ("AGENTIC", {"textMessage": "Hi.", "intents": [{"type": "INCIDENT"}, {"type": "SYSTEM_OUTAGE"}]})


def _one(kind: tuple[str, dict], *branches: tuple[str, str | None]) -> tuple[dict, list[str]]:
    """ROOT -> one ``kind`` node (ilert id 2) whose branches lead to messages t1, t2, ...: our node, and the warnings."""
    node: dict = {"id": 2, "name": "Under test", "nodeType": kind[0], "metadata": kind[1], "branches": []}
    for i, (btype, cond) in enumerate(branches, 1):
        branch: dict = {"id": 100 + i, "branchType": btype,
                        "target": {"id": 10 + i, "name": f"T{i}", "nodeType": "AUDIO_MESSAGE", "metadata": {"textMessage": f"Message {i}."}}}
        if cond is not None:
            branch["condition"] = cond
        node["branches"].append(branch)
    root = {"id": 1, "nodeType": "ROOT", "branches": [{"id": 100, "branchType": "ANSWERED", "target": node}]}
    text, warnings = import_ilert({"id": 9, "name": "One node", "language": "en", "root": root})
    return _data(text)["nodes"]["under_test"], warnings


@pytest.mark.parametrize(("kind", "condition", "expected"), [
    (ROUTE, "context.connectedTarget == '-1'", {"no_answer": "t1", "completed": "t2"}),
    (ROUTE, "context.connectedTarget != '-1'", {"completed": "t1", "no_answer": "t2"}),
    (ROUTE, "context.connectedTarget == -1", {"no_answer": "t1", "completed": "t2"}),  # ICL: '-1' == -1
    (VOICEMAIL, "context.recordedMessageUrl != null", {"left": "t1", "not_left": "t2"}),
    (VOICEMAIL, "context.recordedMessageUrl == nil", {"not_left": "t1", "left": "t2"}),
    (VOICEMAIL, "not (context.recordedMessageUrl == null)", {"left": "t1", "not_left": "t2"}),
    (HOURS, "context.supportHoursState == 'OUTSIDE'", {"outside": "t1", "during": "t2"}),
    (HOURS, "context.supportHoursState matches 'during'", {"during": "t1", "outside": "t2"}),  # case-insensitive
    (HOURS, "context.supportHoursState != 'DURING'", {"outside": "t1", "during": "t2"}),
    (HOURS, "context.supportHoursState == 'DURING' or context.supportHoursState == OUTSIDE", {"during": "t1", "outside": "t1"}),
])
def test_a_published_context_value_maps_the_branch(kind, condition, expected):
    node, warnings = _one(kind, ("BRANCH", condition), ("CATCH_ALL", None))
    assert {k: node[k] for k in expected} == expected
    assert not [w for w in warnings if "condition" in w or "branch" in w]


@pytest.mark.parametrize(("condition", "options"), [
    ("context.ivrChoice == '2'", {"1": None, "2": "t1"}),
    ("context.ivrChoice == 1 or context.ivrChoice in ['2']", {"1": "t1", "2": "t1"}),
    ("not context.ivrChoice == '1'", {"1": None, "2": "t1"}),  # of the enabled options, only 2 is left
])
def test_ivr_keys_are_read_from_the_condition(condition, options):
    node, _ = _one(IVR, ("BRANCH", condition), ("CATCH_ALL", None))
    assert node["options"] == options
    assert node["no_input"] == "t2"


def test_agentic_branches_are_mapped_by_the_intent_type_they_compare_with():
    node, warnings = _one(AGENT, ("BRANCH", "context.intent == 'INCIDENT' or context.intent == 'SYSTEM_OUTAGE'"),
                          ("CATCH_ALL", None))
    assert node["intents"] == {"incident": "t1", "system_outage": "t1", "talk_to_human": "t2"}
    assert node["fallback"] == "t2"
    assert warnings == ["ilert node 2: AGENTIC branch conditions read `context.intent`, which ilert's published material "
                        "does not name; each branch was mapped by the intent type it compares with: check `intents`"]


@pytest.mark.parametrize(("kind", "condition", "why"), [
    (ROUTE, "context.connectedTarget = '-1'", "column 25: `=` is not ICL (compare with `==`)"),
    (ROUTE, "context.connectedTarget == '-1' && context.x == 1", "column 33: `&&` is not ICL (ICL writes `and`)"),
    (HOURS, "(context.supportHoursState == 'DURING'", "column 39: expected `)`, found the end of the condition"),
    (VOICEMAIL, "context.recordedMessageUrl != 'x", "column 31: a string opened with ' is never closed"),
    (ROUTE, "context.recordedMessageUrl != null",
     "`context.recordedMessageUrl` is not a value the ROUTE_CALL node sets (it sets `context.connectedTarget`)"),
    (VOICEMAIL, "event.summary != null", "`event.summary` is not in a call's context (call-flow paths start with "
     "`context.`); the VOICEMAIL node sets `context.recordedMessageUrl`"),
    (ROUTE, "context.connectedTarget == '42'", "whether it holds for `completed` depends on what the call brings "
     "(context.connectedTarget is then a value other than null and '-1')"),
    (HOURS, "context.supportHoursState == 'CLOSED'", "it is true for none of the node's outcomes "
     "(context.supportHoursState is 'DURING' for `during`, 'OUTSIDE' for `outside`)"),
    (ROUTE, "context.connectedTarget contains '1'",
     "`contains` is ICL, but the importer only reads ==, !=, matches, exact_matches and in"),
    (VOICEMAIL, "context.recordedMessageUrl", "it is a value, not a comparison (write e.g. `context.ivrChoice == '1'`)"),
    (PIN, "context.pinCode == '1234'", "ilert publishes no branch condition for PIN_CODE nodes (only their CATCH_ALL is read)"),
    (BLOCK, "context.blocked == true",
     "ilert publishes no branch condition for BLOCK_NUMBERS nodes (only their CATCH_ALL is read)"),
])
def test_a_condition_that_cannot_be_mapped_is_reported_with_the_reason(kind, condition, why):
    node, warnings = _one(kind, ("BRANCH", condition))
    assert f"ilert node 2: branch condition {condition!r} not mapped: {why}; branch dropped" in warnings
    assert node["type"] in ("route_call", "voicemail", "support_hours", "pin_code", "block_numbers")


def test_an_ivr_key_that_is_not_enabled_is_reported():
    node, warnings = _one(IVR, ("BRANCH", "context.ivrChoice == '3'"))
    assert warnings[0] == (
        "ilert node 2: IVR branch condition \"context.ivrChoice == '3'\" not mapped: it is true for none of the node's "
        "outcomes (context.ivrChoice is '1' for `1`, '2' for `2`); branch dropped"
    )
    assert node["options"] == {"1": None, "2": None}


@pytest.mark.parametrize(("condition", "why"), [
    ("context.intent == 'INQUIRY'", "it is true for none of the node's outcomes "
     "(context.intent is 'INCIDENT' for `incident`, 'SYSTEM_OUTAGE' for `system_outage`)"),
    ("context.intent == 'INCIDENT' or context.topic == 'x'",
     "it reads both `context.intent` and `context.topic`; one branch can test one value"),
])
def test_an_agentic_condition_naming_no_declared_intent_is_reported(condition, why):
    node, warnings = _one(AGENT, ("BRANCH", condition), ("CATCH_ALL", None))
    assert f"ilert node 2: AGENTIC branch condition {condition!r} not mapped: {why}; branch dropped" in warnings
    assert node["intents"]["incident"] == "t2"  # where the catch-all goes


def test_a_second_branch_for_the_same_outcome_is_reported():
    node, warnings = _one(ROUTE, ("BRANCH", "context.connectedTarget == '-1'"), ("BRANCH", "context.connectedTarget == -1"))
    assert node["no_answer"] == "t1"
    assert warnings == ["ilert node 2: a second branch for `no_answer` ('context.connectedTarget == -1') dropped"]
