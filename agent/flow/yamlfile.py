"""YAML files written by hand: read them keeping line numbers, and report problems as file:line + fix.

Shared by flows and caller scripts, so both point at the line to change.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

MAX_YAML_BYTES = 1024 * 1024  # a flow or caller script is a few KB; refuse before parsing
# The YAML scanner slows down with the square of `[`/`{` nesting, so that is checked on the text first.
MAX_YAML_FLOW_DEPTH = 64
MAX_YAML_DEPTH = 64  # nesting of the loaded data (an alias inside itself is infinitely deep)
MAX_YAML_VALUES = 100_000  # values once aliases are expanded ("billion laughs")


@dataclass(frozen=True)
class FileProblem:
    """One thing wrong with a YAML file, where it is and what to do about it."""

    file: str
    line: int | None
    message: str
    fix: str
    warning: bool = False  # works, but the caller loses something (e.g. a model backend's limits)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        message = self.message.rstrip(".")
        stop = "" if message.endswith(("?", "!")) else "."
        return f"{where}: {'warning: ' if self.warning else ''}{message}{stop} Fix: {self.fix}"


class FileError(Exception):
    """A file that cannot be used; carries every problem found."""

    def __init__(self, problems: Sequence[FileProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Reporter:
    """Collects problems for one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[FileProblem] = []
        self.warnings: list[FileProblem] = []  # not problems: the file still loads

    def add(self, line: int | None, message: str, fix: str) -> None:
        self.problems.append(FileProblem(self.file, line, message, fix))

    def warn(self, line: int | None, message: str, fix: str) -> None:
        self.warnings.append(FileProblem(self.file, line, message, fix, warning=True))

    def sorted(self) -> list[FileProblem]:
        return sorted(self.problems, key=lambda p: p.line or 0)


class _Constructor(RoundTripConstructor):
    """The round-trip constructor, noting duplicate keys (both lines) instead of stopping at the first.

    ruamel.yaml's own error names the line where the *mapping* starts as the
    first occurrence; here the first key's own line is kept. The first value
    wins, so the rest of the file can still be checked in the same run.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.duplicates: list[tuple[int, Any, int | None]] = []  # (line, key, line of the first one)

    def check_mapping_key(self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any) -> bool:
        if key not in mapping:
            return True
        first: int | None = None
        try:
            first = mapping.lc.key(key)[0] + 1
        except (AttributeError, KeyError, TypeError, IndexError):
            first = node.start_mark.line + 1 if node.start_mark else None
        self.duplicates.append((key_node.start_mark.line + 1, key, first))
        return False


def read_yaml(
    path: Path, report: Reporter, *, top_keys: str = "`name:`, `start:` and `nodes:`", text: str | None = None
) -> CommentedMap | None:
    """Parse the file with the round-trip loader (``text``: its unsaved contents); problems go to ``report``."""
    try:
        if text is None:
            text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        report.add(None, "file not found", "check the path of the YAML file")
        return None
    except IsADirectoryError:
        report.add(None, "is a folder, not a flow file", "pass the path of a .yaml file")
        return None
    except UnicodeDecodeError as exc:
        report.add(None, f"not UTF-8 text ({exc.reason})", "save the file as UTF-8")
        return None
    except OSError as exc:
        report.add(None, f"cannot read the file ({exc.strerror or exc})", "check that it exists and is readable")
        return None
    if len(text) > MAX_YAML_BYTES:
        report.add(None, f"the file is too large ({len(text)} characters; at most {MAX_YAML_BYTES})", "split it or remove what is not needed")
        return None
    deep_line = _flow_nesting_too_deep(text)
    if deep_line is not None:
        report.add(
            deep_line,
            f"`[` and `{{` are nested more than {MAX_YAML_FLOW_DEPTH} levels deep",
            "close the brackets, or write the data as indented `key: value` and `- item` lines",
        )
        return None
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        data = yaml.load(text)
    except DuplicateKeyError as exc:  # in a `!!set`: mappings are handled by _Constructor
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        first = f" (in the set that starts at line {exc.context_mark.line + 1})" if exc.context_mark else ""
        report.add(line, f"{exc.problem}{first}", "remove one of the two entries")
        return None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        where = ""
        if exc.context and exc.context_mark and exc.context_mark is not mark:
            where = f" ({exc.context} that starts at line {exc.context_mark.line + 1})"
        report.add(
            line,
            f"not valid YAML: {exc.problem or exc.context}{where}",
            "check indentation (spaces, not tabs), closing brackets and quotes near this line; "
            "quote text that contains `: `, `#` or starts with `{`, `[`, `*`, `&` or `!`",
        )
        return None
    except YAMLError as exc:
        report.add(None, f"not valid YAML: {exc}", "check the file's YAML syntax")
        return None
    except RecursionError:
        report.add(None, "not valid YAML: nested too deeply", f"keep the nesting under {MAX_YAML_DEPTH} levels")
        return None
    except (ValueError, TypeError, OverflowError, IndexError) as exc:  # a typed scalar that does not convert: 2026-13-45, +_ (ruamel)
        report.add(
            None, f"not valid YAML: a value cannot be read ({type(exc).__name__}: {exc})",
            "quote dates, times and other values that should stay text",
        )
        return None
    for line, key, first in yaml.constructor.duplicates:
        shown = str(key) if len(str(key)) <= 60 else str(key)[:57] + "..."
        report.add(
            line,
            f"duplicate key `{shown}`" + (f" (the first one is at line {first})" if first else "")
            + "; only the first one is read",
            "remove or rename one of the two keys",
        )
    oversized = _too_big(data)
    if oversized:
        report.add(None, oversized, "write the values out instead of nesting aliases (`*name`), and keep the file small")
        return None
    if not isinstance(data, CommentedMap):
        if data is None:
            report.add(1, "the file is empty", f"write the top-level keys: {top_keys}")
        else:
            line = data.lc.line + 1 if isinstance(data, CommentedSeq) else 1
            report.add(
                line,
                f"the top level is a {_yaml_kind(data)}, not a mapping",
                f"write keys at the top level: {top_keys}",
            )
        return None
    return data


def _flow_nesting_too_deep(text: str) -> int | None:
    """The line where `[`/`{` nesting passes the limit (brackets in quotes count too: an upper bound), or None."""
    depth = 0
    line = 1
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > MAX_YAML_FLOW_DEPTH:
                return line
        elif ch in "]}":
            depth = max(0, depth - 1)
        elif ch == "\n":
            line += 1
    return None


def _too_big(data: Any) -> str | None:
    """Why the loaded data is too deep or too large once aliases are expanded, or None."""
    budget = MAX_YAML_VALUES

    def walk(value: Any, depth: int) -> str | None:
        nonlocal budget
        budget -= 1
        if budget < 0:
            return f"the file holds more than {MAX_YAML_VALUES} values once its aliases are expanded"
        if depth > MAX_YAML_DEPTH:
            return f"the data is nested more than {MAX_YAML_DEPTH} levels deep (or an alias refers to itself)"
        children = [*value.keys(), *value.values()] if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
        for child in children:
            why = walk(child, depth + 1)
            if why:
                return why
        return None

    return walk(data, 0)


def _yaml_kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def plain(value: Any) -> Any:
    """Round-trip YAML types -> plain Python, so validation sees ordinary dicts, lists and scalars."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def _find_key(mapping: dict[Any, Any], key: Any) -> tuple[bool, Any]:
    """The YAML key matching a validation loc element (`5:` in YAML is loc '5' after coercion)."""
    if key in mapping:
        return True, key
    for k in mapping:
        if str(k) == str(key):
            return True, k
    return False, None


def close_match(word: Any, options: Iterable[str]) -> str | None:
    """The option a typo most likely meant, if any."""
    options = [str(o) for o in options]
    word = str(word)
    lowered = {o.lower(): o for o in options}
    if word.lower() in lowered:
        return lowered[word.lower()]
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if match:
        return match[0]
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def line_at(data: Any, path: Iterable[Any]) -> int | None:
    """1-based line of the deepest element of ``path`` present in ``data``."""
    line = data.lc.line + 1 if isinstance(data, (CommentedMap, CommentedSeq)) else None
    current = data
    for key in path:
        if isinstance(current, CommentedMap):
            found, real = _find_key(current, key)
            if not found:
                break
            line = current.lc.key(real)[0] + 1
            current = current[real]
        elif isinstance(current, CommentedSeq) and isinstance(key, int) and 0 <= key < len(current):
            line = current.lc.item(key)[0] + 1
            current = current[key]
        else:
            break
    return line
