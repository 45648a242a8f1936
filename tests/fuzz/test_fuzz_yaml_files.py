"""Fuzz: hand-written YAML files — flows (check_flow / load_flow) and caller scripts (load_script).

Whatever the file holds, the only exception is the project's FileError,
whose every problem names the file and (when it has one) a line in it.
"""

from __future__ import annotations

import copy
import tempfile
from io import StringIO
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from agent.flow.loader import check_flow, load_flow
from agent.core.registry import load_registry
from agent.simulation.scripts import load_script
from agent.flow.yamlfile import MAX_YAML_BYTES, FileError
from tests.conftest import EXAMPLES, HOTLINE
from tests.fuzz.strategies import cases, json_values, nasty_text

REGISTRY = load_registry()
HOTLINE_TEXT = HOTLINE.read_text()
HOTLINE_LINES = HOTLINE_TEXT.splitlines()
SCRIPTS = sorted((EXAMPLES / "callers").glob("*.yaml"))
SCRIPT_TEXTS = [p.read_text() for p in SCRIPTS]
_dir = tempfile.TemporaryDirectory(prefix="fuzz-yaml-")
WORK = Path(_dir.name)

TOKENS = [
    "name:", "start:", "nodes:", "type:", "next:", "intents:", "gathers:", "- ", "  ", "    ", "\t", ": ", ":", "-",
    "{", "}", "[", "]", ",", "'", '"', "#", "&a ", "*a", "*b", "&b ", "!!python/object:os.system ", "!!str ", "!!binary ",
    "!!timestamp ", "? ", "|", ">", "---", "...", "%YAML 1.1", "<<: *a", "null", "~", "yes", "no", "0x1F", "1e400",
    "2026-13-45", "12:30", "\\", "\x00", "\x85", "\ufeff", "é", "💥", "hangup", "ai_agent", "route_call", "screen", "\n",
]
yamlish = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=6)), max_size=40).map("".join)


@st.composite
def mutated(draw: st.DrawFn, lines: list[str]) -> str:
    out = list(lines)
    for _ in range(draw(st.integers(1, 4))):
        if not out:
            out.append(draw(yamlish))
            continue
        i = draw(st.integers(0, len(out) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "indent", "dedent", "replace_value", "insert", "truncate", "tab"]))
        if op == "delete":
            del out[i]
        elif op == "duplicate":
            out.insert(i, out[i])
        elif op == "swap":
            j = draw(st.integers(0, len(out) - 1))
            out[i], out[j] = out[j], out[i]
        elif op == "indent":
            out[i] = "  " + out[i]
        elif op == "dedent":
            out[i] = out[i][2:]
        elif op == "replace_value":
            key, sep, _ = out[i].partition(":")
            out[i] = key + (sep or ":") + " " + draw(st.one_of(yamlish, nasty_text.map(lambda t: t.replace("\n", " "))))
        elif op == "insert":
            out.insert(i, draw(yamlish))
        elif op == "truncate":
            out = out[:i] + [out[i][: draw(st.integers(0, len(out[i])))]]
        else:
            out[i] = out[i].replace("  ", "\t", 1)
    return "\n".join(out) + "\n"


def _load(text: str) -> Any:
    return YAML(typ="safe").load(text)


def _dump(data: Any) -> str:
    stream = StringIO()
    YAML(typ="safe").dump(data, stream)
    return stream.getvalue()


HOTLINE_DATA = _load(HOTLINE_TEXT)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


HOTLINE_PATHS = _paths(HOTLINE_DATA)[1:]


@st.composite
def structurally_mutated(draw: st.DrawFn) -> str:
    """The example flow with values swapped for random ones: reaches the schema and graph checks."""
    data = copy.deepcopy(HOTLINE_DATA)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(HOTLINE_PATHS))
        parent = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.booleans()):
                parent[path[-1]] = draw(json_values(6))
            else:
                del parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
    return _dump(data)


flow_texts = st.one_of(
    mutated(HOTLINE_LINES),
    structurally_mutated(),
    yamlish,
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
)


def check_problems(path: Path, problems: list[Any], text: str) -> None:
    lines = max(1, text.count("\n") + 1)
    for p in problems:
        assert p.file == str(path), p
        assert p.line is None or 1 <= p.line <= lines + 1, (p, lines)
        assert p.message and p.fix


def write(name: str, text: str | bytes) -> Path:
    path = WORK / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


@cases(450)
@given(flow_texts)
@example("+_")  # ruamel.yaml's int constructor raised IndexError on it (found by this test)
@example("start: -0x")
def test_a_flow_file_is_a_flow_or_file_problems(text: str) -> None:
    path = write("flow.yaml", text)
    flow, problems = check_flow(path, REGISTRY)  # load_flow is check_flow + raise FileError (tested below)
    check_problems(path, problems, text)
    assert flow is not None or problems


@cases(400)
@given(st.one_of(
    st.sampled_from(range(len(SCRIPT_TEXTS))).flatmap(lambda i: mutated(SCRIPT_TEXTS[i].splitlines())),
    yamlish,
    st.builds(lambda v: _dump({"turns": v}), json_values(8)),
    st.builds(lambda v: _dump({"expect": v, "turns": ["hi"]}), json_values(8)),
    st.dictionaries(st.sampled_from(["description", "flow", "caller_number", "at", "answer_calls", "turns", "expect"]),
                    json_values(5), max_size=4).map(_dump),
))
def test_a_caller_script_is_a_script_or_file_problems(text: str) -> None:
    path = write("caller.yaml", text)
    try:
        load_script(path)
    except FileError as exc:
        check_problems(path, exc.problems, text)


LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9)
)

HOSTILE = {
    "billion_laughs": LAUGHS,
    "self_alias": "name: x\nstart: a\nnodes: &n {a: *n}\n",
    "self_alias_seq": "name: x\nstart: a\nnodes: &n [*n]\n",
    "deep_flow": "name: x\nstart: a\nnodes: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep_block": "name: x\n" + "".join("  " * i + f"k{i}:\n" for i in range(700)),
    "complex_key": "name: x\nstart: a\nnodes:\n  ? [a, b]\n  : {type: hangup}\n",
    "complex_key_map": "? {a: 1}\n: x\n",
    "huge": "name: " + "x" * (MAX_YAML_BYTES + 10) + "\n",
    "python_tag": "name: !!python/object/apply:os.system [echo hi]\n",
    "bad_timestamp": "name: x\nstart: 2026-13-45\nnodes: {}\n",
    "bad_binary": "name: !!binary '***'\n",
    "bom_nul": "\ufeffname: \x00\n",
    "merge_list": "a: &a {type: hangup}\nnodes:\n  x:\n    <<: [*a, 3]\n",
}


def test_hostile_files_are_refused_with_a_file_problem() -> None:
    for label, text in HOSTILE.items():
        path = write(f"{label}.yaml", text)
        flow, problems = check_flow(path, REGISTRY)
        assert flow is None and problems, label
        check_problems(path, problems, text)
        try:
            load_flow(path, REGISTRY)
        except FileError as exc:
            assert exc.problems == problems
        try:
            load_script(path)
        except FileError as exc:
            check_problems(path, exc.problems, text)


def test_not_utf8_and_not_a_file() -> None:
    path = write("latin1.yaml", "name: caf\xe9\n".encode("latin-1"))
    _, problems = check_flow(path, REGISTRY)
    assert "UTF-8" in problems[0].message
    _, problems = check_flow(WORK, REGISTRY)
    assert problems and problems[0].line is None
