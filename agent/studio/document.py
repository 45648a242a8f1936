"""The one flow file the studio opened: its data for the page, and the page's edits written back round-trip.

The page sends the whole flow as plain JSON; it is merged into the file's
round-trip YAML so that everything the edit did not change (comments, key
order, quoting, flow-style lists, blank lines) is written back as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from agent.flow.yamlfile import plain
from agent.studio.graph import branch_paths


class DocumentError(ValueError):
    """An edit that cannot be applied (e.g. the file is no YAML mapping, or changed on disk)."""


def to_json(value: Any) -> Any:
    """Round-trip YAML data as JSON-able plain data: keys as text, dates and times as ISO text."""
    value = plain(value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _same(old: Any, new: Any) -> bool:
    """Whether a YAML scalar and a JSON value are the same value (so the YAML one, with its style, stays)."""
    was = to_json(old)
    return type(was) is type(new) and was == new


def _key_of(mapping: CommentedMap, key: str) -> Any:
    """The YAML key written for ``key`` (`1:` in YAML is the int 1; the page's JSON says "1")."""
    if key in mapping:
        return key
    for k in mapping:
        if str(k) == key:
            return k
    return None


def merge(old: Any, new: Any) -> Any:
    """``new`` (plain JSON) written over ``old`` (round-trip YAML), keeping what is unchanged as it was."""
    if isinstance(old, CommentedMap) and isinstance(new, dict):
        for k in list(old):
            if str(k) not in new:
                del old[k]
        for key, value in new.items():
            existing = _key_of(old, key)
            if existing is None:
                numbered = old and key.isdigit() and all(isinstance(k, int) for k in old)
                old[int(key) if numbered else key] = value  # IVR keys written `1:` stay numbers
            else:
                merged = merge(old[existing], value)
                if merged is not old[existing]:
                    old[existing] = merged
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        for i, value in enumerate(new[: len(old)]):
            merged = merge(old[i], value)
            if merged is not old[i]:
                old[i] = merged
        del old[len(new):]
        old.extend(new[len(old):])
        return old
    if not isinstance(old, (dict, list)) and _same(old, new):
        return old
    return new


def rename_node(data: CommentedMap, old_id: str, new_id: str) -> None:
    """Rename a node in place (same position, same comments) and point every branch and `start` at the new id."""
    nodes = data.get("nodes")
    if not isinstance(nodes, CommentedMap) or old_id not in nodes:
        raise DocumentError(f"there is no node `{old_id}` to rename")
    if new_id in nodes:
        raise DocumentError(f"a node `{new_id}` already exists")
    position = list(nodes).index(old_id)
    comment = nodes.ca.items.pop(old_id, None)
    value = nodes.pop(old_id)
    nodes.insert(position, new_id, value)
    if comment is not None:
        nodes.ca.items[new_id] = comment
    if data.get("start") == old_id:
        data["start"] = new_id
    _retarget(nodes, old_id, new_id)


def _drop_deleted_nodes(current: CommentedMap, data: dict[str, Any], renames: list[tuple[str, str]]) -> None:
    """Nodes the page deleted go before renames apply, so a node may take a deleted node's id."""
    nodes, kept = current.get("nodes"), data.get("nodes")
    if isinstance(nodes, CommentedMap) and isinstance(kept, dict):
        renamed = {old for old, _ in renames}
        for nid in list(nodes):
            if str(nid) not in kept and nid not in renamed:
                del nodes[nid]


def _space_new_nodes(data: Any, existing: list[Any], text: str) -> None:
    """New nodes get the blank line before them that the file puts between its nodes."""
    nodes = data.get("nodes") if isinstance(data, CommentedMap) else None
    if not isinstance(nodes, CommentedMap) or len(existing) < 2 or existing[-1] not in nodes:
        return
    lines = text.splitlines()
    try:
        at = nodes.lc.key(existing[-1])[0]  # 0-based line of the last node the file had
    except (KeyError, TypeError):  # renamed in this edit: no line of its own
        return
    if not (0 < at < len(lines) and lines[at - 1].strip() == ""):
        return
    indent = len(lines[at]) - len(lines[at].lstrip())
    for nid in nodes:
        if nid not in existing:
            nodes.yaml_set_comment_before_after_key(nid, before="\n", indent=indent)


def _retarget(nodes: CommentedMap, old_id: str, new_id: str) -> None:
    """Every branch that named ``old_id`` names ``new_id`` (branches are the nodes' string values naming a node)."""
    for raw in nodes.values():
        for path in branch_paths(raw):
            parent = raw
            for part in path[:-1]:
                parent = parent[part]
            if parent.get(path[-1]) == old_id:
                parent[path[-1]] = new_id


def _yaml_for(text: str) -> YAML:
    """A round-trip dumper with the file's own indentation, quotes kept and `null` written out."""
    yaml = YAML(typ="rt")
    mapping, offset = _indentation(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line the author wrote on one line
    yaml.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


_KEY_LINE = re.compile(r"^( *)([^\s#-][^:#]*):(\s|$)")
_ITEM_LINE = re.compile(r"^( *)- ")


def _indentation(text: str) -> tuple[int, int]:
    """(mapping indent, offset of `- ` under its key), as the file writes them; (2, 2) when it does not say."""
    mapping = offset = None
    previous_key_indent: int | None = None
    for line in text.splitlines():
        key, item = _KEY_LINE.match(line), _ITEM_LINE.match(line)
        if item and previous_key_indent is not None and offset is None:
            offset = len(item.group(1)) - previous_key_indent
            previous_key_indent = None
        elif key:
            indent = len(key.group(1))
            if previous_key_indent is not None and indent > previous_key_indent and mapping is None:
                mapping = indent - previous_key_indent
            previous_key_indent = indent
        if mapping is not None and offset is not None:
            break
    return mapping or 2, offset if offset is not None and offset >= 0 else 2


class FlowDocument:
    """The flow file the studio was started with; the only file it ever writes."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.text = self.path.read_text(encoding="utf-8")

    @property
    def version(self) -> str:
        """A digest of the text last read or written: a save from a page that saw another version is refused."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def data(self) -> Any:
        """The file as the page edits it: plain JSON, keys in the file's order."""
        return to_json(_yaml_for(self.text).load(self.text))

    def render(self, data: dict[str, Any], renames: list[tuple[str, str]] = (), base: str | None = None) -> str:
        """The file's text with ``data`` (the page's whole flow) merged in; renames applied first.

        ``base``: another text to merge into instead of the file's (a flow imported in the page replaces the file's
        whole content, its own comments and order included).
        """
        base = self.text if base is None else base
        yaml = _yaml_for(base)
        try:
            current = yaml.load(base)
        except Exception as exc:  # noqa: BLE001 - the file on disk is no YAML any more: the page's data stands alone
            raise DocumentError(f"the file cannot be read as YAML ({exc})") from None
        if not isinstance(current, CommentedMap):
            current = CommentedMap()
        _drop_deleted_nodes(current, data, renames)
        for old_id, new_id in renames:
            nodes = current.get("nodes")
            if isinstance(nodes, CommentedMap) and new_id in nodes and old_id in nodes:
                del nodes[new_id]  # the page renames only onto a free id: the node of that id was deleted first
            rename_node(current, old_id, new_id)
        existing = list(current["nodes"]) if isinstance(current.get("nodes"), CommentedMap) else []
        merged = merge(current, data)
        _space_new_nodes(merged, existing, base)
        out = io.StringIO()
        yaml.dump(merged, out)
        return out.getvalue()

    def write(self, text: str) -> None:
        """Write ``text`` to the opened file (and nowhere else)."""
        disk = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        if disk != self.text:
            raise DocumentError(
                f"{self.path.name} was changed on disk since the studio read it; "
                "reload the page to see that version (your unsaved edits are lost), or save your edits elsewhere first"
            )
        self.path.write_text(text, encoding="utf-8")
        self.text = text

    def reload(self) -> None:
        self.text = self.path.read_text(encoding="utf-8")
