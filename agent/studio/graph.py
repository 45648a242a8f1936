"""The flow as a graph for the page: nodes, labelled branches, dangling branches and unreachable nodes.

Branches come from the node models' own ``branches()`` (what the simulator
and ``flow show`` follow), also for a node that does not validate yet, so the
graph stays drawn while the user types.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from agent.flow.loader import _NODE_ADAPTER, _NODE_CLASSES, _branch_path, _reach
from agent.flow.yamlfile import plain


def node_branches(raw: Any) -> dict[str, Any]:
    """Outcome -> target id for a raw node, validated when it can be, else read field by field."""
    if not isinstance(raw, dict):
        return {}
    data = plain(raw)
    try:
        node = _NODE_ADAPTER.validate_python(data)
    except Exception:  # noqa: BLE001 - a node being edited: read what is there
        cls: type[BaseModel] | None = _NODE_CLASSES.get(data.get("type"))
        if cls is None:
            return {}
        try:
            node = cls.model_construct(**{k: v for k, v in data.items() if k in cls.model_fields})
            found = node.branches()
        except Exception:  # noqa: BLE001
            return {}
        return {k: v for k, v in found.items() if v is None or isinstance(v, str)}
    return node.branches()


def branch_paths(raw: Any) -> list[tuple[Any, ...]]:
    """Where each branch of a raw node is written in it (``("intents", "inquiry")``, ``("options", 1)``)."""
    out = []
    for outcome in node_branches(raw):
        path = _branch_path(outcome)
        parent = raw
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            key = next((k for k in parent if str(k) == str(path[-1])), None)
            if key is not None:
                out.append((*path[:-1], key))
    return out


def branch_fields() -> dict[str, list[str]]:
    """For each node type, its keys that name nodes (the page offers node ids there): `next`, `intents`, `options`..."""
    out: dict[str, list[str]] = {}
    for kind, cls in _NODE_CLASSES.items():
        mappings = {name: {"x": None} for name in ("intents", "options") if name in cls.model_fields}
        try:
            outcomes = cls.model_construct(**mappings).branches()
        except Exception:  # noqa: BLE001 - a plugin's node type that needs more to list its branches
            outcomes = {}
        out[kind] = list(dict.fromkeys(_branch_path(o)[0] for o in outcomes))
    return out


def flow_graph(data: Any) -> dict[str, Any]:
    """Nodes, edges (with outcome labels; a missing target marked dangling; None drawn to an end), unreachable ids."""
    raw_nodes = data.get("nodes") if isinstance(data, dict) else None
    raw_nodes = raw_nodes if isinstance(raw_nodes, dict) else {}
    ids = [str(k) for k in raw_nodes]
    nodes = []
    edges = []
    targets: dict[str, list[str]] = {}
    for nid, raw in raw_nodes.items():
        nid = str(nid)
        kind = raw.get("type") if isinstance(raw, dict) else None
        name = raw.get("name") if isinstance(raw, dict) else None
        nodes.append({"id": nid, "type": kind if isinstance(kind, str) else None, "name": name if isinstance(name, str) else None})
        targets[nid] = []
        for outcome, target in node_branches(raw).items():
            dangling = target is not None and target not in ids
            edges.append({
                "source": nid, "target": target, "label": outcome, "path": list(_branch_path(outcome)), "dangling": dangling,
            })
            if target is not None and not dangling:
                targets[nid].append(target)
    start = data.get("start") if isinstance(data, dict) else None
    start = start if isinstance(start, str) and start in ids else None
    reachable = (_reach(start, targets) | {start}) if start else set()
    return {
        "start": start,
        "nodes": nodes,
        "edges": edges,
        "unreachable": [nid for nid in ids if start and nid not in reachable],
    }
