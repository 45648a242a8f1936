"""ilert's published call-flow examples: spec instances, and what `flow import-ilert` makes of them.

The examples (``ilert/call_flows/``, sources in its README) are the four ``ilert_call_flow``
resources of terraform-provider-ilert's ``examples/call_flow/main.tf`` written as the API returns
them. Their branch conditions are the only published ones: ``context.connectedTarget == '-1'``,
``context.recordedMessageUrl != null``, ``context.supportHoursState == 'DURING'`` / ``'OUTSIDE'``
and ``context.ivrChoice == '1'`` / ``'2'``.

ilert's spec declares a node's ``metadata`` as a ``oneOf`` of the per-node-type schemas without a
discriminator, and a message-only metadata (``textMessage``, ``aiVoiceModel``, ``language``) is an
instance of both ``CallFlowNodeMetadataAudioMessage`` and ``CallFlowNodeMetadataVoicemail``, so no
flow with an AUDIO_MESSAGE or VOICEMAIL node passes a strict ``oneOf``. The check below therefore
holds the flow without metadata to ``GET /api/call-flows/{id}`` and each node's metadata to the
schema of its own node type.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from ruamel.yaml import YAML

from agent.flow.ilert_import import import_ilert
from agent.flow.loader import check_flow
from agent.core.registry import load_registry
from tests.contracts.checker import Contract
from tests.helpers import simulate

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "ilert" / "call_flows"
PUBLISHED = ["example", "always_on_support", "business_hours_support", "interactive_menu"]
FIXTURE = HERE.parent / "fixtures" / "ilert" / "call-flow.json"  # tests/test_ilert_import.py's own flow

METADATA = {
    "AUDIO_MESSAGE": "CallFlowNodeMetadataAudioMessage",
    "IVR_MENU": "CallFlowNodeMetadataIvrMenu",
    "VOICEMAIL": "CallFlowNodeMetadataVoicemail",
    "PIN_CODE": "CallFlowNodeMetadataPinCode",
    "SUPPORT_HOURS": "CallFlowNodeMetadataSupportHours",
    "ROUTE_CALL": "CallFlowNodeMetadataRouteCall",
    "PARALLEL_ROUTE_CALL": "CallFlowNodeMetadataRouteCall",
    "CREATE_ALERT": "CallFlowNodeMetadataCreateAlert",
    "BLOCK_NUMBERS": "CallFlowNodeMetadataBlockNumbers",
    "AGENTIC": "CallFlowNodeMetadataAgentic",
}


def _load(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for branch in node.get("branches") or []:
        yield from _nodes(branch["target"])


def check_call_flow(flow: dict[str, Any]) -> None:
    """``flow`` is what ``GET /api/call-flows/{id}`` answers, field by field (see the module docstring)."""
    contract = Contract.load("ilert")
    bare = copy.deepcopy(flow)
    for node in _nodes(bare["root"]):
        node.pop("metadata", None)
    contract.check_response("GET", f"/api/call-flows/{flow.get('id', 1)}", bare)
    for node in _nodes(flow["root"]):
        if "metadata" in node:
            contract.schema_check(METADATA[node["nodeType"]], node["metadata"])


def _imported(name: str, tmp_path: Path) -> tuple[dict[str, Any], list[str], Path]:
    text, warnings = import_ilert(_load(name))
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return YAML(typ="safe").load(text), warnings, path


def test_every_example_is_listed_with_its_source():
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert sorted(p.stem for p in EXAMPLES.glob("*.json")) == sorted(PUBLISHED)
    for name in PUBLISHED:
        line = next(line for line in readme.splitlines() if line.startswith(f"- `{name}.json`"))
        assert "examples/call_flow/main.tf" in line and "d8da1ef2d834dc29b8470d84f6ddf1fbfa90e3ca" in line


@pytest.mark.parametrize("name", PUBLISHED)
def test_the_published_examples_are_instances_of_the_spec(name: str):
    check_call_flow(_load(name))


def test_the_importer_fixture_is_an_instance_of_the_spec():
    check_call_flow(json.loads(FIXTURE.read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", PUBLISHED)
def test_the_published_examples_import_and_validate(name: str, tmp_path: Path):
    _, warnings, path = _imported(name, tmp_path)
    flow, problems = check_flow(path, load_registry())
    assert problems == []
    assert flow is not None
    assert not [w for w in warnings if "not mapped" in w]  # every published condition is read


def test_always_on_support_nobody_answering_leads_to_the_voicemail(tmp_path: Path):
    data, _, path = _imported("always_on_support", tmp_path)
    nodes = data["nodes"]
    assert data["start"] == "node_2"
    route = nodes["node_3"]
    assert route["type"] == "route_call"
    # context.connectedTarget == '-1' -> the VOICEMAIL node; no branch for a completed call
    assert (route["completed"], route["no_answer"]) == (None, "node_4")
    assert (route["targets"], route["ring_timeout"], route["call_style"]) == ([{"type": "user", "id": "-1"}], 45, "ordered")
    voicemail = nodes["node_4"]
    assert voicemail["type"] == "voicemail"
    # context.recordedMessageUrl != null -> CREATE_ALERT; no message left ends the call
    assert (voicemail["left"], voicemail["not_left"]) == ("node_5", None)
    assert nodes["node_5"]["type"] == "create_alert" and nodes["node_5"]["source"] == "-1"
    _, outcome = simulate(path, ["Jane from Initech, our checkout is down, please call me back"], answer_calls=False)
    assert outcome.nodes == ["node_2", "node_3", "node_4", "node_5"]


def test_business_hours_support_during_and_outside(tmp_path: Path):
    data, warnings, _ = _imported("business_hours_support", tmp_path)
    nodes = data["nodes"]
    hours = nodes["business_hours"]
    assert hours["type"] == "support_hours"
    assert (hours["during"], hours["outside"]) == ("node_4", "node_5")  # 'DURING' / 'OUTSIDE'
    assert nodes["node_4"]["type"] == "route_call"
    assert (nodes["node_4"]["completed"], nodes["node_4"]["no_answer"]) == (None, None)  # no branches in the example
    assert nodes["node_5"]["type"] == "voicemail"
    assert (nodes["node_5"]["left"], nodes["node_5"]["not_left"]) == ("node_6", None)
    assert nodes["node_6"]["type"] == "create_alert"
    assert any(w.startswith("ilert node 3: support hours -1 ") for w in warnings)


def test_interactive_menu_keys(tmp_path: Path):
    data, _, _ = _imported("interactive_menu", tmp_path)
    nodes = data["nodes"]
    menu = nodes["node_3"]
    assert menu["type"] == "ivr_menu"
    assert menu["options"] == {"1": "node_4", "2": "node_5"}  # context.ivrChoice == '1' / '2'
    assert menu["no_input"] is None and menu["retries"] == 1
    assert menu["prompt"] == "To report an incident, press 1. For system monitoring assistance, press 2."
    assert nodes["node_4"]["type"] == nodes["node_5"]["type"] == "route_call"


def test_example_opens_an_alert(tmp_path: Path):
    data, warnings, _ = _imported("example", tmp_path)
    assert data["start"] == "create_alert"
    assert data["nodes"]["create_alert"]["source"] == "-1"
    assert warnings == ["ilert node 2: acceptAlertOnAnswer not carried over: the alert stays pending until the engineer accepts it"]
