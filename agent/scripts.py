"""Scripted callers: YAML files that play the caller, with what the call should end with.

    caller_number: "+4915112345678"
    turns:
      - Hi, the checkout is down
      - ""                  # silence
      - {dtmf: "1"}         # keys pressed
    expect:
      intent: system_outage
      branch: alert
      fields: {caller_name: Jane Doe}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.call import Outcome
from agent.walker import CallerTurn, ScriptedCaller  # noqa: F401 - ScriptedCaller is part of this module's API
from agent.yamlfile import FileError, FileProblem, Reporter, line_at, plain, read_yaml


class DtmfTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dtmf: str = Field(pattern=r"^[0-9*#]{1,32}$")


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    intent: str | None = None
    branch: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    nodes: list[str] | None = None
    end_reason: str | None = None
    facts_used: list[str] | None = None


class CallerScript(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    flow: str | None = Field(None, description="The flow this call runs, relative to the script.")
    caller_number: str | None = None
    at: str | None = Field(None, description="ISO time of the call (support hours); default now.")
    answer_calls: bool = Field(True, description="Whether the people route_call dials answer.")
    turns: list[str | DtmfTurn | None] = Field(default_factory=list)
    expect: Expect | None = None

    def caller_turns(self) -> list[CallerTurn]:
        out = []
        for turn in self.turns:
            if isinstance(turn, DtmfTurn):
                out.append(CallerTurn(dtmf=turn.dtmf))
            else:
                out.append(CallerTurn(text=turn or ""))
        return out


_FIELDS = ", ".join(CallerScript.model_fields)


def load_script(path: Path) -> CallerScript:
    """Read a caller script; raises :class:`FileError` naming file, line and fix."""
    report = Reporter(str(path))
    data = read_yaml(path, report, top_keys="`turns:` (and `caller_number:`, `expect:`)")
    if data is None:
        raise FileError(report.problems)
    try:
        return CallerScript.model_validate(plain(data))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if p not in ("str", "DtmfTurn", "none"))
            where = ".".join(str(p) for p in loc) or "the file"
            if err["type"] == "extra_forbidden":
                fix = f"remove it; a script has the keys {_FIELDS}"
                message = f"unknown key `{loc[-1]}`"
            else:
                fix = "see the example scripts in examples/callers/"
                message = f"{where}: {err['msg']}"
            problems.append(FileProblem(str(path), line_at(data, loc), message, fix))
        raise FileError(problems[:3]) from None


def mismatches(expect: Expect, outcome: Outcome) -> list[str]:
    """What differs between the script's expectations and the call's outcome."""
    problems: list[str] = []
    if expect.intent is not None and outcome.intent != expect.intent:
        problems.append(f"intent: expected {expect.intent!r}, got {outcome.intent!r}")
    if expect.branch is not None and outcome.branch != expect.branch:
        problems.append(f"branch: expected {expect.branch!r}, got {outcome.branch!r}")
    if expect.end_reason is not None and outcome.end_reason != expect.end_reason:
        problems.append(f"end_reason: expected {expect.end_reason!r}, got {outcome.end_reason!r}")
    if expect.nodes is not None and outcome.nodes != expect.nodes:
        problems.append(f"nodes: expected {expect.nodes}, got {outcome.nodes}")
    for name, wanted in expect.fields.items():
        got = outcome.fields.get(name)
        if got != wanted:
            problems.append(f"fields.{name}: expected {wanted!r}, got {got!r}")
    for fact in expect.facts_used or []:
        if fact not in outcome.facts_used:
            problems.append(f"facts_used: expected {fact!r} among {outcome.facts_used}")
    return problems
