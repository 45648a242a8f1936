"""The studio's API: the page sees, checks, saves and rehearses the opened flow exactly as the command line does.

Checks are `flow validate`'s own messages, placed on a node and field; a save
is round-trip (an unchanged flow is written byte for byte, comments and
order survive an edit), refuses an invalid flow unless forced, and writes
only the opened file; every POST needs the page's token; rehearsals are
`voice-agent simulate`'s; no secret from the settings reaches the page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agent.cli.main import app as cli
from agent.flow.loader import load_flow
from agent.flow.mermaid import to_mermaid
from agent.studio.app import TOKEN_HEADER, create_studio_app
from tests.browser.support import CALLERS, hotline_copy

runner = CliRunner()
ILERT_FLOW = Path(__file__).parent / "fixtures" / "ilert" / "call-flow.json"


@pytest.fixture()
def flow(tmp_path: Path) -> Path:
    return hotline_copy(tmp_path)


@pytest.fixture()
def client(flow: Path):
    with TestClient(create_studio_app(flow), base_url="http://127.0.0.1:8765") as client:  # one event loop, as uvicorn's
        yield client


def token(client: TestClient) -> dict[str, str]:
    return {TOKEN_HEADER: client.app.state.studio.token}


def state(client: TestClient) -> dict:
    answer = client.get("/api/flow")
    assert answer.status_code == 200, answer.text
    return answer.json()


def validate(path: Path):
    return runner.invoke(cli, ["flow", "validate", str(path)])


def test_the_page_carries_its_token_and_the_flow_is_drawn_with_every_node(client: TestClient, flow: Path) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert client.app.state.studio.token in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]  # no inline or foreign script runs
    assert page.headers["x-frame-options"] == "DENY"  # no other site frames it to trick a click
    for module in ("/static/main.js", "/static/vendor/cytoscape/cytoscape.esm.min.mjs"):  # ES modules need a JS type
        assert client.get(module).headers["content-type"].startswith("text/javascript"), module
    s = state(client)
    assert [n["id"] for n in s["graph"]["nodes"]] == list(load_flow(flow).nodes)
    assert s["problems"] == [] and s["valid"]
    labels = {(e["source"], e["label"], e["target"]) for e in s["graph"]["edges"]}
    assert ("hours", "outside", "voicemail") in labels
    assert ("agent", "intent inquiry", "inquiry_message") in labels
    assert ("page_oncall", "completed", None) in labels  # the call ends there
    assert set(s["branch_fields"]["ai_agent"]) == {"intents", "known_issue", "fallback"}


def test_every_write_needs_the_pages_token(client: TestClient, flow: Path) -> None:
    data = state(client)["data"]
    before = flow.read_text()
    for path, body in [
        ("/api/check", {"data": data}),
        ("/api/save", {"data": data, "version": "x", "force": True}),
        ("/api/rehearse", {"data": data, "script": "new_outage"}),
        ("/api/chat", {"data": data}),
        ("/api/mermaid", {"data": data}),
        ("/api/import-ilert", {"json_text": "{}"}),
    ]:
        assert client.post(path, json=body).status_code == 403, path
        assert client.post(path, json=body, headers={TOKEN_HEADER: "guess"}).status_code == 403, path
        # Refused before the body is read: a forged request learns nothing of what the API expects.
        assert client.post(path, json={"nonsense": 1}).status_code == 403, path
    assert client.post("/api/chat/c1", json={}).status_code == 403
    assert flow.read_text() == before


def test_only_loopback_host_names_are_served(client: TestClient) -> None:
    """A page on another site that resolves its name to 127.0.0.1 (DNS rebinding) gets nothing."""
    assert client.get("/api/flow", headers={"Host": "attacker.example:8765"}).status_code == 421
    assert client.get("/api/flow", headers={"Host": "localhost:8765"}).status_code == 200


def test_an_invalid_value_gets_flow_validates_message_on_its_node_and_field(client: TestClient, flow: Path, tmp_path: Path) -> None:
    data = state(client)["data"]
    data["nodes"]["hours"]["timezone"] = "Europe/Berln"
    data["nodes"]["agent"]["max_turns"] = 0
    answer = client.post("/api/check", json={"data": data}, headers=token(client)).json()
    assert not answer["valid"]
    placed = {(p["node"], tuple(p["field"])): p for p in answer["problems"]}
    assert set(placed) == {("hours", ("timezone",)), ("agent", ("max_turns",))}
    # The same lines `voice-agent flow validate` prints for the same file.
    flow.write_text(answer["yaml"])
    printed = validate(flow)
    assert printed.exit_code == 1
    assert sorted(p["text"] for p in answer["problems"]) == sorted(printed.output.strip().splitlines())
    assert "did you mean `Europe/Berlin`" in placed[("hours", ("timezone",))]["message"]


def test_a_missing_key_and_a_dangling_branch_are_placed_on_their_fields(client: TestClient) -> None:
    data = state(client)["data"]
    data["nodes"]["new_node"] = {"type": "audio_message"}  # needs text or audio_url
    data["nodes"]["greeting"]["next"] = "nowhere"
    del data["nodes"]["agent"]["greeting"]
    answer = client.post("/api/check", json={"data": data}, headers=token(client)).json()
    placed = {(p["node"], tuple(p["field"])) for p in answer["problems"]}
    assert ("agent", ("greeting",)) in placed
    assert ("greeting", ("next",)) in placed
    assert ("new_node", ()) in placed
    graph = answer["graph"]
    assert {"source": "greeting", "target": "nowhere", "label": "next", "path": ["next"], "dangling": True} in graph["edges"]
    assert "new_node" in graph["unreachable"] and "hours" in graph["unreachable"]


def test_saving_an_unchanged_flow_writes_it_byte_for_byte(client: TestClient, flow: Path) -> None:
    before = flow.read_text()
    s = state(client)
    answer = client.post("/api/save", json={"data": s["data"], "version": s["version"]}, headers=token(client))
    assert answer.status_code == 200, answer.text
    assert flow.read_text() == before


def test_a_new_node_and_branch_are_saved_with_every_comment_and_key_order_kept(client: TestClient, flow: Path) -> None:
    before = flow.read_text()
    s = state(client)
    data = s["data"]
    data["nodes"]["voicemail"]["not_left"] = "no_message"
    data["nodes"]["no_message"] = {"type": "hangup", "text": "No message was recorded. Please call again. Goodbye."}
    answer = client.post("/api/save", json={"data": data, "version": s["version"]}, headers=token(client))
    assert answer.status_code == 200, answer.text
    assert answer.json()["valid"]
    after = flow.read_text()
    assert validate(flow).exit_code == 0, validate(flow).output
    comments = [line for line in before.splitlines() if "#" in line]
    assert comments and all(line in after for line in comments)
    assert "    left: thanks_goodbye\n    not_left: no_message\n" in after
    unchanged = before.replace("    not_left: thanks_goodbye\n", "    not_left: no_message\n")
    assert after.startswith(unchanged)  # everything but the new branch, as it was; the new node after it
    assert after[len(unchanged):] == "\n  no_message:\n    type: hangup\n    text: No message was recorded. Please call again. Goodbye.\n"


def test_an_invalid_flow_is_saved_only_when_forced(client: TestClient, flow: Path) -> None:
    before = flow.read_text()
    s = state(client)
    s["data"]["nodes"]["greeting"]["next"] = "nowhere"
    refused = client.post("/api/save", json={"data": s["data"], "version": s["version"]}, headers=token(client))
    assert refused.status_code == 422
    assert "does not validate" in refused.json()["message"]
    assert flow.read_text() == before
    forced = client.post("/api/save", json={"data": s["data"], "version": s["version"], "force": True}, headers=token(client))
    assert forced.status_code == 200 and forced.json()["saved"]
    assert "    next: nowhere\n" in flow.read_text()
    assert validate(flow).exit_code == 1


def test_a_renamed_node_keeps_its_place_and_comments_and_every_branch_follows(client: TestClient, flow: Path) -> None:
    s = state(client)
    data = s["data"]
    # What the page sends: the node under its new id, in place, with the branches already pointing at it.
    data["nodes"] = {("closed" if k == "voicemail" else k): v for k, v in data["nodes"].items()}
    data["nodes"]["hours"]["outside"] = "closed"
    data["nodes"]["page_oncall"]["no_answer"] = "closed"
    answer = client.post(
        "/api/save", json={"data": data, "renames": [["voicemail", "closed"]], "version": s["version"]}, headers=token(client),
    )
    assert answer.status_code == 200, answer.text
    text = flow.read_text()
    assert re.search(r"\n    outside: closed +# nights and weekends: a message", text)  # the comment stays in its column
    assert text.index("  known_goodbye:") < text.index("  closed:") < text.index("  thanks_goodbye:")
    assert validate(flow).exit_code == 0


def test_a_node_can_take_the_id_of_a_node_deleted_in_the_same_edit(client: TestClient, flow: Path) -> None:
    s = state(client)
    nodes = s["data"]["nodes"]
    del nodes["known_goodbye"]
    nodes["known_goodbye"] = nodes.pop("inquiry_message")  # renamed in the page after the delete
    nodes["agent"]["intents"]["inquiry"] = "known_goodbye"
    answer = client.post(
        "/api/save", json={"data": s["data"], "renames": [["inquiry_message", "known_goodbye"]], "version": s["version"]},
        headers=token(client),
    )
    assert answer.status_code == 200, answer.text
    assert "  known_goodbye:\n    type: audio_message\n    text: This line is for urgent" in flow.read_text()


def test_a_file_changed_on_disk_is_not_overwritten(client: TestClient, flow: Path) -> None:
    s = state(client)
    flow.write_text(flow.read_text() + "# edited elsewhere\n")
    answer = client.post("/api/save", json={"data": s["data"], "version": s["version"]}, headers=token(client))
    assert answer.status_code == 409
    assert flow.read_text().endswith("# edited elsewhere\n")


def test_no_request_chooses_the_file_written(client: TestClient, flow: Path, tmp_path: Path) -> None:
    s = state(client)
    other = tmp_path / "other.yaml"
    body = {"data": s["data"], "version": s["version"], "path": str(other), "file": str(other)}
    assert client.post("/api/save", json=body, headers=token(client)).status_code == 200
    assert not other.exists()
    assert client.get("/static/../../flows/hotline.yaml").status_code == 404


def test_a_rehearsed_script_is_the_call_voice_agent_simulate_prints(client: TestClient, flow: Path) -> None:
    s = state(client)
    answer = client.post("/api/rehearse", json={"data": s["data"], "script": "new_outage"}, headers=token(client))
    assert answer.status_code == 200, answer.text
    rehearsed = answer.json()
    printed = runner.invoke(cli, ["simulate", str(flow), "--caller", str(CALLERS / "new_outage.yaml"), "--json"])
    assert printed.exit_code == 0, printed.output
    simulated = json.loads(printed.output)
    assert rehearsed["outcome"]["nodes"] == simulated["outcome"]["nodes"]
    assert rehearsed["outcome"]["branch"] == simulated["outcome"]["branch"] == "alert"
    lines = [(e["speaker"], e["text"]) for e in rehearsed["events"] if e["kind"] == "line"]
    assert [(t["speaker"], t["text"]) for t in simulated["transcript"]] == lines
    steps = [e for e in rehearsed["events"] if e["kind"] == "step"]
    assert steps[-1]["nodes"] == simulated["outcome"]["nodes"]  # the path, step by step as the call went
    assert [n for step in steps for n in step["entered"]] == simulated["outcome"]["nodes"]
    assert steps[0]["entered"] == ["screen", "greeting", "hours", "agent"]  # up to the first thing the caller answers
    assert rehearsed["expect"] == []  # the script's expect block holds
    assert any(e["kind"] == "fields" and "caller_name" in e["saved"] for e in rehearsed["events"])
    assert {"kind": "decided", "intent": "system_outage", "branch": "alert"} in rehearsed["events"]
    tools = [e for e in rehearsed["events"] if e["kind"] == "tool"]
    assert any(t["name"] == "record_details" and "caller_name" in t["arguments"] for t in tools)
    routed = [t for t in tools if t["name"] == "route_call"]
    assert routed and routed[-1]["arguments"]["intent"] == "system_outage" and "error" not in routed[-1]["result"]
    first_tool = rehearsed["events"].index(tools[0])
    assert any(e["kind"] == "line" and e["speaker"] == "caller" for e in rehearsed["events"][:first_tool]), "tools follow what was said"


def test_the_pages_clock_and_number_win_over_the_scripts(client: TestClient) -> None:
    s = state(client)
    night = client.post(
        "/api/rehearse", json={"data": s["data"], "script": "new_outage", "at": "2026-11-28T03:00:00+01:00"}, headers=token(client),
    ).json()
    assert night["outcome"]["nodes"][:4] == ["screen", "greeting", "hours", "voicemail"]
    blocked = client.post(
        "/api/rehearse", json={"data": s["data"], "script": "new_outage", "caller_number": "+15005550006"}, headers=token(client),
    ).json()
    assert blocked["outcome"]["nodes"] == ["screen", "blocked_goodbye"]


def test_a_chat_waits_for_each_turn_and_ends_like_voice_agent_chat(client: TestClient) -> None:
    s = state(client)
    started = client.post("/api/chat", json={"data": s["data"], "at": "2026-11-25T10:00:00+01:00"}, headers=token(client)).json()
    assert not started["ended"]
    assert any(e["kind"] == "line" and e["speaker"] == "agent" and "What's going on?" in e["text"] for e in started["events"])
    chat = started["chat"]
    said = client.post(f"/api/chat/{chat}", json={"text": "put me through to a person please"}, headers=token(client)).json()
    assert said["events"][0] == {"kind": "line", "speaker": "caller", "text": "put me through to a person please"}
    while not said["ended"]:
        said = client.post(f"/api/chat/{chat}", json={"hang_up": True}, headers=token(client)).json()
    assert said["outcome"]["intent"] == "talk_to_human"
    assert "page_oncall" in said["outcome"]["nodes"]


def test_a_flow_with_problems_is_not_rehearsed(client: TestClient) -> None:
    s = state(client)
    s["data"]["nodes"]["greeting"]["next"] = "nowhere"
    answer = client.post("/api/rehearse", json={"data": s["data"], "script": "new_outage"}, headers=token(client))
    assert answer.status_code == 422
    assert answer.json()["detail"]["problems"][0]["node"] == "greeting"


def test_mermaid_is_flow_shows(client: TestClient, flow: Path) -> None:
    s = state(client)
    answer = client.post("/api/mermaid", json={"data": s["data"]}, headers=token(client))
    assert answer.text == to_mermaid(load_flow(flow))


def test_an_ilert_call_flow_is_imported_into_the_page_not_written(client: TestClient, flow: Path) -> None:
    before = flow.read_text()
    answer = client.post("/api/import-ilert", json={"json_text": ILERT_FLOW.read_text()}, headers=token(client))
    assert answer.status_code == 200, answer.text
    imported = answer.json()
    assert imported["data"]["nodes"] and imported["warnings"]
    assert flow.read_text() == before
    bad = client.post("/api/import-ilert", json={"json_text": "[1, 2"}, headers=token(client))
    assert bad.status_code == 422 and "not valid JSON" in bad.json()["detail"]


SECRETS = {
    "VOICE_AGENT_OPENAI_API_KEY": "sk-studio-test-secret-1",
    "VOICE_AGENT_TWILIO_AUTH_TOKEN": "twilio-studio-secret-2",
    "VOICE_AGENT_TOKEN_SECRET": "token-studio-secret-3",
    "VOICE_AGENT_ILERT_API_KEY": "ilert-studio-secret-4",
    "VOICE_AGENT_PAGERDUTY_API_KEY": "pd-studio-secret-5",
    "VOICE_AGENT_TWILIO_API_KEY_SECRET": "twilio-key-studio-secret-6",
}


def test_no_secret_from_the_settings_reaches_the_page(flow: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with TestClient(create_studio_app(flow), base_url="http://127.0.0.1:8765") as client:
        answers = _every_answer(client)
    for answer in answers:
        assert answer.status_code == 200, answer.text
        for value in SECRETS.values():
            assert value not in answer.text


def _every_answer(client: TestClient) -> list:
    s = state(client)
    answers = [client.get("/"), client.get("/api/flow"), client.get("/static/main.js")]
    h = token(client)
    data = s["data"]
    broken = json.loads(json.dumps(data))
    broken["nodes"]["agent"]["enrichment"]["sources"].append({"type": "ilert", "name": "ilert"})
    answers += [
        client.post("/api/check", json={"data": data}, headers=h),
        client.post("/api/check", json={"data": broken}, headers=h),
        client.post("/api/mermaid", json={"data": data}, headers=h),
        client.post("/api/rehearse", json={"data": data, "script": "new_outage"}, headers=h),
        client.post("/api/rehearse", json={"data": data, "script": "wants_human"}, headers=h),
        client.post("/api/import-ilert", json={"json_text": ILERT_FLOW.read_text()}, headers=h),
    ]
    chat = client.post("/api/chat", json={"data": data}, headers=h)
    answers += [chat, client.post(f"/api/chat/{chat.json()['chat']}", json={"text": "the checkout is down"}, headers=h)]
    answers.append(client.post("/api/save", json={"data": data, "version": s["version"]}, headers=h))
    return answers


IVR = """\
name: Keypad menu
start: menu
nodes:
  menu:
    type: ivr_menu
    prompt: Press 1 for sales, 2 for support.
    options:
      1: sales   # weekdays only
      2: support
    no_input: bye
  sales: {type: hangup, text: Sales is closed.}
  support: {type: hangup, text: Support speaking.}
  bye: {type: hangup}
"""


def test_keys_pressed_in_a_chat_take_the_ivr_branch_and_numeric_keys_round_trip(tmp_path: Path) -> None:
    flow = tmp_path / "ivr.yaml"
    flow.write_text(IVR)
    with TestClient(create_studio_app(flow, scripts={}), base_url="http://127.0.0.1:8765") as client:
        s = state(client)
        assert {(e["source"], e["label"], e["target"]) for e in s["graph"]["edges"]} >= {("menu", "key 1", "sales"), ("menu", "key 2", "support")}
        started = client.post("/api/chat", json={"data": s["data"]}, headers=token(client)).json()
        assert ("agent", "Press 1 for sales, 2 for support.") in [(e.get("speaker"), e.get("text")) for e in started["events"]]
        assert [e["waits_for"] for e in started["events"] if e["kind"] == "step"] == ["keys"]
        pressed = client.post(f"/api/chat/{started['chat']}", json={"dtmf": "2"}, headers=token(client)).json()
        assert pressed["ended"] and pressed["outcome"]["nodes"] == ["menu", "support"]
        assert ("caller", "(keys 2)") in [(e.get("speaker"), e.get("text")) for e in pressed["events"]]
        s["data"]["nodes"]["menu"]["options"]["2"] = "sales"
        checked = client.post("/api/check", json={"data": s["data"]}, headers=token(client)).json()
        assert [(p["node"], p["field"]) for p in checked["problems"]] == [("support", [])]  # the node, not its `type:`
        s["data"]["nodes"]["menu"]["options"]["3"] = "support"
        saved = client.post("/api/save", json={"data": s["data"], "version": s["version"]}, headers=token(client))
        assert saved.status_code == 200, saved.text
    assert flow.read_text() == IVR.replace("      2: support\n", "      2: sales\n      3: support\n")


def test_odd_edits_get_problems_not_errors(client: TestClient) -> None:
    """Whatever the page sends while someone types, the answer is the checks' problems, never a crash."""
    for data in [
        {}, {"nodes": []}, {"nodes": {"a": 5}}, {"start": 3, "nodes": {"a": {"type": "nope"}}},
        {"nodes": {"a": {"type": "ivr_menu", "options": [1]}}}, {"nodes": {"a": {"type": "ai_agent", "intents": "x"}}},
    ]:
        answer = client.post("/api/check", json={"data": data}, headers=token(client))
        assert answer.status_code == 200, (data, answer.text)
        assert answer.json()["problems"] and not answer.json()["valid"]
    s = state(client)
    late = client.post("/api/rehearse", json={"data": s["data"], "script": "new_outage", "at": "tomorrow"}, headers=token(client))
    assert late.status_code == 422
    assert "is not an ISO 8601 time; write e.g. 2026-11-25T10:00:00+01:00" in late.text


def test_a_rehearsal_shows_the_facts_the_agent_used(client: TestClient, flow: Path) -> None:
    s = state(client)
    told = client.post("/api/rehearse", json={"data": s["data"], "script": "known_incident"}, headers=token(client)).json()
    facts = [fact for e in told["events"] if e["kind"] == "facts" for fact in e["used"]]
    assert facts and facts == told["outcome"]["facts_used"]
    assert told["outcome"]["branch"] == "known_goodbye" and told["expect"] == []


def test_a_file_that_is_no_yaml_opens_with_its_problem_and_is_never_overwritten(tmp_path: Path) -> None:
    flow = tmp_path / "broken.yaml"
    flow.write_text("name: Broken\nstart: a\nnodes:\n  a: {type: hangup\n")
    with TestClient(create_studio_app(flow, scripts={}), base_url="http://127.0.0.1:8765") as client:
        s = state(client)
        assert s["data"] == {} and not s["valid"]
        assert s["problems"][0]["message"].startswith("not valid YAML")
        assert s["yaml"] == flow.read_text()
        data = {"name": "Fixed", "start": "a", "nodes": {"a": {"type": "hangup"}}}
        answer = client.post("/api/save", json={"data": data, "version": s["version"], "force": True}, headers=token(client))
        assert answer.status_code == 400 and "cannot be read as YAML" in answer.json()["detail"]
    assert flow.read_text() == "name: Broken\nstart: a\nnodes:\n  a: {type: hangup\n"
