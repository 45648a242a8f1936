"""Flow checks: every problem a flow author can make is reported at its line with a usable fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from agent.cli import flow as cli_flow
from agent.flow.loader import FlowError, FlowProblem, check_flow, load_flow
from agent.flow.models import Flow
from agent.core.registry import Registry
from agent.core.settings import Settings
from agent.core.sources import SourceConfigError, PluginContext
from agent.media.backends.openai_realtime import OpenAIRealtimeBackend


class StaticSource:
    """Stands in for the static-file source plugin: its file must exist next to the flow."""

    class Config(BaseModel):
        path: str

    def __init__(self, options: Config, context: PluginContext) -> None:
        if not (context.base_dir / options.path).is_file():
            raise SourceConfigError(f"static source: file {options.path!r} not found")
        self.name = "static"


class BrokenSource:
    """A source plugin with a bug of its own."""

    def __init__(self, options: dict, context: PluginContext) -> None:
        raise RuntimeError("boom")


class FileSource:
    """A source plugin that reports a missing file with a plain FileNotFoundError."""

    def __init__(self, options: dict, context: PluginContext) -> None:
        raise FileNotFoundError(f"facts file {context.base_dir / options['path']} does not exist")


REGISTRY = Registry(
    intents={"incident": object(), "talk_to_human": object(), "security": object()},
    gathers={"caller_name": object(), "callback_number": object(), "service": object()},
    sources={"static": StaticSource, "broken": BrokenSource, "file": FileSource},
    backends={"openai_realtime": OpenAIRealtimeBackend},
)

VALID = """\
name: Demo
start: greet
nodes:
  greet: {type: audio_message, text: "Hello", next: hours}
  hours: {type: support_hours, timezone: Europe/Berlin, hours: [{days: [mon,tue], start: "08:00", end: "18:00"}], during: agent, outside: bye}
  agent:
    type: ai_agent
    greeting: "How can I help?"
    intents: {incident: bye, talk_to_human: bye}
    gathers: [caller_name, {name: ticket, type: string, question: "Ticket number?", regex: "T-\\\\d+"}]
    enrichment: {sources: [{type: static, path: facts.yaml}]}
    fallback: bye
  bye: {type: hangup, text: "Goodbye"}
"""


def write(tmp_path: Path, text: str, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    (tmp_path / "facts.yaml").write_text("facts: []\n", encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[FlowProblem]:
    _, problems = check_flow(write(tmp_path, text), REGISTRY, Settings())
    return problems


def only(problems: list[FlowProblem]) -> FlowProblem:
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


# --- a good flow -------------------------------------------------------------------------


def test_valid_flow_has_no_problems(tmp_path: Path) -> None:
    flow, problems = check_flow(write(tmp_path, VALID), REGISTRY, Settings())
    assert problems == []
    assert isinstance(flow, Flow)
    assert list(flow.nodes) == ["greet", "hours", "agent", "bye"]


def test_load_flow_returns_the_flow(tmp_path: Path) -> None:
    flow = load_flow(write(tmp_path, VALID), REGISTRY)
    assert flow.start == "greet"
    assert flow.nodes["agent"].gathers[1].regex == r"T-\d+"


def test_load_flow_raises_with_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("next: hours", "next: hour").replace("start: greet", "start: gret"))
    with pytest.raises(FlowError) as info:
        load_flow(path, REGISTRY)
    assert len(info.value.problems) == 2
    assert str(info.value).splitlines() == [str(p) for p in info.value.problems]


def test_problem_text_format() -> None:
    problem = FlowProblem("f.yaml", 7, "unknown key `nxt`; did you mean `next`?", "rename it to `next`")
    assert str(problem) == "f.yaml:7: unknown key `nxt`; did you mean `next`? Fix: rename it to `next`"
    assert str(FlowProblem("f.yaml", 2, "bad thing", "do x")) == "f.yaml:2: bad thing. Fix: do x"
    assert str(FlowProblem("f.yaml", None, "file not found", "check")) == "f.yaml: file not found. Fix: check"


# --- reading the file ------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    flow, problems = check_flow(tmp_path / "nope.yaml", REGISTRY)
    assert flow is None
    problem = only(problems)
    assert problem.line is None and "file not found" in problem.message
    assert "check the path" in problem.fix
    with pytest.raises(FlowError, match="file not found"):
        load_flow(tmp_path / "nope.yaml", REGISTRY)


def test_yaml_syntax_error_names_ruamels_line(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "name: x\nstart: a\nnodes:\n  a: {type: hangup\n  b: 1\n"))
    assert problem.message.startswith("not valid YAML")
    assert problem.line == 5
    assert "closing brackets" in problem.fix


def test_yaml_tab_indentation(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "name: x\nnodes:\n\ta: 1\n"))
    assert problem.line == 3 and "spaces, not tabs" in problem.fix


def test_duplicate_key(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "name: x\nstart: a\nname: y\nnodes:\n  a: {type: hangup}\n"))
    assert problem.line == 3
    assert "duplicate key" in problem.message and "line 1" in problem.message
    assert "remove or rename" in problem.fix


def test_duplicate_node_id_names_its_own_line_and_the_first_ones(tmp_path: Path) -> None:
    text = """\
    name: x
    start: b
    nodes:
      b:
        type: audio_message
        text: hi
        next: a
      a:
        type: hangup
      c: {type: hangup, text: c}
      a:
        type: hangup
        text: second
      d: {type: audio_message, text: d, next: nowhere}
    """
    problems = problems_of(tmp_path, text)
    # ruamel.yaml names the start of the `nodes` mapping (line 4) as the first `a`; it is at line 8.
    assert [(p.line, p.message) for p in problems] == [
        (10, "node `c` is unreachable: no branch leads to it from `start` (b)"),
        (11, "duplicate key `a` (the first one is at line 8); only the first one is read"),
        (14, "node `d`: branch `next` points to `nowhere`, which is not a node"),
        (14, "node `d` is unreachable: no branch leads to it from `start` (b)"),
    ]
    assert problems[1].fix == "remove or rename one of the two keys"


def test_top_level_not_a_mapping(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "- greet\n- bye\n"))
    assert problem.line == 1 and "top level is a list" in problem.message
    assert "`name:`, `start:` and `nodes:`" in problem.fix


def test_empty_file(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "# nothing yet\n"))
    assert problem.line == 1 and "empty" in problem.message


# --- schema errors ---------------------------------------------------------------------------


def test_unknown_node_type_lists_types_and_close_match(tmp_path: Path) -> None:
    text = """\
    name: x
    start: a
    nodes:
      a:
        text: hi
        type: audio_mesage
    """
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 6
    assert "unknown node type `audio_mesage`; did you mean `audio_message`?" in problem.message
    assert problem.fix.startswith("change it to `audio_message`")
    assert "ai_agent" in problem.fix and "hangup" in problem.fix


def test_node_without_type(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "name: x\nstart: a\nnodes:\n  a: {text: hi}\n"))
    assert problem.line == 4 and "has no `type`" in problem.message
    assert "add `type:`" in problem.fix and "audio_message" in problem.fix


def test_misspelt_key_suggests_field(tmp_path: Path) -> None:
    text = """\
    name: x
    start: a
    nodes:
      a:
        type: audio_message
        text: hi
        nxt: b
      b: {type: hangup}
    """
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 7
    assert "unknown key `nxt`; did you mean `next`?" in problem.message
    assert problem.fix == "rename it to `next`"
    assert str(problem).endswith("unknown key `nxt`; did you mean `next`? Fix: rename it to `next`")


def test_unknown_key_without_match_lists_allowed_keys(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "name: x\nstart: a\nnodes:\n  a: {type: hangup, colour: red}\n"))
    assert problem.line == 4 and "unknown key `colour`" in problem.message
    assert problem.fix.startswith("remove it; keys allowed here:") and "text" in problem.fix


def test_unknown_key_in_nested_model(tmp_path: Path) -> None:
    text = """\
    name: x
    start: a
    nodes:
      a:
        type: ai_agent
        greeting: hi
        intents: {incident: null}
        gathers:
          - name: ticket
            type: string
            question: Ticket?
            regx: "T-1"
    """
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 12
    assert "unknown key `regx`; did you mean `regex`?" in problem.message


def test_top_level_typo(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "name: x\nstrat: a\nnodes:\n  a: {type: hangup}\n")
    assert [(p.line, p.message) for p in problems] == [
        (1, "missing required top-level key `start`"),
        (2, "the flow: unknown key `strat`; did you mean `start`?"),
    ]
    assert problems[0].fix.startswith("add `start:")


def test_nested_value_error_points_at_its_line(tmp_path: Path) -> None:
    text = """\
    name: x
    start: h
    nodes:
      h:
        type: support_hours
        hours:
          - days: [mon]
            start: "8h"
    """
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 8
    assert "`hours[0].start`" in problem.message and "not a time of day" in problem.message
    assert '"08:00"' in problem.fix


def test_literal_error_lists_choices(tmp_path: Path) -> None:
    text = "name: x\nstart: h\nnodes:\n  h:\n    type: support_hours\n    hours: [{days: [mon, tuesday]}]\n"
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 6
    assert "use one of: mon, tue, wed" in problem.fix


def test_missing_required_field_of_node(tmp_path: Path) -> None:
    text = "name: x\nstart: a\nnodes:\n  a:\n    type: ai_agent\n    intents: {incident: null}\n"
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 4
    assert "node `a`: missing required key `greeting`" == problem.message
    assert problem.fix.startswith("add `greeting:")


def test_model_validator_message_becomes_fix(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "name: x\nstart: a\nnodes:\n  a: {type: audio_message}\n"))
    assert problem.line == 4
    assert "needs `text` or `audio_url`" in problem.message
    assert problem.fix == "add `text` or `audio_url`"


def test_custom_gather_needs_question(tmp_path: Path) -> None:
    text = """\
    name: x
    start: a
    nodes:
      a:
        type: ai_agent
        greeting: hi
        intents: {incident: null}
        gathers:
          - caller_name
          - {name: ticket, type: string}
    """
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 10
    assert problem.fix == "add a `question`"


def test_gather_name_pattern_points_at_list_item(tmp_path: Path) -> None:
    text = """\
    name: x
    start: a
    nodes:
      a:
        type: ai_agent
        greeting: hi
        intents: {incident: null}
        gathers:
          - caller_name
          - Caller-Name
    """
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 10
    assert "lowercase letters" in problem.fix


def test_ivr_key_error_points_at_key(tmp_path: Path) -> None:
    text = """\
    name: x
    start: m
    nodes:
      m:
        type: ivr_menu
        prompt: Press one
        options:
          1: bye
          x: bye
      bye: {type: hangup}
    """
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 9
    assert "use one of: 0, 1, 2" in problem.fix


def test_node_that_is_not_a_mapping(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "name: x\nstart: a\nnodes:\n  a: hangup\n"))
    assert problem.line == 4 and "expected a mapping" in problem.message
    assert "`a: {type: hangup}`" in problem.fix


def test_number_out_of_range(tmp_path: Path) -> None:
    text = "name: x\nstart: v\nnodes:\n  v:\n    type: voicemail\n    max_seconds: 2\n"
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 6 and "(got 2)" in problem.message
    assert problem.fix == "use a value that is greater than or equal to 5"


def test_schema_errors_do_not_hide_graph_and_plugin_errors(tmp_path: Path) -> None:
    text = "name: x\nstart: nowhere\nnodes:\n  a: {type: hangup, txt: bye}\n  b: {type: hangup}\n"
    flow, problems = check_flow(write(tmp_path, text), REGISTRY)
    assert flow is None
    assert [p.line for p in problems] == [2, 4]
    assert problems[0].message == "`start` points to `nowhere`, which is not a node"
    # A bad `start`, an unknown intent and a dangling branch come out with the schema errors, in one run.
    broken = (
        VALID.replace("start: greet", "start: gret")
        .replace('text: "Hello"', 'txt: "Hello"')
        .replace("talk_to_human: bye", "talk_to_humn: bye")
        .replace("outside: bye", "outside: by")
    )
    assert [(p.line, p.message.split(";")[0]) for p in problems_of(tmp_path, broken)] == [
        (2, "`start` points to `gret`, which is not a node"),
        (4, "node `greet`: unknown key `txt`"),
        (5, "node `hours`: branch `outside` points to `by`, which is not a node"),
        (9, "node `agent`: unknown intent `talk_to_humn`"),
    ]


def test_a_node_that_failed_its_schema_causes_no_follow_on_problems(tmp_path: Path) -> None:
    text = """\
    name: x
    start: a
    nodes:
      a: {type: audio_message, text: hi, next: broken}
      broken: {type: ivr_menu, prompt: p, options: {1: c, 2: d}, retries: many}
      c: {type: audio_message, text: c, next: c2}
      c2: {type: hangup}
      d: {type: audio_message, text: d, next: broken}
      orphan: {type: hangup}
    """
    # `broken` exists (no dangling `next`), leads on to `c` and `d` (not unreachable), and `d -> broken`
    # is not called a loop; `orphan` is still unreachable.
    assert [(p.line, p.message.split(":")[0]) for p in problems_of(tmp_path, text)] == [
        (5, "node `broken`, `retries`"),
        (9, "node `orphan` is unreachable"),
    ]


def test_schema_errors_in_the_nodes_mapping_skip_the_graph_checks(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "name: x\nstart: a\nnodes: [a, b]\n"))
    assert problem.line == 3 and "expected a mapping" in problem.message
    problem = only(problems_of(tmp_path, "name: x\nstart: [a]\nnodes:\n  a: {type: hangup}\n"))
    assert problem.line == 2 and "expected text" in problem.message


# --- graph -------------------------------------------------------------------------------------


def test_dangling_branch_suggests_node(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("outside: bye", "outside: by")))
    assert problem.line == 5
    assert "branch `outside` points to `by`, which is not a node; did you mean `bye`?" in problem.message
    assert problem.fix == "change it to `bye`"


def test_dangling_branch_without_match_lists_ids(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("fallback: bye", "fallback: operator_desk")))
    assert problem.line == 12
    assert "use one of the node ids (greet, hours, agent, bye)" in problem.fix
    assert "leave it empty to end the call" in problem.fix


def test_dangling_intent_and_ivr_branches_point_at_their_keys(tmp_path: Path) -> None:
    text = """\
    name: x
    start: m
    nodes:
      m:
        type: ivr_menu
        prompt: Press one
        options:
          1: agent
          2: nobody
      agent:
        type: ai_agent
        greeting: hi
        intents:
          incident: by
        fallback: bye
      bye: {type: hangup}
    """
    problems = problems_of(tmp_path, text)
    assert [(p.line, p.message.split(":")[1].strip()) for p in problems] == [
        (9, "branch `key 2` points to `nobody`, which is not a node"),
        (14, "branch `intent incident` points to `by`, which is not a node; did you mean `bye`?"),
    ]


def test_start_pointing_nowhere(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("start: greet", "start: gret")))
    assert problem.line == 2
    assert problem.message == "`start` points to `gret`, which is not a node; did you mean `greet`?"
    assert problem.fix == "change it to `greet`"


def test_unreachable_node(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID + "  orphan: {type: hangup}\n"))
    assert problem.line == 14
    assert "node `orphan` is unreachable" in problem.message
    assert problem.fix == "link it from a branch of another node, or delete it"


LOOPS = """\
name: x
start: s
nodes:
  s: {type: support_hours, during: a, outside: c}
  a: {type: audio_message, text: a, next: b}
  b: {type: audio_message, text: b, next: a}
  c: {type: audio_message, text: c, next: d}
  d: {type: audio_message, text: d, next: e}
  e: {type: audio_message, text: e, next: d}
"""


def test_loop_without_exit_reported_once_per_group(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, LOOPS)
    assert [(p.line, p.message) for p in problems] == [
        (5, "nodes `a`, `b` form a loop with no way to end the call"),
        (8, "nodes `d`, `e` form a loop with no way to end the call"),
    ]
    assert "hangup node" in problems[0].fix and "leave a branch empty" in problems[0].fix


def test_self_loop_and_loop_into_a_trap(tmp_path: Path) -> None:
    text = """\
    name: x
    start: a
    nodes:
      a: {type: pin_code, pins: ["1234"], match: b, no_match: c}
      b: {type: audio_message, text: b, next: a}
      c: {type: audio_message, text: c, next: c}
    """
    # a <-> b can leave to c, but c never ends: only c is the trap to fix.
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 6
    assert problem.message == "node `c` loops back to itself with no way to end the call"


def test_loop_with_an_exit_is_fine(tmp_path: Path) -> None:
    text = """\
    name: x
    start: m
    nodes:
      m: {type: ivr_menu, prompt: p, options: {1: info, 2: bye}}
      info: {type: audio_message, text: info, next: m}
      bye: {type: hangup}
    """
    assert problems_of(tmp_path, text) == []


# --- plugins -----------------------------------------------------------------------------------


def test_unknown_intent(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("incident: bye", "incidnt: bye")))
    assert problem.line == 9
    assert "unknown intent `incidnt`; did you mean `incident`?" in problem.message
    assert problem.fix.startswith("rename it to `incident`")
    assert "incident, security, talk_to_human" in problem.fix


def test_unknown_gather_offers_builtins_or_custom(tmp_path: Path) -> None:
    text = VALID.replace("gathers: [caller_name,", "gathers: [caller_nme,")
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 10
    assert "unknown gather `caller_nme`; did you mean `caller_name`?" in problem.message
    assert "built-in gathers (callback_number, caller_name, service)" in problem.fix
    assert "`type:`" in problem.fix and "`question:`" in problem.fix


def test_unknown_gather_as_mapping_in_block_list(tmp_path: Path) -> None:
    text = """\
    name: x
    start: a
    nodes:
      a:
        type: ai_agent
        greeting: hi
        intents: {incident: null}
        gathers:
          - name: caller_name
          - name: contract_id
            required: false
    """
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 10
    assert "unknown gather `contract_id`" in problem.message


def test_custom_gather_needs_no_registry_entry(tmp_path: Path) -> None:
    text = VALID.replace("name: ticket, type: string", "name: contract_id, type: string")
    assert problems_of(tmp_path, text) == []


def test_unknown_source_type(tmp_path: Path) -> None:
    text = """\
    name: x
    start: a
    nodes:
      a:
        type: ai_agent
        greeting: hi
        intents: {incident: null}
        enrichment:
          sources:
            - type: statik
              path: facts.yaml
    """
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 10
    assert "unknown enrichment source type `statik`; did you mean `static`?" in problem.message
    assert problem.fix.startswith("change it to `static`") and "broken, file, static" in problem.fix


def test_bad_source_config_reports_the_plugins_message(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("path: facts.yaml", "path: missing.yaml")))
    assert problem.line == 11
    assert "static source: file 'missing.yaml' not found" in problem.message
    assert "relative paths are read from the flow file's folder" in problem.fix


def test_source_config_checked_by_the_plugins_model(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("path: facts.yaml", "file: facts.yaml")))
    assert problem.line == 11
    assert "source 'static': path: Field required" in problem.message


def test_source_paths_are_relative_to_the_flow_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    path = write(folder, VALID)
    monkeypatch.chdir(tmp_path)
    _, problems = check_flow(Path("flows") / path.name, REGISTRY, Settings())
    assert problems == []


def test_source_oserror_is_reported_as_a_config_problem(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("type: static, path: facts.yaml", "type: file, path: x.yaml")))
    assert problem.line == 11
    assert problem.message.endswith(f"facts file {tmp_path / 'x.yaml'} does not exist")
    assert "relative paths are read from the flow file's folder" in problem.fix


def test_source_plugin_crash_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("type: static, path: facts.yaml", "type: broken")))
    assert problem.line == 11
    assert "the `broken` plugin failed" in problem.message and "boom" in problem.message


# --- values ------------------------------------------------------------------------------------


def test_bad_timezone_suggests_iana_name(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("Europe/Berlin", "Europe/Berln")))
    assert problem.line == 5
    assert "unknown time zone `Europe/Berln`; did you mean `Europe/Berlin`?" in problem.message
    assert problem.fix == "use `Europe/Berlin`"


def test_timezone_given_as_city(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("Europe/Berlin", "Berlin")))
    assert problem.fix == "use `Europe/Berlin`"


def test_timezone_without_any_match(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, VALID.replace("Europe/Berlin", "Qqqqqq/Zzzzzzzz")))
    assert problem.line == 5
    assert problem.fix == "use an IANA name such as Europe/Berlin"


def test_bad_regex(tmp_path: Path) -> None:
    text = """\
    name: x
    start: a
    nodes:
      a:
        type: ai_agent
        greeting: hi
        intents: {incident: null}
        gathers:
          - name: ticket
            type: string
            question: Ticket number?
            regex: 'T-(\\d+'
    """
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 12
    assert "gather `ticket`: `regex` does not compile: missing )" in problem.message
    assert "single quotes" in problem.fix


def test_all_problems_reported_in_line_order(tmp_path: Path) -> None:
    text = (
        VALID.replace("start: greet", "start: gret")
        .replace("Europe/Berlin", "Europe/Berln")
        .replace("talk_to_human: bye", "talk_to_humn: bye")
        .replace("T-\\\\d+", "T-(")
        .replace("path: facts.yaml", "path: gone.yaml")
    ) + "  orphan: {type: hangup}\n"
    problems = problems_of(tmp_path, text)
    assert [p.line for p in problems] == [2, 5, 9, 10, 11]
    # With `start` broken, reachability is unknown, so `orphan` is not (yet) called unreachable.
    fixed = text.replace("start: gret", "start: greet")
    assert [p.line for p in problems_of(tmp_path, fixed)] == [5, 9, 10, 11, 14]


# --- CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(cli_flow, "default_registry", lambda: REGISTRY)
    return CliRunner()


def test_cli_validate_ok(tmp_path: Path, runner: CliRunner) -> None:
    path = write(tmp_path, VALID)
    result = runner.invoke(cli_flow.flow_app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: ok (4 nodes)\n"
    assert result.stderr == ""


def test_cli_validate_reports_problems_on_stderr(tmp_path: Path, runner: CliRunner) -> None:
    good = write(tmp_path, VALID, "good.yaml")
    bad = write(tmp_path, VALID.replace("outside: bye", "outside: by"), "bad.yaml")
    result = runner.invoke(cli_flow.flow_app, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{good}: ok (4 nodes)" in result.stdout
    assert result.stderr.strip() == (
        f"{bad}:5: node `hours`: branch `outside` points to `by`, which is not a node; "
        "did you mean `bye`? Fix: change it to `bye`"
    )


def test_cli_validate_one_line_per_problem(tmp_path: Path, runner: CliRunner) -> None:
    bad = write(tmp_path, LOOPS)
    result = runner.invoke(cli_flow.flow_app, ["validate", str(bad)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert [line.split(": ")[0] for line in lines] == [f"{bad}:5", f"{bad}:8"]


def test_cli_validate_missing_file_no_traceback(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli_flow.flow_app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "nope.yaml: file not found" in result.stderr
    assert "Traceback" not in result.output


def test_cli_validate_not_yaml(tmp_path: Path, runner: CliRunner) -> None:
    bad = write(tmp_path, "name: [unclosed\n")
    result = runner.invoke(cli_flow.flow_app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert f"{bad}:2: not valid YAML" in result.stderr


def test_message_with_an_unknown_placeholder(tmp_path: Path) -> None:
    text = """\
    name: x
    start: a
    nodes:
      a:
        type: ai_agent
        greeting: hi
        intents: {incident: null}
        messages:
          read_back: "I have {numbr}"
    """
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 8
    assert "`read_back`" in problem.message and "'numbr'" in problem.message
    assert problem.fix.startswith("use {value}, {label} or {first_name}")


def test_a_line_longer_than_twilios_say_is_refused_at_its_line(tmp_path: Path) -> None:
    long_line = "The checkout is down. " * 200  # 4,400 characters; <Say> takes 4,096 (Twilio warning 13521)
    text = VALID.replace('greet: {type: audio_message, text: "Hello", next: hours}', f'greet: {{type: audio_message, text: "{long_line}", next: hours}}')
    found = problems_of(tmp_path, text)
    assert [(p.line, p.message) for p in found] == [(4, f"node `greet`, `text`: {len(long_line)} characters, more than Twilio's <Say> takes (4096)")]
    assert "shorten it" in found[0].fix


def test_support_hours_past_midnight_are_valid(tmp_path: Path) -> None:
    assert problems_of(tmp_path, VALID.replace('start: "08:00", end: "18:00"', 'start: "22:00", end: "06:00"')) == []


@pytest.mark.parametrize(("hours", "line", "message", "fix"), [
    ('[{days: [mon], start: "08:00", end: "08:00"}]', 5, "`start` and `end` are both 08:00: this window never opens",
     "set `end` after `start`, or before it for hours that run past midnight"),
    ('[{days: [], start: "08:00", end: "18:00"}]', 5, "no `days`: this window never opens", "list the days it opens on"),
    ("[]", 5, "`hours` is empty: every call would go to `outside`", "add a window such as"),
])
def test_support_hours_that_never_match_are_refused_at_their_line(tmp_path: Path, hours: str, line: int, message: str, fix: str) -> None:
    text = VALID.replace('hours: [{days: [mon,tue], start: "08:00", end: "18:00"}]', f"hours: {hours}")
    problem = only(problems_of(tmp_path, text))
    assert problem.line == line
    assert message in problem.message and problem.message.startswith("node `hours`")
    assert problem.fix.startswith(fix)


def test_an_audio_message_with_both_text_and_a_recording_is_refused(tmp_path: Path) -> None:
    # Live calls play the recording and never say the text; the simulator said the text: one of them is a lie.
    text = VALID.replace('greet: {type: audio_message, text: "Hello", next: hours}',
                         'greet: {type: audio_message, text: "Hello", audio_url: "https://example.test/hello.mp3", next: hours}')
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 4
    assert "both `text` and `audio_url`" in problem.message
    assert problem.fix.startswith("keep one")


# --- the AI node's model backend (`model:`) ----------------------------------------------

MODEL_FLOW = VALID.replace("    fallback: bye\n", "    fallback: bye\n    model:\n{model}", 1)


def with_model(*lines: str) -> str:
    return MODEL_FLOW.replace("{model}", "".join(f"      {line}\n" for line in lines))


def test_a_node_without_model_uses_the_default_backend_which_must_be_installed(tmp_path: Path) -> None:
    _, problems = check_flow(write(tmp_path, VALID), REGISTRY, Settings(model_backend="casade"))
    problem = only(problems)
    assert problem.line == 6, "at the AI node"
    assert "unknown model backend `casade` (VOICE_AGENT_MODEL_BACKEND" in problem.message
    assert "installed backends: openai_realtime" in problem.fix


def test_unknown_backend_is_reported_at_its_line_with_a_suggestion(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, with_model("backend: openai_realtim")))
    assert problem.line == 14
    assert "did you mean `openai_realtime`?" in problem.message
    assert problem.fix.startswith("change it to `openai_realtime`")


def test_backend_options_are_checked_against_its_options_model_at_their_line(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, with_model(
        "backend: openai_realtime", "azure_endpoint: https://acme.openai.azure.com/openai/v1", "deploymnt: gpt-realtime",
    ))
    endpoint, typo = problems
    assert endpoint.line == 15 and "`azure_endpoint`: not the resource's URL alone" in endpoint.message
    assert endpoint.fix.startswith("write it as https://<resource>.openai.azure.com")
    assert typo.line == 16 and "`deploymnt`: unknown option; did you mean `deployment`?" in typo.message
    assert "`openai_realtime` takes: api_version, azure_endpoint, deployment, model, url" in typo.fix


def test_azure_without_a_deployment_or_key_is_refused_with_what_to_set(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, with_model("backend: openai_realtime", "azure_endpoint: https://acme.openai.azure.com")))
    assert "`azure_endpoint` needs `deployment`" in problem.message
    flow = write(tmp_path, with_model("backend: openai_realtime", "azure_endpoint: https://acme.openai.azure.com", "deployment: rt"))
    problem = only(check_flow(flow, REGISTRY, Settings())[1])
    assert problem.line == 13 and "no Azure OpenAI API key" in problem.message, "at the node's `model:`"
    assert "VOICE_AGENT_AZURE_OPENAI_API_KEY" in problem.fix
    assert check_flow(flow, REGISTRY, Settings(azure_openai_api_key="k"))[1] == []


def test_azure_preview_api_version_is_refused_its_protocol_is_not_spoken(tmp_path: Path) -> None:
    flow = write(tmp_path, with_model(
        "backend: openai_realtime", "azure_endpoint: https://acme.openai.azure.com", "deployment: rt",
        "api_version: 2025-04-01-preview",
    ))
    problem = only(check_flow(flow, REGISTRY, Settings(azure_openai_api_key="k"))[1])
    assert "preview realtime API" in problem.message and "remove `api_version`" in problem.fix


class LimitedBackend(OpenAIRealtimeBackend):
    limits = {"barge-in truncation": "the model keeps what it said in full, heard or not"}


def test_a_backends_limits_are_warnings_the_flow_still_passes(tmp_path: Path, runner: CliRunner, monkeypatch) -> None:
    registry = Registry(**{**{k: getattr(REGISTRY, k) for k in ("intents", "gathers", "sources")}, "backends": {"limited": LimitedBackend}})
    path = write(tmp_path, with_model("backend: limited"))
    warnings: list[FlowProblem] = []
    flow, problems = check_flow(path, registry, Settings(), warnings=warnings)
    assert flow is not None and problems == []
    assert [(w.line, w.warning) for w in warnings] == [(13, True)]
    monkeypatch.setattr(cli_flow, "default_registry", lambda: registry)
    result = runner.invoke(cli_flow.flow_app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}:13: warning: node `agent`: model backend `limited` cannot keep `barge-in truncation`" in result.stderr
    assert result.stdout == f"{path}: ok (4 nodes)\n"
