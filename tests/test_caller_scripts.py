"""Caller scripts: every problem reported in one run, at its line, with a fix (as flows get)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.core.registry import Registry
from agent.simulation.scripts import FileError, load_script
from agent.flow.yamlfile import FileProblem
from tests.conftest import EXAMPLES

REGISTRY = Registry(gathers={"caller_name": object(), "contact_number": object(), "email": object()})

FLOW = """\
name: Demo
start: agent
nodes:
  agent:
    type: ai_agent
    greeting: hi
    intents: {incident: null}
    gathers: [caller_name, {name: ticket, type: string, question: "Ticket number?"}]
"""


def problems_of(tmp_path: Path, text: str, **kwargs) -> list[FileProblem]:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    path = tmp_path / "caller.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(FileError) as info:
        load_script(path, registry=REGISTRY, **kwargs)
    assert str(info.value).splitlines() == [str(p) for p in info.value.problems]
    return info.value.problems


def only(problems: list[FileProblem]) -> FileProblem:
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def test_a_good_script_loads(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    path = tmp_path / "caller.yaml"
    path.write_text(
        'flow: flow.yaml\ncaller_number: "+4915112345678"\nat: "2026-11-28T03:00:00+01:00"\n'
        'turns: [hi, "", {dtmf: "1#"}]\nexpect: {intent: incident, fields: {caller_name: Jane, ticket: T-1, email: a@b.c}}\n'
    )
    script = load_script(path, registry=REGISTRY)
    assert [(t.text, t.dtmf) for t in script.caller_turns()] == [("hi", None), ("", None), ("", "1#")]
    assert script.expect is not None and script.expect.fields["ticket"] == "T-1"


def test_unknown_key_inside_expect_is_reported_there_with_did_you_mean(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "flow: flow.yaml\nturns: [hi]\nexpect:\n  intnet: incident\n"))
    assert problem.line == 4
    assert problem.message == "`expect`: unknown key `intnet`; did you mean `intent`?"
    assert problem.fix == "rename it to `intent`"
    problem = only(problems_of(tmp_path, "flow: flow.yaml\nturns: [hi]\nexpect:\n  zzz: 1\n"))
    assert problem.fix.startswith("remove it; `expect` has the keys intent, branch, fields")


def test_a_script_level_typo_gets_did_you_mean(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "flow: flow.yaml\nturn:\n  - hello\n"))
    assert (problem.line, problem.message, problem.fix) == (2, "unknown key `turn`; did you mean `turns`?", "rename it to `turns`")


def test_an_unquoted_phone_number_or_time_says_to_quote_it(tmp_path: Path) -> None:
    text = "flow: flow.yaml\ncaller_number: +4915112345678   # the caller ID\nat: 2026-11-28T03:00:00+01:00\nturns: [hi]\n"
    number, at = problems_of(tmp_path, text)
    assert number.line == 2
    assert number.message == "`caller_number`: a phone number must be in quotes: YAML reads `+4915112345678` as a number (and drops the `+`)"
    assert number.fix == 'quote it: `caller_number: "+4915112345678"`'
    assert at.line == 3 and "a time must be in quotes" in at.message
    assert at.fix == 'quote it: `at: "2026-11-28T03:00:00+01:00"`'


def test_a_quoted_time_that_is_not_iso_8601(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "flow: flow.yaml\nat: 'Saturday 3am'\nturns: [hi]\n"))
    assert problem.line == 2 and problem.message == "`at`: not an ISO 8601 time (got 'Saturday 3am')"
    assert '"2026-11-28T03:00:00+01:00"' in problem.fix


def test_unquoted_dtmf_is_one_clear_error(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "flow: flow.yaml\nturns:\n  - hello\n  - {dtmf: 1}\n"))
    assert problem.line == 4
    assert problem.message == "`turns[1]`: the keys pressed must be in quotes: YAML reads `1` as a number"
    assert problem.fix == 'quote them: `{dtmf: "1"}`'


def test_other_bad_turns_one_problem_each(tmp_path: Path) -> None:
    text = "flow: flow.yaml\nturns:\n  - 1234\n  - {dtmf: '12a'}\n  - {dmtf: '1'}\n  - [a, b]\n"
    problems = problems_of(tmp_path, text)
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [(3, "`turns[0]`"), (4, "`turns[1]`"), (5, "`turns[2]`"), (6, "`turns[3]`")]
    assert problems[0].fix == 'quote it: `- "1234"`; for keys pressed write `- {dtmf: "1234"}`'
    assert "0-9, * and #" in problems[1].message
    assert problems[2].message == "`turns[2]`: unknown key `dmtf`; did you mean `dtmf`?"
    assert "a list is not a turn" in problems[3].message


def test_a_typo_in_expect_fields_is_flagged(tmp_path: Path) -> None:
    text = "flow: flow.yaml\nturns: [hi]\nexpect:\n  fields:\n    caller_nam: Jane\n    ticket: T-1\n    email: a@b.c\n    shoe_size: 42\n"
    typo, unknown = problems_of(tmp_path, text)
    assert (typo.line, typo.message, typo.fix) == (
        5, "`expect.fields`: unknown field `caller_nam`; did you mean `caller_name`?", "rename it to `caller_name`",
    )
    assert unknown.line == 8
    assert unknown.fix == "use one of the fields this flow can gather: caller_name, contact_number, email, ticket"


def test_fields_are_checked_against_the_flow_the_script_runs(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(FLOW.replace("name: ticket", "name: order_id"), encoding="utf-8")
    text = "flow: gone.yaml\nturns: [hi]\nexpect: {fields: {ticket: T-1}}\n"
    problem = only(problems_of(tmp_path, text, flow=other))  # `flow:` is overridden, so not checked
    assert problem.message == "`expect.fields`: unknown field `ticket`"


def test_a_missing_flow_file_names_the_flow_key(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "description: x\nflow: flows.yaml\nturns: [hi]\n"))
    assert problem.line == 2
    assert problem.message == f"`flow`: flows.yaml not found (looked for {(tmp_path / 'flows.yaml').resolve()}); did you mean `flow.yaml`?"
    assert problem.fix == "change it to `flow.yaml`"
    problem = only(problems_of(tmp_path, "flow: ../nowhere/hotline.yaml\nturns: [hi]\n"))
    assert problem.line == 1 and "relative to this script's folder" in problem.fix


def test_every_problem_in_one_run_in_line_order(tmp_path: Path) -> None:
    text = """\
    flow: flow.yaml
    caller_number: +4915112345678
    answer_calls: maybe
    turns:
      - {dtmf: 1}
      - 5
    expect:
      intnet: incident
      fields: {caller_nam: Jane}
    extra: 1
    """
    problems = problems_of(tmp_path, text)
    assert [p.line for p in problems] == [2, 3, 5, 6, 8, 9, 10]


def test_a_duplicate_key_is_reported_with_the_rest(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "flow: flow.yaml\nturns: [hi]\nturns: [ho]\nexpect: {fields: {caller_nam: x}}\n")
    assert [(p.line, p.message.split(";")[0]) for p in problems] == [
        (3, "duplicate key `turns` (the first one is at line 2)"),
        (4, "`expect.fields`: unknown field `caller_nam`"),
    ]


def test_every_example_script_loads() -> None:
    for path in sorted((EXAMPLES / "callers").glob("*.yaml")):
        load_script(path)


def test_cli_test_on_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["test", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert f"{tmp_path / 'nope'}: no such file or folder" in result.output
    assert "no caller scripts" not in result.output
    empty = CliRunner().invoke(app, ["test", str(tmp_path)])
    assert empty.exit_code == 1 and "no caller scripts (*.yaml) found" in empty.output


def test_cli_test_runs_the_scripts_it_is_given_and_the_folders_scripts() -> None:
    one = CliRunner().invoke(app, ["test", str(EXAMPLES / "callers" / "policy_question.yaml")])
    assert one.exit_code == 0 and "ok    policy_question.yaml" in one.output and "1 passed, 0 failed" in one.output
    mixed = CliRunner().invoke(app, ["test", str(EXAMPLES / "callers" / "de_policy_question.yaml"), str(EXAMPLES / "callers")])
    total = len(list((EXAMPLES / "callers").glob("*.yaml"))) + 1
    assert mixed.exit_code == 0 and f"{total} passed, 0 failed" in mixed.output


def test_cli_simulate_names_the_scripts_flow_key(tmp_path: Path) -> None:
    script = tmp_path / "caller.yaml"
    script.write_text("flow: ../flows/hotlin.yaml\nturns: [hi]\n")
    result = CliRunner().invoke(app, ["simulate", "--caller", str(script)])
    assert result.exit_code == 1
    assert f"{script}:1: `flow`: ../flows/hotlin.yaml not found" in result.output
    assert "Traceback" not in result.output
