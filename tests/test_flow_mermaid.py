"""Mermaid diagrams of flows: every node and branch drawn, labels safe to paste."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import flow as cli_flow
from agent.flow.mermaid import to_mermaid
from agent.flow.models import Flow
from agent.core.registry import Registry


def make_flow(nodes: dict, start: str | None = None) -> Flow:
    return Flow.model_validate({"name": "t", "start": start or next(iter(nodes)), "nodes": nodes})


DEMO = make_flow({
    "greet": {"type": "audio_message", "text": "Hello", "next": "agent", "name": 'Say "hello"'},
    "agent": {
        "type": "ai_agent",
        "greeting": "How can I help?",
        "intents": {"incident": "route", "talk_to_human": "route"},
        "fallback": "bye",
    },
    "route": {
        "type": "route_call",
        "targets": [{"type": "on_call_schedule", "id": "42"}],
        "completed": None,
        "no_answer": "menu",
    },
    "menu": {"type": "ivr_menu", "prompt": "Press 1", "options": {"1": "bye", "#": None}},
    "bye": {"type": "hangup", "text": "Goodbye"},
})


def node_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()[1:] if "-->" not in line]


def edge_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if "-->" in line]


def test_header_nodes_and_edges() -> None:
    text = to_mermaid(DEMO)
    assert text.splitlines()[0] == "flowchart TD"
    nodes = node_lines(text)
    assert len(nodes) == len(DEMO.nodes) + 1  # plus the single end node
    assert nodes.count('end_call(("end"))') == 1
    branches = sum(len(node.branches()) for node in DEMO.nodes.values())
    assert len(edge_lines(text)) == branches


def test_edges_are_labelled_with_outcomes() -> None:
    edges = edge_lines(to_mermaid(DEMO))
    assert 'n_greet -->|"next"| n_agent' in edges
    assert 'n_agent -->|"intent incident"| n_route' in edges
    assert 'n_agent -->|"known_issue"| end_call' in edges
    assert 'n_route -->|"completed"| end_call' in edges
    assert 'n_menu -->|"key #35;"| end_call' in edges


def test_labels_show_id_type_and_name_with_quotes_escaped() -> None:
    text = to_mermaid(DEMO)
    assert 'n_greet["greet (audio_message)<br/>Say #quot;hello#quot;"]' in text
    assert 'n_bye(["bye (hangup)"])' in text
    for line in node_lines(text):
        label = re.search(r'"(.*)"', line)
        assert label and '"' not in label.group(1), line


def test_shapes_differ_by_type() -> None:
    text = to_mermaid(DEMO)
    assert 'n_agent[["agent (ai_agent)"]]' in text
    assert 'n_route{{"route (route_call)"}}' in text
    assert 'n_menu{"menu (ivr_menu)"}' in text


def test_no_end_node_when_no_branch_ends_the_call() -> None:
    flow = make_flow({
        "a": {"type": "audio_message", "text": "a", "next": "b"},
        "b": {"type": "hangup"},
    })
    assert to_mermaid(flow) == 'flowchart TD\n    n_a["a (audio_message)"]\n    n_b(["b (hangup)"])\n    n_a -->|"next"| n_b\n'


def test_ids_that_are_mermaid_keywords_are_made_safe() -> None:
    flow = make_flow({
        "end": {"type": "audio_message", "text": "x", "next": "o-x"},
        "o-x": {"type": "hangup"},
        "o_x": {"type": "hangup"},
    })
    text = to_mermaid(flow)
    ids = [re.match(r"[A-Za-z0-9_]+", line).group(0) for line in node_lines(text)]
    assert ids == ["n_end", "n_o_x", "n_o_x_2"]
    assert 'n_end -->|"next"| n_o_x' in text


def test_dangling_branch_is_drawn_as_missing() -> None:
    flow = make_flow({"a": {"type": "audio_message", "text": "x", "next": "ghost"}})
    text = to_mermaid(flow)
    assert 'n_ghost["ghost<br/>missing node"]' in text
    assert 'n_a -->|"next"| n_ghost' in text


# --- `flow show` --------------------------------------------------------------------------


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(cli_flow, "default_registry", lambda: Registry())
    return CliRunner()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_cli_show_prints_mermaid(tmp_path: Path, runner: CliRunner) -> None:
    path = write(tmp_path, """\
        name: x
        start: a
        nodes:
          a: {type: audio_message, text: hi, next: b}
          b: {type: hangup}
    """)
    result = runner.invoke(cli_flow.flow_app, ["show", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("flowchart TD\n")
    assert 'n_a -->|"next"| n_b' in result.stdout


def test_cli_show_bad_flow_prints_problems(tmp_path: Path, runner: CliRunner) -> None:
    path = write(tmp_path, """\
        name: x
        start: a
        nodes:
          a: {type: audio_message, text: hi, next: c}
          b: {type: hangup}
    """)
    result = runner.invoke(cli_flow.flow_app, ["show", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"{path}:4: node `a`: branch `next` points to `c`" in result.stderr
    assert f"{path}:5: node `b` is unreachable" in result.stderr


def test_cli_show_missing_file(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli_flow.flow_app, ["show", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "nope.yaml: file not found" in result.stderr
