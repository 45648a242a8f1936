"""Typed facts that enrichment sources return about what is already going on.

Typed so that the prompt builder, the deterministic engine and the tools can use
them without knowing which source produced them.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field

from agent.core.config import AgentMessages

def _clock(value: datetime, tz: tzinfo) -> str:
    return value.astimezone(tz).strftime("%H:%M %Z")


def _ago(since: datetime, now: datetime, lines: Any) -> str:
    minutes = max(int((now - since).total_seconds() // 60), 0)
    if minutes < 1:
        return lines.ago_now
    if minutes < 120:
        return lines.ago_minutes.format(minutes=minutes) if minutes != 1 else lines.ago_minute
    return lines.ago_hours.format(hours=minutes // 60)


def _lines(lines: Any) -> Any:
    """The call's lines (``AgentMessages``), or the English defaults."""
    if lines is None:
        return AgentMessages()
    return lines


class _Fact(BaseModel):
    source: str = ""
    disclose: bool = Field(True, description="Whether the agent may tell callers about it.")

    def key(self) -> str:
        """A stable label, as listed in an outcome's ``facts_used``."""
        raise NotImplementedError

    def speak(self, now: datetime, tz: tzinfo, lines: Any = None) -> str:
        """One sentence a caller may hear (only for disclosed facts), in the language of ``lines`` (``AgentMessages``)."""
        raise NotImplementedError


class ServiceState(_Fact):
    kind: Literal["service_state"] = "service_state"
    service: str
    status: Literal["operational", "degraded", "partial_outage", "major_outage", "under_maintenance"]
    aliases: list[str] = Field(default_factory=list)
    description: str = ""

    def key(self) -> str:
        return f"service_state:{self.service}"

    def speak(self, now: datetime, tz: tzinfo, lines: Any = None) -> str:
        return getattr(_lines(lines), f"fact_{self.status}").format(service=self.service)


class OpenIncident(_Fact):
    kind: Literal["open_incident"] = "open_incident"
    id: str = ""
    title: str
    status: str = "investigating"
    services: list[str] = Field(default_factory=list)
    started_at: datetime | None = None
    url: str | None = None
    dedup_key: str | None = Field(None, description="The platform's dedup key (alertKey, incident_key), when it has one.")

    def key(self) -> str:
        return f"open_incident:{self.id or self.title}"

    def speak(self, now: datetime, tz: tzinfo, lines: Any = None) -> str:
        lines = _lines(lines)
        if self.status.startswith("reported"):  # from agent.core.alert_ledger: other callers, not a platform
            return lines.fact_reported.format(title=self.title, status=self.status)
        if self.started_at:
            return lines.fact_incident_since.format(
                title=self.title, status=self.status, time=_clock(self.started_at, tz), ago=_ago(self.started_at, now, lines),
            )
        return lines.fact_incident.format(title=self.title, status=self.status)


class MaintenanceWindow(_Fact):
    kind: Literal["maintenance_window"] = "maintenance_window"
    summary: str
    services: list[str] = Field(default_factory=list)
    start: datetime
    end: datetime

    def key(self) -> str:
        return f"maintenance:{self.summary}"

    def speak(self, now: datetime, tz: tzinfo, lines: Any = None) -> str:
        return _lines(lines).fact_maintenance.format(summary=self.summary, time=_clock(self.end, tz))


class StatusPageEntry(_Fact):
    kind: Literal["status_page"] = "status_page"
    page: str
    status: str
    message: str = ""
    components: list[str] = Field(default_factory=list)

    def key(self) -> str:
        return f"status_page:{self.page}"

    def speak(self, now: datetime, tz: tzinfo, lines: Any = None) -> str:
        return _lines(lines).fact_status_page.format(message=self.message or self.status)


class OnCallShift(_Fact):
    """Who is on call now; never disclosed to callers or to the model."""

    kind: Literal["on_call"] = "on_call"
    disclose: bool = False
    schedule: str
    name: str
    number: str

    def key(self) -> str:
        return f"on_call:{self.schedule}"

    def speak(self, now: datetime, tz: tzinfo, lines: Any = None) -> str:
        return ""


class CustomFact(_Fact):
    kind: Literal["custom"] = "custom"
    text: str
    services: list[str] = Field(default_factory=list)
    data: dict = Field(default_factory=dict)

    def key(self) -> str:
        return f"custom:{self.source}:{self.text[:60]}"

    def speak(self, now: datetime, tz: tzinfo, lines: Any = None) -> str:
        return self.text


Fact = Annotated[
    Union[ServiceState, OpenIncident, MaintenanceWindow, StatusPageEntry, OnCallShift, CustomFact],
    Field(discriminator="kind"),
]
