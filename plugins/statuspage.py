"""The ``statuspage`` enrichment source: a public Statuspage-style ``/api/v2/summary.json``.

Reads ``{page_url}/api/v2/summary.json`` (public, no auth) and returns one
:class:`~agent.core.facts.ServiceState` per component, an
:class:`~agent.core.facts.OpenIncident` per unresolved incident, a
:class:`~agent.core.facts.MaintenanceWindow` per maintenance in progress, and one
:class:`~agent.core.facts.StatusPageEntry` for the page's overall status::

    enrichment:
      sources:
        - type: statuspage
          page_url: https://status.example.com
          aliases: {Checkout API: [checkout, payment page]}

The contract is what Statuspage documents for ``summary.json`` (the ``/api``
page of any Statuspage; tests/contracts/statuspage/summary.schema.json).
It shows no list of affected components on an incident or a maintenance, so
an incident or maintenance is linked to the components its name or updates
mention (by component name or a configured alias).

Records it cannot read are skipped; answers it cannot use (HTTP errors,
timeouts, malformed JSON) raise :class:`StatuspageError`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import httpx
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.plugin_api import (
    Fact,
    MaintenanceWindow,
    OpenIncident,
    PluginContext,
    ServiceState,
    StatusPageEntry,
    hookimpl,
)

COMPONENT_STATUS = {
    "operational": "operational",
    "degraded_performance": "degraded",
    "partial_outage": "partial_outage",
    "major_outage": "major_outage",
    "under_maintenance": "under_maintenance",
}
RESOLVED = {"resolved", "postmortem", "completed"}
MAINTENANCE_NOW = {"in_progress", "verifying"}


class StatuspageError(RuntimeError):
    """The status page answered something the source cannot use (or did not answer in time)."""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _texts(record: dict[str, Any]) -> list[str]:
    """What an incident or maintenance says: its name and its updates' bodies."""
    texts = [record["name"]] if isinstance(record.get("name"), str) else []
    updates = record.get("incident_updates")
    if isinstance(updates, list):
        texts += [u["body"] for u in updates if isinstance(u, dict) and isinstance(u.get("body"), str)]
    return texts


def _records(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = body.get(key)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


class StatuspageSource:
    """Facts from a public Statuspage (or a compatible page's ``summary.json``)."""

    cache_ttl_s = 15.0  # facts about systems, shared across calls (agent.core.sources.SharedCache)

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        page_url: str = Field(description="The status page, e.g. https://status.example.com")
        page: str | None = Field(None, description="How the page is named to callers (default: its host).")
        aliases: dict[str, list[str]] = Field(default_factory=dict, description="Component name -> what callers call it.")
        groups: bool = Field(False, description="Also report component groups as services.")
        disclose: bool = True

        @field_validator("page_url")
        @classmethod
        def _http(cls, value: str) -> str:
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError(f"page_url must be an http(s) URL, got {value!r}")
            return value.rstrip("/")

    name = "statuspage"

    def __init__(self, config: Config, context: PluginContext) -> None:
        if not isinstance(config, self.Config):
            config = self.Config.model_validate(config)
        self.config = config
        self.url = f"{config.page_url}/api/v2/summary.json"
        self.page = config.page or urlparse(config.page_url).netloc
        self.context = context
        self.timeout = context.settings.http_timeout_s

    async def fetch(self, call: Any) -> list[Fact]:
        return self.parse(await self._get())

    async def _get(self) -> dict[str, Any]:
        what = f"GET {self.url}"
        try:
            async with self.context.http_client(timeout=self.timeout, headers={"Accept": "application/json"}) as client:
                response = await client.get(self.url)
        except httpx.TimeoutException as exc:
            raise StatuspageError(f"{what}: no answer within {self.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise StatuspageError(f"{what}: could not reach the status page ({type(exc).__name__}: {exc})") from exc
        if response.status_code == 429:
            raise StatuspageError(f"{what}: rate limited (429)")
        if response.status_code >= 500:
            raise StatuspageError(f"{what}: status page server error ({response.status_code})")
        if response.status_code != 200:
            raise StatuspageError(f"{what}: unexpected answer {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise StatuspageError(f"{what}: malformed JSON") from exc
        if not isinstance(body, dict):
            raise StatuspageError(f"{what}: expected a JSON object, got {type(body).__name__}")
        return body

    def _mentioned(self, texts: list[str], names: list[str]) -> list[str]:
        """The component names (in page order) that ``texts`` mention by name or configured alias."""
        found = []
        for name in names:
            words = [name, *self.config.aliases.get(name, [])]
            patterns = [re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE) for word in words if word.strip()]
            if any(p.search(text) for p in patterns for text in texts):
                found.append(name)
        return found

    def parse(self, body: dict[str, Any]) -> list[Fact]:
        disclose = self.config.disclose
        facts: list[Fact] = []
        troubled: list[str] = []
        names: list[str] = []
        for component in _records(body, "components"):
            name = component.get("name")
            status = COMPONENT_STATUS.get(str(component.get("status") or ""))
            if not isinstance(name, str) or not name.strip() or status is None:
                logger.debug("status page component skipped: {!r} {!r}", name, component.get("status"))
                continue
            if component.get("group") is True and not self.config.groups:
                continue
            name = name.strip()
            names.append(name)
            if status != "operational":
                troubled.append(name)
            description = component.get("description")
            facts.append(
                ServiceState(
                    service=name, status=status, aliases=list(self.config.aliases.get(name, [])),
                    description=description if isinstance(description, str) else "", disclose=disclose,
                )
            )
        for incident in _records(body, "incidents"):
            title = incident.get("name")
            status = str(incident.get("status") or "investigating")
            if not isinstance(title, str) or not title.strip() or status in RESOLVED:
                continue
            shortlink = incident.get("shortlink")
            facts.append(
                OpenIncident(
                    id=str(incident.get("id") or ""), title=title.strip(), status=status,
                    services=self._mentioned(_texts(incident), names),
                    started_at=_time(incident.get("created_at")),
                    url=shortlink if isinstance(shortlink, str) else None, disclose=disclose,
                )
            )
        for maintenance in _records(body, "scheduled_maintenances"):
            summary = maintenance.get("name")
            start = _time(maintenance.get("scheduled_for"))
            end = _time(maintenance.get("scheduled_until"))
            if maintenance.get("status") not in MAINTENANCE_NOW or not isinstance(summary, str) or not start or not end:
                continue
            facts.append(
                MaintenanceWindow(
                    summary=summary.strip(), services=self._mentioned(_texts(maintenance), names), start=start, end=end, disclose=disclose,
                )
            )
        status = body.get("status")
        if isinstance(status, dict) and isinstance(status.get("indicator"), str):
            description = status.get("description")
            facts.append(
                StatusPageEntry(
                    page=self.page, status=status["indicator"],
                    message=description if isinstance(description, str) else "", components=troubled, disclose=disclose,
                )
            )
        return facts


@hookimpl
def register_enrichment_sources(register):
    register("statuspage", StatuspageSource)
