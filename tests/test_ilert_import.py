"""Importing an ilert call flow export into our flow YAML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from agent.cli import app
from agent.flow.ilert_import import IlertImportError, import_ilert
from agent.flow.loader import check_flow
from agent.plugins import load_registry
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
    # condition by type (INCIDENT, SECURITY_BREACH) and by label ("Outage")
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
    assert nodes["business_hours"]["during"] == "ai_voice_agent"
    # the unknown CALL_RECORDING node is passed through to its target
    assert nodes["business_hours"]["outside"] == "voicemail"
    assert nodes["business_hours"]["hours"][0]["days"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert nodes["voicemail"]["left"] == "goodbye" and nodes["voicemail"]["not_left"] == "goodbye"
    assert nodes["security_pin"]["pins"] == ["4711", "908172"]
    assert (nodes["security_pin"]["match"], nodes["security_pin"]["no_match"]) == ("open_alert", "goodbye")
    assert nodes["human_or_voicemail"]["options"] == {"1": "call_on_call_engineer", "2": "voicemail"}
    assert nodes["human_or_voicemail"]["no_input"] == "call_on_call_engineer"
    assert nodes["spam_filter"]["numbers"] == ["+15005550006", "+15005550007"]
    assert nodes["spam_filter"]["allowed"] == "welcome" and nodes["spam_filter"]["blocked"] is None


def test_warnings_name_the_unknown_node_and_the_support_hours(imported):
    warnings = imported[1]
    assert any(w.startswith("ilert node 12:") and "CALL_RECORDING" in w for w in warnings)
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


def test_not_a_call_flow_raises():
    with pytest.raises(IlertImportError):
        import_ilert({"alerts": []})


def test_cli_prints_yaml_and_warnings():
    result = runner.invoke(app, ["flow", "import-ilert", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert "start: spam_filter" in result.stdout
    assert _data(result.stdout)["nodes"]["call_on_call_engineer"]["type"] == "route_call"
    assert f"{FIXTURE}: ilert node 12: " in result.stderr


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
