"""A flow as a Mermaid flowchart, so people can see what callers will go through.

Node ids are prefixed (``n_``) because flow ids like ``end``, ``style`` or
``o...`` would otherwise be read as Mermaid keywords or edge markers; labels
are always quoted with quotes and other markup escaped as entity codes.
"""

from __future__ import annotations

import re

from agent.flow.models import Flow

END_ID = "end_call"

# Mermaid shape delimiters by node type: decisions are diamonds, the AI a subroutine box.
_SHAPES: dict[str, tuple[str, str]] = {
    "audio_message": ("[", "]"),
    "ai_agent": ("[[", "]]"),
    "route_call": ("{{", "}}"),
    "support_hours": ("{", "}"),
    "ivr_menu": ("{", "}"),
    "pin_code": ("{", "}"),
    "block_numbers": ("{", "}"),
    "voicemail": ("[(", ")]"),
    "create_alert": (">", "]"),
    "hangup": ("([", "])"),
}

_ESCAPES = {"&": "#amp;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "#": "#35;", "|": "#124;"}


def _escape(text: str) -> str:
    """Make text safe inside a quoted Mermaid label."""
    text = re.sub(r"\s+", " ", text).strip()
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _mermaid_ids(node_ids: list[str]) -> dict[str, str]:
    """Unique, syntax-safe Mermaid ids for the flow's node ids."""
    out: dict[str, str] = {}
    used = {END_ID}
    for nid in node_ids:
        base = "n_" + re.sub(r"[^A-Za-z0-9_]", "_", nid)
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}_{n}", n + 1
        used.add(candidate)
        out[nid] = candidate
    return out


def to_mermaid(flow: Flow) -> str:
    """Render the flow as ``flowchart TD``: one box per node, one labelled arrow per branch."""
    ids = _mermaid_ids(list(flow.nodes))
    lines = ["flowchart TD"]
    for nid, node in flow.nodes.items():
        parts = [f"{nid} ({node.type})", *([node.name] if node.name else [])]
        label = "<br/>".join(_escape(part) for part in parts)
        opening, closing = _SHAPES.get(node.type, ("[", "]"))
        lines.append(f'    {ids[nid]}{opening}"{label}"{closing}')
    edges: list[str] = []
    missing: set[str] = set()
    ends = False
    for nid, node in flow.nodes.items():
        for outcome, target in node.branches().items():
            if target is None:
                ends = True
                dest = END_ID
            elif target in ids:
                dest = ids[target]
            else:  # a dangling branch; drawn so the mistake is visible
                dest = _mermaid_ids([*flow.nodes, target])[target]
                if target not in missing:
                    missing.add(target)
                    lines.append(f'    {dest}["{_escape(target)}<br/>missing node"]')
            edges.append(f'    {ids[nid]} -->|"{_escape(outcome)}"| {dest}')
    if ends:
        lines.append(f'    {END_ID}(("end"))')
    lines.extend(edges)
    return "\n".join(lines) + "\n"
