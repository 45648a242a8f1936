"""`voice-agent ... --help` shows flags as flags: `--json`, never `--json <bool>` as if it took a value."""

import re

import typer
from typer.testing import CliRunner

from agent.cli.main import app

runner = CliRunner()


def _commands(command, path: tuple[str, ...] = ()):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


def test_no_help_page_shows_a_flag_as_taking_a_value():
    seen = []
    for path, command in _commands(typer.main.get_command(app)):
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (path, result.output)
        assert "<bool>" not in result.output, (path, result.output)
        for param in command.params:
            if getattr(param, "is_flag", False):
                long = max(param.opts, key=len)
                row = next(line for line in result.output.splitlines() if re.search(rf"{re.escape(long)}\b", line))
                assert not re.search(rf"{re.escape(long)}\s+(-\w\s+)?<", row), (path, row)
                seen.append(" ".join((*path, long)))
    assert {"simulate --json", "test --verbose"} <= set(seen)


def test_flags_still_switch_on_without_a_value():
    result = runner.invoke(app, ["simulate", "--json", "--at", "2026-11-25T10:00:00+01:00"])
    assert result.exit_code == 0, result.output
    assert result.output.lstrip().startswith("{")
