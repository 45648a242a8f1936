"""Trim a vendor's OpenAPI document to the operations we use, keeping every component they reference.

Reproducible: the same full spec and the same selection always give the same file (components keep
the vendor's order, nothing is rewritten, only left out). Usage::

    python -m tests.contracts.trim FULL_SPEC.json OUT.json [--source TEXT] SELECTOR [SELECTOR ...]

A SELECTOR is a path as the spec spells it (``/call-flows/{id}``: every method of it) or a method and
a path (``GET /incidents``: only that operation). ``--source`` is written to ``info.x-trimmed-from``
so the file itself says where it came from. The commands that made the files in this folder are in
``README.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _refs(node: Any) -> set[str]:
    """Every ``$ref`` string inside ``node``."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                found.add(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _component(ref: str) -> tuple[str, str] | None:
    """``#/components/schemas/Tag/allOf/0`` -> ("schemas", "Tag"): the whole component is kept."""
    if not ref.startswith("#/components/"):
        return None
    parts = ref[len("#/components/"):].split("/")
    if len(parts) < 2:
        return None
    name = parts[1].replace("~1", "/").replace("~0", "~")
    return parts[0], name


def select_paths(spec: dict[str, Any], selectors: list[str]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for selector in selectors:
        method, _, path = selector.strip().partition(" ")
        if not path:
            method, path = "", method
        method = method.lower()
        item = spec.get("paths", {}).get(path)
        if item is None:
            raise SystemExit(f"trim: the spec has no path {path!r}")
        kept = paths.setdefault(path, {})
        if not method:
            kept.update(item)
            continue
        if method not in item:
            raise SystemExit(f"trim: the spec has no {method.upper()} {path}")
        kept[method] = item[method]
        for key, value in item.items():  # path-level parameters, summary, servers
            if key not in METHODS:
                kept[key] = value
    # Keep the spec's own order of paths and of each path's keys.
    ordered: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        if path in paths:
            ordered[path] = {key: value for key, value in item.items() if key in paths[path]}
    return ordered


def trim(spec: dict[str, Any], selectors: list[str], source: str | None = None) -> dict[str, Any]:
    paths = select_paths(spec, selectors)
    components = spec.get("components", {})
    wanted: set[tuple[str, str]] = set()
    queue = list(_refs(paths))
    # Security schemes are tiny and referenced by name, not by $ref: keep them all.
    for name in components.get("securitySchemes", {}):
        wanted.add(("securitySchemes", name))
    while queue:
        ref = queue.pop()
        key = _component(ref)
        if key is None:
            if not ref.startswith("#/"):
                raise SystemExit(f"trim: external $ref {ref!r} is not supported")
            continue
        if key in wanted:
            continue
        kind, name = key
        if name not in components.get(kind, {}):
            raise SystemExit(f"trim: dangling $ref {ref!r}")
        wanted.add(key)
        queue.extend(_refs(components[kind][name]))
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key in ("paths", "components", "tags", "x-tagGroups", "webhooks"):
            continue
        out[key] = value
    if source:
        out["info"] = dict(out.get("info", {}), **{"x-trimmed-from": source})
    out["paths"] = paths
    kept: dict[str, Any] = {}
    for kind, items in components.items():
        selected = {name: schema for name, schema in items.items() if (kind, name) in wanted}
        if selected:
            kept[kind] = selected
    out["components"] = kept
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("selectors", nargs="+")
    parser.add_argument("--source", default=None)
    args = parser.parse_args(argv)
    spec = json.loads(args.spec.read_text(encoding="utf-8"))
    trimmed = trim(spec, args.selectors, args.source)
    args.out.write_text(json.dumps(trimmed, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    counts = {kind: len(items) for kind, items in trimmed["components"].items()}
    print(f"{args.out}: {len(trimmed['paths'])} paths, components {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
