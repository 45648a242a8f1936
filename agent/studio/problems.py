"""The flow's problems as ``flow validate`` prints them, placed on the node and field they concern.

The checks are the loader's (:func:`agent.flow.loader.check_flow`) on the
edited text; each problem's line is mapped back to the deepest key written on
that line, and a message naming a field the file does not have yet (a
missing key) is placed on that field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from agent.core.registry import Registry
from agent.core.settings import Settings
from agent.flow.loader import check_flow
from agent.flow.models import Flow
from agent.flow.yamlfile import FileProblem, Reporter, read_yaml


def paths_at_line(data: Any, line: int) -> list[list[Any]]:
    """The paths of every key or list item written on ``line`` (1-based), shallowest first.

    Several when a mapping starts on the line (``- type: static``, ``bye: {type: hangup}``).
    """
    found: list[list[Any]] = []

    def walk(node: Any, path: list[Any]) -> None:
        if isinstance(node, CommentedMap):
            items = [(k, node.lc.key(k)[0] + 1) for k in node]
        elif isinstance(node, CommentedSeq):
            items = [(i, node.lc.item(i)[0] + 1) for i in range(len(node))]
        else:
            return
        for key, at in items:
            here = [*path, str(key) if isinstance(node, CommentedMap) else key]
            if at == line:
                found.append(here)
            if at <= line:
                walk(node[key], here)

    try:
        walk(data, [])
    except (AttributeError, KeyError, IndexError, TypeError):  # a line-less value (an alias, a merge key)
        pass
    return sorted(found, key=len)


def _mentioned(key: Any, message: str) -> bool:
    return any(re.search(rf"\b{re.escape(str(key))}\b", quoted) for quoted in re.findall(r"`([^`]+)`", message))


def path_at_line(data: Any, line: int, message: str = "") -> list[Any]:
    """The path a problem reported at ``line`` is about: the deepest key written there, or the mapping or
    list item that starts on the same line when the message is about it (it does not name the key)."""
    candidates = paths_at_line(data, line)
    while len(candidates) > 1 and not _mentioned(candidates[-1][-1], message):
        candidates.pop()
    return candidates[-1] if candidates else []


_NAMED = re.compile(r"^(?:node `(?P<node>[^`]+)`(?:, `(?P<field>[^`]+)`)?|`(?P<top>[^`]+)`)")
_MISSING = re.compile(r"missing required key `(?P<key>[^`]+)`")
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _dotted_path(text: str) -> list[Any]:
    return [int(index) if index else name for name, index in _PART.findall(text)]


def place(problem: FileProblem, data: Any) -> dict[str, Any]:
    """A problem as the page shows it: message, fix, line, and the node and field path it belongs to."""
    path = path_at_line(data, problem.line, problem.message) if problem.line and data is not None else []
    named = _NAMED.match(problem.message)
    if named and named.group("node"):
        field = _dotted_path(named.group("field")) if named.group("field") else []
        missing = _MISSING.search(problem.message)
        if missing:
            field = [*field, missing.group("key")]
        if field or path[:2] != ["nodes", named.group("node")]:
            path = ["nodes", named.group("node"), *field]
    elif named and named.group("top") and not path:
        path = _dotted_path(named.group("top"))
    elif not path and (missing := _MISSING.search(problem.message)):
        path = [missing.group("key")]
    node = str(path[1]) if len(path) >= 2 and path[0] == "nodes" else None
    return {
        "line": problem.line,
        "message": problem.message,
        "fix": problem.fix,
        "text": str(problem),
        "node": node,
        "field": path[2:] if node is not None else path,
    }


def check_text(path: Path, text: str, registry: Registry, settings: Settings | None = None) -> tuple[Flow | None, list[dict[str, Any]]]:
    """The loader's checks on ``text`` as if it were saved at ``path``: the flow (None unless it validates), placed problems."""
    flow, problems = check_flow(path, registry, settings, text=text)
    data = read_yaml(path, Reporter(str(path)), text=text)
    return (flow if not problems else None), [place(p, data) for p in problems]
