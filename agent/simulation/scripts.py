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

import re
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

import agent
from agent.core.call import Outcome
from agent.simulation.simulator import CallerTurn, ScriptedCaller  # noqa: F401 - ScriptedCaller is part of this module's API
from agent.flow.yamlfile import FileError, Reporter, close_match, line_at, plain, read_yaml

if TYPE_CHECKING:
    from agent.core.registry import Registry

# The flow a script without `flow:` runs (`voice-agent simulate`/`test` use the same one).
DEFAULT_FLOW = Path(agent.__file__).resolve().parent.parent / "examples" / "flows" / "hotline.yaml"


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
_EXPECT_FIELDS = ", ".join(Expect.model_fields)
_EXAMPLES = "see docs/flows.md (Caller scripts) and the scripts in examples/callers/"
_TURN_FORMS = 'a turn is text, "" for silence, or {dtmf: "1"} for keys pressed'
_QUOTE_EXAMPLES = {"caller_number": "+4915112345678", "at": "2026-11-28T03:00:00+01:00"}


def load_script(path: Path, *, flow: Path | None = None, registry: Registry | None = None) -> CallerScript:
    """Read a caller script; raises :class:`FileError` naming file, line and fix for every problem.

    Besides the schema: the script's `flow:` must name a file, the names in
    `expect.fields` must be fields the flow can gather (its AI nodes' gathers
    and the installed gathers of ``registry``, default: the installed
    plugins), and `at` must be an ISO 8601 time. ``flow`` is the flow the
    script will run instead of its own (``voice-agent test --flow``): then
    `flow:` is not checked and the fields are checked against ``flow``.
    """
    path = Path(path)
    report = Reporter(str(path))
    data = read_yaml(path, report, top_keys="`turns:` (and `caller_number:`, `expect:`)")
    if data is None:
        raise FileError(report.problems)
    lines = path.read_text(encoding="utf-8").splitlines()
    script: CallerScript | None = None
    try:
        script = CallerScript.model_validate(plain(data))
    except ValidationError as exc:
        _schema_problems(exc.errors(), data, lines, report)
    _check_at(data, report)
    flow_path = _check_flow_key(data, path, flow, report)
    _check_fields(data, flow_path, registry, report)
    if report.problems or script is None:
        raise FileError(report.sorted())
    return script


# --- schema errors -----------------------------------------------------------------------


def _clean(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A pydantic loc as a path into the YAML: drop the union's member names."""
    return tuple(p for p in loc if p not in ("str", "DtmfTurn", "none"))


def _dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _source_value(lines: list[str], line: int | None, key: str) -> str | None:
    """The value of ``key`` as written on ``line`` (YAML may have turned it into a number or a time)."""
    if not line or line > len(lines):
        return None
    match = re.search(rf"(?:^|[\s{{,-]){re.escape(key)}\s*:\s*([^,}}\]#]*)", lines[line - 1])
    text = match.group(1).strip() if match else ""
    return text or None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (datetime, date, time)):
        return "date/time"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _schema_problems(errors: list[Any], data: Any, lines: list[str], report: Reporter) -> None:
    """One problem per thing wrong: a turn's union errors become one problem for that turn."""
    turns_done: set[int] = set()
    for err in errors:
        loc = _clean(tuple(err["loc"]))
        if len(loc) >= 2 and loc[0] == "turns" and isinstance(loc[1], int):
            if loc[1] not in turns_done:
                turns_done.add(loc[1])
                _turn_problem(loc[1], data, lines, report)
            continue
        _field_problem(err, loc, data, lines, report)


def _field_problem(err: Any, loc: tuple[Any, ...], data: Any, lines: list[str], report: Reporter) -> None:
    kind, value, line = err["type"], err.get("input"), line_at(data, loc)
    where = f"`{_dotted(loc)}`" if loc else "the script"
    if kind == "extra_forbidden":
        key = loc[-1]
        inside = loc[:-1]
        options = list(Expect.model_fields if inside == ("expect",) else CallerScript.model_fields)
        match = close_match(key, options)
        place = f"`{_dotted(inside)}`: " if inside else ""
        keys = f"`{_dotted(inside)}` has the keys {_EXPECT_FIELDS}" if inside else f"a script has the keys {_FIELDS}"
        report.add(
            line,
            f"{place}unknown key `{key}`" + (f"; did you mean `{match}`?" if match else ""),
            f"rename it to `{match}`" if match else f"remove it; {keys}",
        )
    elif kind == "string_type" and isinstance(value, (bool, int, float, datetime, date, time)):
        key = str(loc[-1])
        written = _source_value(lines, line, key) or str(value)
        what = {"caller_number": "a phone number", "at": "a time"}.get(key, "text")
        example = written if written.strip("'\"") == written else written.strip("'\"")
        report.add(
            line,
            f"{where}: {what} must be in quotes: YAML reads `{written}` as a {_kind(value)}"
            + (" (and drops the `+`)" if key == "caller_number" and written.startswith("+") else ""),
            f'quote it: `{key}: "{example}"`'
            + (f' (e.g. `{key}: "{_QUOTE_EXAMPLES[key]}"`)' if key in _QUOTE_EXAMPLES and example != _QUOTE_EXAMPLES[key] else ""),
        )
    elif kind == "string_type":
        report.add(line, f"{where}: expected text, got a {_kind(value)}", f"write one value in quotes; {_EXAMPLES}")
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        report.add(line, f"{where}: expected a mapping, got a {_kind(value)}", f"write it as indented `key: value` lines; {_EXAMPLES}")
    elif kind == "list_type":
        report.add(line, f"{where}: expected a list, got a {_kind(value)}", "write it as `[a, b]` or one `- item` line per entry")
    elif kind.startswith("bool_"):
        report.add(line, f"{where}: expected true or false (got {value!r})", "write `true` or `false`")
    else:
        report.add(line, f"{where}: {err['msg']}", _EXAMPLES)


def _turn_problem(i: int, data: Any, lines: list[str], report: Reporter) -> None:
    """What is wrong with ``turns[i]``, once (pydantic reports it once per member of the union)."""
    turns = data.get("turns")
    raw = turns[i] if isinstance(turns, list) and 0 <= i < len(turns) else None
    line = line_at(data, ("turns", i))
    where = f"`turns[{i}]`"
    if isinstance(raw, dict):
        extra = [k for k in raw if k != "dtmf"]
        if extra:
            match = close_match(extra[0], ["dtmf"])
            report.add(
                line_at(data, ("turns", i, extra[0])),
                f"{where}: unknown key `{extra[0]}`" + ("; did you mean `dtmf`?" if match else ""),
                "rename it to `dtmf`" if match else f"remove it; {_TURN_FORMS}",
            )
        elif "dtmf" not in raw:
            report.add(line, f"{where}: an empty mapping is not a turn", f"remove it; {_TURN_FORMS}")
        elif not isinstance(raw["dtmf"], str):
            value = raw["dtmf"]
            written = _source_value(lines, line_at(data, ("turns", i, "dtmf")), "dtmf") or str(value)
            report.add(
                line_at(data, ("turns", i, "dtmf")),
                f"{where}: the keys pressed must be in quotes: YAML reads `{written}` as a {_kind(value)}",
                f'quote them: `{{dtmf: "{written}"}}`' if isinstance(value, (int, float)) else
                'write the keys as text in quotes, e.g. `{dtmf: "1"}` or `{dtmf: "1234#"}`',
            )
        else:
            report.add(
                line_at(data, ("turns", i, "dtmf")),
                f"{where}: `dtmf` takes 1 to 32 of the keys 0-9, * and # (got {raw['dtmf']!r})",
                'keep only those keys, e.g. `{dtmf: "1234#"}`',
            )
    elif isinstance(raw, (bool, int, float, datetime, date, time)):
        written = str(raw)
        report.add(
            line,
            f"{where}: YAML reads `{written}` as a {_kind(raw)}, not as words the caller says",
            f'quote it: `- "{written}"`; for keys pressed write `- {{dtmf: "{written}"}}`',
        )
    else:
        report.add(line, f"{where}: a {_kind(raw)} is not a turn", f"write it as one line; {_TURN_FORMS}")


# --- checks beyond the schema ---------------------------------------------------------------


def _check_at(data: Any, report: Reporter) -> None:
    at = data.get("at")
    if not isinstance(at, str) or not at:
        return
    try:
        datetime.fromisoformat(at)
    except ValueError:
        report.add(
            line_at(data, ("at",)),
            f"`at`: not an ISO 8601 time (got {at!r})",
            f'write it like `at: "{_QUOTE_EXAMPLES["at"]}"` (date, `T`, time, offset)',
        )


def _check_flow_key(data: Any, path: Path, override: Path | None, report: Reporter) -> Path | None:
    """The flow the script runs, or None when its `flow:` names no file (reported at its line)."""
    if override is not None:
        return Path(override)
    written = data.get("flow")
    if not isinstance(written, str) or not written:
        return DEFAULT_FLOW if written is None else None
    target = path.parent / written
    line = line_at(data, ("flow",))
    try:
        if target.is_file():
            return target
        if target.is_dir():
            report.add(line, f"`flow`: {written} is a folder, not a flow file", "give the path of the flow's .yaml file")
            return None
        folder = target.parent
        candidates = sorted(p.name for p in folder.glob("*.y*ml")) if folder.is_dir() else []
        looked = target.resolve()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, a loop of links
        report.add(line, f"`flow`: {written!r} is not a usable path ({exc})", "give the flow file's path relative to this script's folder")
        return None
    match = close_match(target.name, candidates)
    fixed = str(Path(written).parent / match) if match else None
    report.add(
        line,
        f"`flow`: {written} not found (looked for {looked})" + (f"; did you mean `{fixed}`?" if fixed else ""),
        f"change it to `{fixed}`" if fixed else
        f"give the flow file's path relative to this script's folder ({path.resolve().parent}), or remove `flow:` "
        "to run the example hotline",
    )
    return None


def _flow_gathers(flow_path: Path) -> set[str] | None:
    """The names of the gathers the flow's AI nodes declare, read leniently; None when the flow is unreadable."""
    data = read_yaml(flow_path, Reporter(str(flow_path)))
    nodes = data.get("nodes") if data is not None else None
    if not isinstance(nodes, dict):
        return None
    names: set[str] = set()
    for node in nodes.values():
        if not isinstance(node, dict) or node.get("type") != "ai_agent":
            continue
        gathers = node.get("gathers")
        for gather in gathers if isinstance(gathers, list) else []:
            name = gather.get("name") if isinstance(gather, dict) else gather
            if isinstance(name, str):
                names.add(name)
    return names


def _check_fields(data: Any, flow_path: Path | None, registry: Registry | None, report: Reporter) -> None:
    """Names in `expect.fields` that no gather of the flow (or installed gather) fills: always a mismatch."""
    expect = data.get("expect")
    fields = expect.get("fields") if isinstance(expect, dict) else None
    if not isinstance(fields, dict) or not fields or flow_path is None:
        return
    declared = _flow_gathers(flow_path)
    if declared is None:
        return  # the flow's own problems are reported when it is loaded
    if registry is None:
        from agent.core.registry import default_registry

        registry = default_registry()
    known = declared | set(registry.gathers)
    for name in fields:
        if isinstance(name, str) and name in known:
            continue
        match = close_match(name, sorted(declared) + sorted(set(registry.gathers) - declared))
        report.add(
            line_at(data, ("expect", "fields", name)),
            f"`expect.fields`: unknown field `{name}`" + (f"; did you mean `{match}`?" if match else ""),
            f"rename it to `{match}`" if match else f"use one of the fields this flow can gather: {', '.join(sorted(known))}",
        )


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
