"""Loading a flow YAML file and checking it, with a file:line and a fix hint for every problem.

A flow is written by hand and read by a phone system at 3 a.m., so the
checks here try to catch every mistake before a caller does: schema errors,
branches into nowhere, nodes nobody reaches, loops no caller can leave,
plugins that are not installed, bad time zones and patterns. All problems
are reported at once, each at the line of the key that causes it (the
round-trip YAML loader keeps line numbers).
"""

from __future__ import annotations

import difflib
import re
import types
import zoneinfo
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from ruamel.yaml.comments import CommentedMap

from agent.flow.models import NODE_TYPES, AiAgentNode, Flow, Node, SupportHoursNode
from agent.flow.yamlfile import FileError as FlowError
from agent.flow.yamlfile import FileProblem as FlowProblem
from agent.flow.yamlfile import Reporter, close_match, line_at, plain, read_yaml

if TYPE_CHECKING:
    from agent.core.registry import Registry
    from agent.core.settings import Settings

Loc = tuple[Any, ...]


def load_flow(path: str | Path, registry: Registry | None = None, settings: Settings | None = None) -> Flow:
    """Read and check a flow; raise :class:`FlowError` listing every problem.

    Without a registry the installed plugins (``default_registry()``) are used;
    ``settings`` (default: the process's) are what the plugins and model backends are checked with.
    """
    if registry is None:
        from agent.core.registry import default_registry

        registry = default_registry()
    flow, problems = check_flow(path, registry, settings)
    if problems or flow is None:
        raise FlowError(problems)
    return flow


def check_flow(
    path: str | Path, registry: Registry, settings: Settings | None = None, *, text: str | None = None,
    warnings: list[FlowProblem] | None = None,
) -> tuple[Flow | None, list[FlowProblem]]:
    """Check a flow file without raising.

    ``text``: the file's contents as edited but not saved (the studio checks as
    you type); ``path`` still names the file and its folder, where relative
    paths in the flow are read from.

    Returns the flow when it passed the schema (it may still have graph or
    plugin problems) or None when it could not be read, and all problems
    found, in line order. When the schema fails, the graph, plugin and value
    checks still run on what did pass (see :func:`_check_partial`), so one run
    reports everything. ``warnings``, if given, receives what works but costs
    callers something (a model backend's limits), in line order.
    """
    path = Path(path)
    report = Reporter(str(path))
    try:
        return _check_flow(path, registry, settings, text, report)
    finally:
        if warnings is not None:
            warnings.extend(sorted(report.warnings, key=lambda p: p.line or 0))


def _check_flow(
    path: Path, registry: Registry, settings: Settings | None, text: str | None, report: Reporter,
) -> tuple[Flow | None, list[FlowProblem]]:
    data = read_yaml(path, report, text=text)
    if data is None:
        return None, report.problems
    base_dir = path.resolve().parent
    try:
        flow = Flow.model_validate(plain(data))
    except ValidationError as exc:
        errors = exc.errors()
        for err in errors:
            _schema_problem(err, data, report)
        _check_partial(data, [tuple(err["loc"]) for err in errors], registry, base_dir, settings, report)
        return None, report.sorted()
    except (TypeError, AttributeError, KeyError, IndexError, RecursionError) as exc:
        # A model validator that did not expect this shape: still a problem with the file, not a crash.
        report.add(
            _line_of_exception(exc, data), f"{INTERNAL_CHECK_FAILED} ({type(exc).__name__}: {str(exc)[:200]})",
            "compare the file with examples/flows/hotline.yaml and docs/flows.md; a list or mapping is probably "
            "written where a single value belongs (or the other way round)",
        )
        _check_partial(data, [], registry, base_dir, settings, report)
        return None, report.sorted()
    _check_graph(flow.nodes, flow.start, data, report)
    _check_plugins(flow, data, registry, base_dir, settings, report)
    _check_values(flow, data, report)
    return flow, report.sorted()


def _check_partial(
    data: CommentedMap,
    error_locs: list[Loc],
    registry: Registry,
    base_dir: Path,
    settings: Settings | None,
    report: Reporter,
) -> None:
    """The graph, plugin and value checks on the parts of a flow that passed the schema.

    Nodes are validated one by one: the valid ones take part in every check.
    A node that failed its schema (already reported) still counts as existing,
    so branches to it are not dangling; its branches are taken to be every
    node id written anywhere in it, and it is taken to be able to end the
    call, so it causes no unreachable or loop reports of its own. `start` is
    checked only when it passed its own schema, and nothing graph-wise when
    `nodes` itself is broken.
    """
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, dict) or any(loc[:1] == ("nodes",) and len(loc) == 1 for loc in error_locs):
        return
    ids = [str(nid) for nid in raw_nodes]
    valid: dict[str, Node] = {}
    opaque: dict[str, set[str]] = {}
    for nid, raw in raw_nodes.items():
        try:
            if not isinstance(nid, str) or any(loc[:2] == ("nodes", nid) for loc in error_locs):
                raise ValueError(nid)
            valid[nid] = _NODE_ADAPTER.validate_python(plain(raw))
        except Exception:  # noqa: BLE001 - any failure here is the schema error already reported
            opaque[str(nid)] = _ids_in(raw, set(ids))
    start = data.get("start")
    if not isinstance(start, str) or any(loc[:1] == ("start",) for loc in error_locs):
        start = None
    _check_graph(valid, start, data, report, ids=ids, opaque=opaque)
    partial = Flow.model_construct(nodes=valid)
    for check in (
        lambda: _check_plugins(partial, data, registry, base_dir, settings, report),
        lambda: _check_values(partial, data, report),
    ):
        try:
            check()
        except Exception:  # noqa: BLE001, S112 - a half-valid flow must not crash validation; the schema errors stand
            continue


def _ids_in(raw: Any, ids: set[str]) -> set[str]:
    """Every node id written as a value anywhere in ``raw`` (a broken node's possible branches)."""
    found: set[str] = set()
    todo = [raw]
    seen: set[int] = set()
    while todo:
        value = todo.pop()
        if isinstance(value, str):
            if value in ids:
                found.add(value)
        elif isinstance(value, (dict, list)) and id(value) not in seen:
            seen.add(id(value))
            todo.extend(value.values() if isinstance(value, dict) else value)
    return found


# --- reporting and YAML positions ------------------------------------------------

INTERNAL_CHECK_FAILED = "the flow has a value of an unexpected kind that the checks could not read"


def _line_of_exception(exc: BaseException, data: CommentedMap) -> int | None:
    """The line of the first node whose own validation fails the same way, else None."""
    nodes = data.get("nodes")
    if not isinstance(nodes, dict):
        return None
    for nid, raw in nodes.items():
        try:
            _NODE_ADAPTER.validate_python(plain(raw))
        except type(exc):
            return line_at(data, ("nodes", nid))
        except Exception:  # noqa: BLE001, S112 - a schema error in this node; not the one looked for
            continue
    return None


def _close(word: Any, options: Iterable[str]) -> str | None:
    """The option a typo most likely meant, if any."""
    return close_match(word, options)


def _did_you_mean(match: str | None) -> str:
    return f"; did you mean `{match}`?" if match else ""


def _listing(names: Iterable[str]) -> str:
    names = sorted(names)
    return ", ".join(names) if names else "(none installed)"


# --- schema errors ------------------------------------------------------------------


def _data_path(loc: Loc) -> Loc:
    """A pydantic error loc as a path into the YAML data: drop union tags and ``[key]`` markers."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        if i == 2 and loc[0] == "nodes" and part in NODE_TYPES:
            continue  # discriminated union: pydantic adds the tag after the node id
        if part == "[key]" or (isinstance(part, str) and part.startswith("function-")):
            continue
        out.append(part)
    return tuple(out)


def _dotted(path: Loc) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _where(path: Loc) -> str:
    """How a message names a place: ``node `greet``` or a dotted path."""
    if len(path) >= 2 and path[0] == "nodes":
        rest = _dotted(path[2:])
        return f"node `{path[1]}`" + (f", `{rest}`" if rest else "")
    return f"`{_dotted(path)}`" if path else "the flow"


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``| None`` from a type."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _node_classes() -> dict[str, type[BaseModel]]:
    union = _unwrap(Node)
    return {get_args(cls.model_fields["type"].annotation)[0]: cls for cls in get_args(union)}


_NODE_CLASSES = _node_classes()
_NODE_ADAPTER: TypeAdapter[Any] = TypeAdapter(Node)


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The pydantic model a (raw) error loc points into, following field types from :class:`Flow`."""
    tp: Any = Flow
    for part in loc:
        tp = _unwrap(tp)
        origin = get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            tp = field.annotation
        elif origin in (Union, types.UnionType):
            tp = _NODE_CLASSES.get(part)
            if tp is None:
                return None
        elif origin is list:
            tp = get_args(tp)[0]
        elif origin is dict:
            tp = get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


_NEEDS = re.compile(r"\bneeds (.+)$")


def _schema_problem(err: Any, data: CommentedMap, report: Reporter) -> None:
    """Turn one pydantic error into a problem at the line of the offending key."""
    loc: Loc = tuple(err["loc"])
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    path = _data_path(loc)
    line = line_at(data, path)
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value = err.get("input")
    got = f" (got {value!r})" if isinstance(value, (str, int, float, bool)) and kind != "missing" else ""

    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        fields = [f for f in (model.model_fields if model else {}) if f != "type"]
        match = _close(path[-1], fields)
        report.add(
            line,
            f"{_where(path[:-1])}: unknown key `{path[-1]}`{_did_you_mean(match)}",
            f"rename it to `{match}`" if match else f"remove it; keys allowed here: {_listing(fields)}",
        )
    elif kind == "union_tag_invalid":
        tag = ctx.get("tag", value)
        match = _close(tag, NODE_TYPES)
        report.add(
            line_at(data, (*path, "type")),
            f"{_where(path)}: unknown node type `{tag}`{_did_you_mean(match)}",
            (f"change it to `{match}`; " if match else "") + f"valid types: {', '.join(NODE_TYPES)}",
        )
    elif kind == "union_tag_not_found":
        report.add(line, f"{_where(path)} has no `type`", f"add `type:` with one of: {', '.join(NODE_TYPES)}")
    elif kind == "missing":
        model = _model_at(loc[:-1])
        field = model.model_fields.get(path[-1]) if model else None
        about = f" ({field.description})" if field is not None and field.description else ""
        hint = "<id of the first node>" if path == ("start",) else "..."
        what = f"{_where(path[:-1])}: missing required key" if path[:-1] else "missing required top-level key"
        report.add(line, f"{what} `{path[-1]}`", f"add `{path[-1]}: {hint}`{about}")
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        example = f"`{path[1]}: {{type: hangup}}`" if len(path) == 2 and path[0] == "nodes" else "`key: value` lines"
        report.add(line, f"{_where(path)}: expected a mapping{got}", f"write it as {example}")
    elif kind == "list_type":
        report.add(line, f"{_where(path)}: expected a list{got}", "write it as `[a, b]` or one `- item` line per entry")
    elif kind == "literal_error":
        expected = ctx.get("expected", "")
        options = re.findall(r"'([^']*)'", expected)
        match = _close(value, options) if value is not None else None
        report.add(
            line,
            f"{_where(path)}: {msg}{got}",
            (f"change it to `{match}`; " if match and match != value else "") + f"use one of: {', '.join(options) or expected}",
        )
    elif kind in ("value_error", "assertion_error"):
        needs = _NEEDS.search(msg)
        problem, _, fix = msg.partition("; ")  # validators write "what is wrong; what to do"
        if needs:
            report.add(line, f"{_where(path)}: {msg}", f"add {needs.group(1)}")
        else:
            report.add(line, f"{_where(path)}: {problem}", fix or f"change the value: {msg}")
    elif kind.startswith("time_"):
        report.add(
            line,
            f"{_where(path)}: not a time of day{got}",
            'write it as "HH:MM" in quotes, e.g. "08:00" ("24:00" for the end of the day)',
        )
    elif kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        fix = (
            "use lowercase letters, digits and `_`, starting with a letter"
            if pattern == r"^[a-z][a-z0-9_]*$"
            else f"make it match the pattern `{pattern}`"
        )
        report.add(line, f"{_where(path)}: {msg}{got}", fix)
    elif kind == "string_too_long":
        limit = ctx.get("max_length")
        report.add(
            line, f"{_where(path)}: {len(value) if isinstance(value, str) else 'too many'} characters, more than Twilio's <Say> takes ({limit})",
            "shorten it, or split it over several nodes (audio_message: text)",
        )
    elif kind == "string_type":
        report.add(line, f"{_where(path)}: expected text{got}", "quote the value so YAML reads it as text")
    elif kind.startswith(("int_", "float_", "decimal_")):
        report.add(line, f"{_where(path)}: expected a number{got}", "write a plain number without quotes or units")
    elif kind.startswith("bool_"):
        report.add(line, f"{_where(path)}: expected true or false{got}", "write `true` or `false`")
    elif kind == "too_short":
        need = ctx.get("min_length", 1)
        report.add(line, f"{_where(path)}: {msg}", f"add at least {need} entr{'y' if need == 1 else 'ies'}")
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        report.add(line, f"{_where(path)}: {msg}{got}", "use a value that " + msg.removeprefix("Input should ").replace("be ", "is ", 1))
    else:
        report.add(line, f"{_where(path)}: {msg}{got}", f"change the value: {msg}")


# --- graph checks ----------------------------------------------------------------------


def _branch_path(outcome: str) -> Loc:
    """Where a branch outcome (as ``Node.branches()`` names it) is written in the node's YAML."""
    if outcome.startswith("intent "):
        return ("intents", outcome.removeprefix("intent "))
    if outcome.startswith("key "):
        return ("options", outcome.removeprefix("key "))
    return (outcome,)


def _check_graph(
    nodes: dict[str, Node],
    start: str | None,
    data: CommentedMap,
    report: Reporter,
    *,
    ids: list[str] | None = None,
    opaque: dict[str, set[str]] | None = None,
) -> None:
    """Dangling branches, a bad `start`, unreachable nodes and loops with no way to end the call.

    ``ids`` are all node ids in file order (default: ``nodes``); ``opaque`` maps
    the ids of nodes that failed their schema to the ids written in them (see
    :func:`_check_partial`). With no ``start``, only dangling branches are checked.
    """
    opaque = opaque or {}
    ids = list(nodes) if ids is None else ids
    known = set(ids)

    def node_line(nid: str) -> int | None:
        return line_at(data, ("nodes", nid))

    edges: dict[str, list[str]] = {nid: sorted(targets) for nid, targets in opaque.items()}
    ends: set[str] = set(opaque)  # what a broken node does is unknown: no loop is blamed on it
    for nid, node in nodes.items():
        edges[nid] = []
        if node.ends_call:
            ends.add(nid)
        for outcome, target in node.branches().items():
            if target is None:
                ends.add(nid)
            elif target in known:
                edges[nid].append(target)
            else:
                ends.add(nid)  # already reported here; not also a loop
                match = _close(target, ids)
                report.add(
                    line_at(data, ("nodes", nid, *_branch_path(outcome))),
                    f"node `{nid}`: branch `{outcome}` points to `{target}`, which is not a node{_did_you_mean(match)}",
                    f"change it to `{match}`" if match else
                    f"use one of the node ids ({', '.join(ids)}) or leave it empty to end the call there",
                )
    if start is None:
        return
    if start not in known:
        match = _close(start, ids)
        report.add(
            line_at(data, ("start",)),
            f"`start` points to `{start}`, which is not a node{_did_you_mean(match)}",
            f"change it to `{match}`" if match else f"set it to one of: {', '.join(ids)}",
        )
        return
    reachable = _reach(start, edges) | {start}
    for nid in ids:
        if nid not in reachable:
            report.add(
                node_line(nid),
                f"node `{nid}` is unreachable: no branch leads to it from `start` ({start})",
                "link it from a branch of another node, or delete it",
            )
    _check_loops([n for n in ids if n in reachable], edges, ends, node_line, report)


def _reach(start: str, edges: dict[str, list[str]]) -> set[str]:
    """Nodes reachable from ``start`` by one or more branches."""
    seen: set[str] = set()
    todo = list(edges.get(start, []))
    while todo:
        nid = todo.pop()
        if nid not in seen:
            seen.add(nid)
            todo.extend(edges.get(nid, []))
    return seen


def _check_loops(
    order: list[str],
    edges: dict[str, list[str]],
    ends: set[str],
    node_line: Callable[[str], int | None],
    report: Reporter,
) -> None:
    """Report each group of nodes that callers can enter but never leave.

    Every node that cannot reach an end only leads to such nodes, so the
    traps are the strongly connected groups with no branch out of the group;
    fixing those fixes the nodes leading into them, hence one report per trap.
    """
    reach = {nid: _reach(nid, edges) for nid in order}
    can_end = {nid for nid in order if nid in ends or reach[nid] & ends}
    seen: set[frozenset[str]] = set()
    for nid in order:
        if nid in can_end or nid not in reach[nid]:
            continue
        group = frozenset(reach[nid])
        if group in seen or any(nid not in reach[m] for m in group):
            continue  # not a bottom group: it leads into another trap
        seen.add(group)
        members = [m for m in order if m in group]
        names = ", ".join(f"`{m}`" for m in members)
        what = f"node {names} loops back to itself" if len(members) == 1 else f"nodes {names} form a loop"
        report.add(
            node_line(members[0]),
            f"{what} with no way to end the call",
            "point a branch of the loop at a hangup node (or another node that ends the call), "
            "or leave a branch empty to end the call there",
        )


# --- plugin and value checks ---------------------------------------------------------


def _check_plugins(
    flow: Flow,
    data: CommentedMap,
    registry: Registry,
    base_dir: Path,
    settings: Settings | None,
    report: Reporter,
) -> None:
    """Intents, gathers and enrichment sources of AI nodes must exist and be configured right."""
    for nid, node in flow.ai_nodes().items():
        _check_intents(nid, node, data, registry, report)
        _check_gathers(nid, node, data, registry, report)
        _check_sources(nid, node, data, registry, base_dir, settings, report)
        _check_model(nid, node, data, registry, settings, report)
    for nid, node in flow.nodes.items():
        for key, store, kind in (
            ("platform", registry.alert_platforms, "alert platform"),
            ("on_call", registry.oncall_directories, "on-call directory"),
        ):
            ref = getattr(node, key, None)
            if ref is not None and ref.type not in store:
                match = _close(ref.type, store)
                report.add(
                    line_at(data, ("nodes", nid, key, "type")),
                    f"node `{nid}`: unknown {kind} `{ref.type}`{_did_you_mean(match)}",
                    (f"change it to `{match}`; " if match else "")
                    + (f"installed: {_listing(store)}" if store else f"install a plugin that provides the {kind}"),
                )


def _check_intents(nid: str, node: AiAgentNode, data: CommentedMap, registry: Registry, report: Reporter) -> None:
    for name in node.intents:
        if name in registry.intents:
            continue
        match = _close(name, registry.intents)
        report.add(
            line_at(data, ("nodes", nid, "intents", name)),
            f"node `{nid}`: unknown intent `{name}`{_did_you_mean(match)}",
            (f"rename it to `{match}`; " if match else "")
            + f"installed intents: {_listing(registry.intents)} (a custom intent needs a plugin that registers it)",
        )


def _check_gathers(nid: str, node: AiAgentNode, data: CommentedMap, registry: Registry, report: Reporter) -> None:
    for i, gather in enumerate(node.gathers):
        if gather.type is not None or gather.name in registry.gathers:
            continue
        match = _close(gather.name, registry.gathers)
        report.add(
            line_at(data, ("nodes", nid, "gathers", i)),
            f"node `{nid}`: unknown gather `{gather.name}`{_did_you_mean(match)}",
            (f"rename it to `{match}`, or " if match else "")
            + f"use one of the built-in gathers ({_listing(registry.gathers)}), or make it a custom field "
            f"by declaring `type:` (string, number, date or boolean) and `question:`",
        )


def _check_sources(
    nid: str,
    node: AiAgentNode,
    data: CommentedMap,
    registry: Registry,
    base_dir: Path,
    settings: Settings | None,
    report: Reporter,
) -> None:
    from agent.core.sources import SourceConfigError, PluginContext, build_source

    for i, source in enumerate(node.enrichment.sources):
        where = ("nodes", nid, "enrichment", "sources", i)
        if source.type not in registry.sources:
            match = _close(source.type, registry.sources)
            report.add(
                line_at(data, (*where, "type")),
                f"node `{nid}`: unknown enrichment source type `{source.type}`{_did_you_mean(match)}",
                (f"change it to `{match}`; " if match else "")
                + f"installed source types: {_listing(registry.sources)}",
            )
            continue
        label = f"node `{nid}`: enrichment source `{source.name or source.type}`"
        try:
            context = PluginContext(settings if settings is not None else _settings(), base_dir)
            build_source(source, registry.sources, context)
        except (SourceConfigError, OSError, ValueError) as exc:  # plugins may raise these for bad config too
            report.add(
                line_at(data, where),
                f"{label}: {exc}",
                "correct this source's settings; relative paths are read from the flow file's folder",
            )
        except Exception as exc:  # a plugin's own bug must not crash validation
            report.add(
                line_at(data, where),
                f"{label}: the `{source.type}` plugin failed on this config: {exc!r}",
                "check this source's settings against the plugin's documentation",
            )


def _check_model(
    nid: str, node: AiAgentNode, data: CommentedMap, registry: Registry, settings: Settings | None, report: Reporter,
) -> None:
    """The node's model backend (its ``model:`` block, else the settings' default): installed, its options valid,
    nothing missing (the backend's ``problems()``); its ``limits`` are warnings."""
    settings = settings if settings is not None else _settings()
    where: Loc = ("nodes", nid, "model")
    name = node.model.backend if node.model is not None else settings.model_backend
    line = line_at(data, where if node.model is not None else ("nodes", nid))
    cls = registry.backends.get(name)
    if cls is None:
        match = _close(name, registry.backends)
        origin = "" if node.model is not None else " (VOICE_AGENT_MODEL_BACKEND: the node has no `model:`)"
        report.add(
            line_at(data, (*where, "backend")) if node.model is not None else line,
            f"node `{nid}`: unknown model backend `{name}`{origin}{_did_you_mean(match)}",
            (f"change it to `{match}`; " if match else "")
            + (f"installed backends: {_listing(registry.backends)}" if registry.backends else "install a plugin that provides a model backend")
            + " (`voice-agent plugins` also lists backends that failed to load)",
        )
        return
    try:
        options = cls.Options.model_validate(node.model.options if node.model is not None else {})
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            problem, _, fix = err["msg"].removeprefix("Value error, ").partition("; ")
            if err["type"] == "extra_forbidden":
                match = _close(loc[-1], cls.Options.model_fields)
                problem = f"unknown option{_did_you_mean(match)}"
                fix = (f"change it to `{match}`; " if match else "") + f"`{name}` takes: {_listing(cls.Options.model_fields)}"
            key = f"`{'.'.join(map(str, loc))}`: " if loc else ""
            report.add(line_at(data, (*where, *loc)), f"node `{nid}`: model backend `{name}`: {key}{problem}",
                       fix or f"change the value: {err['msg']}")
        return
    except Exception as exc:  # a plugin's own bug must not crash validation
        report.add(line, f"node `{nid}`: the `{name}` backend failed on these options: {exc!r}", "check them against the backend's documentation")
        return
    try:
        problems = cls(settings).problems(options, node)
    except Exception as exc:  # noqa: BLE001 - as above
        problems = [f"its check failed ({exc!r}); report this to the backend's authors"]
    for text in problems:
        problem, _, fix = str(text).partition("; ")
        report.add(line, f"node `{nid}`: model backend `{name}`: {problem}", fix or "see the backend's documentation")
    for rule, loss in (getattr(cls, "limits", None) or {}).items():
        report.warn(line, f"node `{nid}`: model backend `{name}` cannot keep `{rule}`: {loss}",
                    "accept it, or choose a backend that keeps it (`model: {backend: ...}`)")


def _settings() -> Settings:
    from agent.core.settings import get_settings

    return get_settings()


def _check_values(flow: Flow, data: CommentedMap, report: Reporter) -> None:
    """Values the schema accepts but that fail at call time: time zones and gather patterns."""
    for nid, node in flow.nodes.items():
        if isinstance(node, SupportHoursNode):
            _check_timezone(nid, node.timezone, data, report)
        if isinstance(node, AiAgentNode):
            for i, gather in enumerate(node.gathers):
                if gather.regex is None:
                    continue
                try:
                    re.compile(gather.regex)
                except re.error as exc:
                    report.add(
                        line_at(data, ("nodes", nid, "gathers", i, "regex")),
                        f"node `{nid}`: gather `{gather.name}`: `regex` does not compile: {exc}",
                        "correct the pattern; in YAML write it in single quotes (e.g. 'T-\\d+') "
                        "so backslashes stay as written",
                    )


def _check_timezone(nid: str, name: str, data: CommentedMap, report: Reporter) -> None:
    try:
        zoneinfo.ZoneInfo(name)
        return
    except Exception:  # ZoneInfoNotFoundError, ValueError for malformed keys, OSError for folders
        pass
    match = _close_timezone(name)
    report.add(
        line_at(data, ("nodes", nid, "timezone")),
        f"node `{nid}`: unknown time zone `{name}`{_did_you_mean(match)}",
        f"use `{match}`" if match else "use an IANA name such as Europe/Berlin",
    )


@lru_cache(maxsize=1)
def _timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def _close_timezone(name: str) -> str | None:
    """A real zone for a typo (``europe/berlín``) or a bare city (``Berlin``)."""
    zones = _timezones()
    cities = {z.rsplit("/", 1)[-1].lower(): z for z in zones if "/" in z}
    key = name.strip().replace(" ", "_")
    if key.lower() in cities:
        return cities[key.lower()]
    match = _close(key, zones)
    if match:
        return match
    city = difflib.get_close_matches(key.rsplit("/", 1)[-1].lower(), list(cities), n=1, cutoff=0.8)
    return cities[city[0]] if city else None
