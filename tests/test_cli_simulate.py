"""The `voice-agent` commands as a user runs them: simulate, test, plugins."""

import json
import shlex
from pathlib import Path

from typer.testing import CliRunner

from agent.cli.main import app
from agent.simulation.scripts import load_script
from tests.conftest import EXAMPLES, HOTLINE, ROOT

runner = CliRunner()


def test_simulate_without_arguments_prints_a_whole_call():
    result = runner.invoke(app, ["simulate"])
    assert result.exit_code == 0, result.output
    assert "Agent : Hello, I'm ACME's on-call assistant" in result.output
    assert "Caller: Hi, this is Jane Doe" in result.output
    assert "dialled Alice Example (+4930901820) - answered" in result.output
    assert "briefing: Jane Doe called the hotline" in result.output
    assert "alert [high]: System outage" in result.output


def test_engine_deterministic_is_the_default_and_offline_its_old_name():
    def spoken(*args: str) -> list[tuple[str, str]]:
        result = runner.invoke(app, ["simulate", "--json", *args])
        assert result.exit_code == 0, result.output
        return [(t["speaker"], t["text"]) for t in json.loads(result.output)["transcript"]]

    default = spoken()
    assert ("agent", "I'm connecting you now.") in default
    assert spoken("--engine", "deterministic") == default
    assert spoken("--engine", "offline") == default
    wrong = runner.invoke(app, ["simulate", "--engine", "gpt"])
    assert wrong.exit_code != 0
    assert "Fix: use --engine deterministic or --engine openai" in wrong.output


def test_simulate_json_has_the_outcome_contract():
    result = runner.invoke(app, ["simulate", str(HOTLINE), "--caller", str(EXAMPLES / "callers" / "known_incident.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    outcome = data["outcome"]
    assert outcome["branch"] == "known_goodbye"
    assert outcome["nodes"] == ["screen", "greeting", "hours", "agent", "known_goodbye"]
    assert outcome["facts_used"] == ["open_incident:INC-1042"]
    assert outcome["fields"]["affected_services"] == ["Checkout API"]
    assert {"intent", "fields", "facts_used", "nodes", "branch"} <= set(outcome)
    speakers = {t["speaker"] for t in data["transcript"]}
    assert {"agent", "caller"} <= speakers
    assert any("35 minutes ago" in t["text"] for t in data["transcript"])


def test_every_example_caller_script_passes():
    result = runner.invoke(app, ["test", str(EXAMPLES / "callers")])
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output


def test_a_wrong_expectation_fails_and_names_the_difference(tmp_path: Path):
    (tmp_path / "wrong.yaml").write_text(
        f"flow: {HOTLINE}\nturns: ['Can I talk to a person?']\nexpect: {{intent: security_breach}}\n"
    )
    result = runner.invoke(app, ["test", str(tmp_path)])
    assert result.exit_code == 1
    assert "intent: expected 'security_breach', got 'talk_to_human'" in result.output


def test_a_script_with_a_typo_gets_a_one_line_error_with_its_line(tmp_path: Path):
    script = tmp_path / "typo.yaml"
    script.write_text("caller_number: '+4930123456'\nturn:\n  - hello\n")
    result = runner.invoke(app, ["simulate", "--caller", str(script)])
    assert result.exit_code == 1
    assert f"{script}:2: unknown key `turn`" in result.output
    assert "Traceback" not in result.output


def test_a_missing_flow_file_is_a_clear_error(tmp_path: Path):
    result = runner.invoke(app, ["simulate", str(tmp_path / "nope.yaml"), "--caller", str(EXAMPLES / "callers" / "wants_human.yaml")])
    assert result.exit_code == 1
    assert "nope.yaml" in result.output and "Traceback" not in result.output


def test_plugins_lists_the_builtins_and_what_they_provide():
    result = runner.invoke(app, ["plugins"])
    assert result.exit_code == 0
    assert "builtin_intents  [ok]" in result.output
    assert "talk_to_human" in result.output
    assert "source: static" in result.output


def test_simulated_clock_sends_out_of_hours_callers_to_voicemail(tmp_path: Path):
    flow = tmp_path / "office.yaml"
    flow.write_text(
        """
name: Office hours
start: hours
nodes:
  hours:
    type: support_hours
    timezone: Europe/Berlin
    hours: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]
    during: bye
    outside: vm
  vm: {type: voicemail, prompt: "Leave a message.", left: bye, not_left: bye}
  bye: {type: hangup, text: Bye}
"""
    )
    script = tmp_path / "caller.yaml"
    script.write_text("turns: ['The database is down, call me back']\n")
    saturday = runner.invoke(app, ["simulate", str(flow), "--caller", str(script), "--json", "--at", "2026-11-28T12:00:00+01:00"])
    monday = runner.invoke(app, ["simulate", str(flow), "--caller", str(script), "--json", "--at", "2026-11-30T12:00:00+01:00"])
    saturday_out = json.loads(saturday.output)["outcome"]
    assert saturday_out["nodes"] == ["hours", "vm", "bye"]
    assert "The database is down" in saturday_out["alerts"][0]["details"]
    assert json.loads(monday.output)["outcome"]["nodes"] == ["hours", "bye"]


def test_chat_lets_a_developer_play_the_caller():
    typed = "the website is down for everyone\nall of it, the website\nSam Stone\nyes\n\nno\nno\n"
    result = runner.invoke(app, ["chat", "--from", "+4915112345678"], input=typed)
    assert result.exit_code == 0, result.output
    assert "Agent : Hello, I'm ACME's on-call assistant" in result.output
    assert "Outcome: intent=system_outage branch=alert end=connected" in result.output


def test_chat_ends_cleanly_when_the_developer_hangs_up():
    result = runner.invoke(app, ["chat"], input="/hangup\n")
    assert result.exit_code == 0
    assert "end=caller_hung_up" in result.output


def _readme_at_example() -> list[str]:
    line = next(l for l in (ROOT / "README.md").read_text().splitlines() if l.startswith("voice-agent simulate --at "))
    return shlex.split(line.split("#", 1)[0])[1:]


def test_the_readme_at_example_ends_on_the_closed_hours_path():
    """The tour's `--at` is a Saturday night: the example hotline is closed, the caller leaves a voicemail."""
    args = _readme_at_example()
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output)["outcome"]
    assert outcome["nodes"] == ["screen", "greeting", "hours", "voicemail", "thanks_goodbye"]
    assert [a["summary"] for a in outcome["alerts"]] == ["Voicemail from +4915112345678"]
    assert "agent" not in outcome["nodes"]


def test_a_weekday_daytime_call_takes_the_open_hours_path():
    result = runner.invoke(app, ["simulate", "--json", "--at", "2026-11-25T10:00:00+01:00"])  # Wednesday 10:00 Berlin
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output)["outcome"]
    assert outcome["nodes"] == ["screen", "greeting", "hours", "agent", "alert", "page_oncall"]
    assert outcome["branch"] == "alert"


def test_every_example_caller_pins_a_time_inside_support_hours():
    """`voice-agent test examples/callers` (CI) passes at night and on weekends too: each script pins its clock."""
    from agent.flow.loader import load_flow
    from agent.flow.stepper import within_support_hours
    from agent.simulation.simulator import at_time

    hours = load_flow(HOTLINE).nodes["hours"]
    for path in sorted((EXAMPLES / "callers").glob("*.yaml")):
        script = load_script(path)
        assert script.at, f"{path.name}: no `at:`"
        assert within_support_hours(hours, at_time(script.at))[0], path.name


def test_a_flow_given_on_the_command_line_stands_in_for_the_scripts_own(tmp_path: Path):
    """A script whose `flow:` points elsewhere (another checkout, a renamed file) runs against --flow / the FLOW argument."""
    script = tmp_path / "caller.yaml"
    script.write_text('flow: ../flows/gone.yaml\nat: "2026-11-25T10:00:00+01:00"\nturns: ["I need a person"]\n'
                      "expect: {fields: {}}\n")
    tested = runner.invoke(app, ["test", str(tmp_path), "--flow", str(HOTLINE)])
    assert tested.exit_code == 0, tested.output
    simulated = runner.invoke(app, ["simulate", str(HOTLINE), "--caller", str(script)])
    assert simulated.exit_code == 0, simulated.output
    assert "dialled Alice Example" in simulated.output
