"""The ``static`` enrichment source: facts from a YAML or JSON file, or inline in the flow.

Good for trying a flow, for tests, and for teams whose state lives in a file
that a cron job or CI writes. Times may be absolute (ISO 8601) or relative to
the call (``-35m``, ``-2h``, ``+1d``), so example facts never go stale.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from ruamel.yaml import YAML

from agent.plugin_api import Fact, PluginContext, hookimpl

_RELATIVE = re.compile(r"^([+-])(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_SECTIONS = {
    "services": "service_state",
    "incidents": "open_incident",
    "maintenance": "maintenance_window",
    "status_pages": "status_page",
    "on_call": "on_call",
    "custom": "custom",
}
_facts_adapter = TypeAdapter(list[Fact])


class StaticSource:
    """Facts read from a file (re-read per call, so edits show up without a restart)."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: str | None = None
        facts: dict[str, list[dict[str, Any]]] | None = None
        disclose: bool = Field(True, description="Whether callers may be told these facts.")

        @model_validator(mode="after")
        def _one_of(self) -> StaticSource.Config:
            if (self.path is None) == (self.facts is None):
                raise ValueError("give either `path` (a YAML/JSON file) or inline `facts`")
            return self

    name = "static"

    def __init__(self, config: Config, context: PluginContext) -> None:
        self.config = config
        self.path = (context.base_dir / config.path) if config.path else None
        if self.path is not None and not self.path.is_file():
            raise FileNotFoundError(f"static facts file {self.path} does not exist")

    async def fetch(self, call: Any) -> list[Fact]:
        raw = self.config.facts if self.path is None else _read(self.path)
        now = getattr(call, "now", None) or datetime.now(timezone.utc)
        return parse_facts(raw, now, disclose=self.config.disclose)


def _read(path: Path) -> dict[str, Any]:
    """The file's sections; parsed again only when the file changed (edits apply to the next call)."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _PARSED.get(path)
    if cached is not None and cached[0] == stamp:
        return copy.deepcopy(cached[1])
    data = _parse(path)
    _PARSED[path] = (stamp, data)
    return copy.deepcopy(data)


_PARSED: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}  # facts about systems, never about callers


def _parse(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else YAML(typ="safe").load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of sections ({', '.join(_SECTIONS)})")
    return data


def _resolve_time(value: Any, now: datetime) -> Any:
    if isinstance(value, str):
        match = _RELATIVE.match(value.strip())
        if match:
            sign, amount, unit = match.groups()
            delta = timedelta(**{_UNITS[unit]: int(amount)})
            return now + delta if sign == "+" else now - delta
    return value


def parse_facts(data: dict[str, Any], now: datetime, *, disclose: bool = True) -> list[Fact]:
    """Turn the file's sections into typed facts; unknown sections are an error that names them."""
    unknown = set(data) - set(_SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections {sorted(unknown)}; expected {sorted(_SECTIONS)}")
    items: list[dict[str, Any]] = []
    for section, kind in _SECTIONS.items():
        for entry in data.get(section) or []:
            item = {k: _resolve_time(v, now) for k, v in dict(entry).items()}
            if "name" in item and kind == "service_state":
                item["service"] = item.pop("name")
            item["kind"] = kind
            if kind != "on_call":
                item.setdefault("disclose", disclose)
            items.append(item)
    return _facts_adapter.validate_python(items)


@hookimpl
def register_enrichment_sources(register):
    register("static", StaticSource)
