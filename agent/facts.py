"""Typed facts that enrichment sources return about what is already going on.

Typed so that the prompt builder, the offline engine and the tools can use
them without knowing which source produced them.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Annotated, Literal, Union

from pydantic import BaseModel, Field

_STATUS_SPOKEN = {
    "degraded": "is running with degraded performance",
    "partial_outage": "has a partial outage",
    "major_outage": "has a major outage",
    "under_maintenance": "is under maintenance",
    "operational": "is operational",
}


def _clock(value: datetime, tz: tzinfo) -> str:
    return value.astimezone(tz).strftime("%H:%M %Z")


def _ago(since: datetime, now: datetime) -> str:
    minutes = max(int((now - since).total_seconds() // 60), 0)
    if minutes < 1:
        return "less than a minute ago"
    if minutes < 120:
        return f"{minutes} minutes ago" if minutes != 1 else "1 minute ago"
    return f"{minutes // 60} hours ago"


class _Fact(BaseModel):
    source: str = ""
    disclose: bool = Field(True, description="Whether the agent may tell callers about it.")

    def key(self) -> str:
        """A stable label, as listed in an outcome's ``facts_used``."""
        raise NotImplementedError

    def speak(self, now: datetime, tz: tzinfo) -> str:
        """One sentence a caller may hear (only for disclosed facts)."""
        raise NotImplementedError


class ServiceState(_Fact):
    kind: Literal["service_state"] = "service_state"
    service: str
    status: Literal["operational", "degraded", "partial_outage", "major_outage", "under_maintenance"]
    aliases: list[str] = Field(default_factory=list)
    description: str = ""

    def key(self) -> str:
        return f"service_state:{self.service}"

    def speak(self, now: datetime, tz: tzinfo) -> str:
        return f"{self.service} {_STATUS_SPOKEN[self.status]}."


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

    def speak(self, now: datetime, tz: tzinfo) -> str:
        if self.status.startswith("reported"):  # from agent.reports: other callers, not a platform
            return f"You're not the first to report this: {self.title} was {self.status}, and the on-call team has been alerted."
        text = f"There is an open incident: {self.title}"
        if self.started_at:
            text += f", which started at {_clock(self.started_at, tz)}, {_ago(self.started_at, now)}"
        return text + f". Status: {self.status}."


class MaintenanceWindow(_Fact):
    kind: Literal["maintenance_window"] = "maintenance_window"
    summary: str
    services: list[str] = Field(default_factory=list)
    start: datetime
    end: datetime

    def key(self) -> str:
        return f"maintenance:{self.summary}"

    def speak(self, now: datetime, tz: tzinfo) -> str:
        return f"There is planned maintenance: {self.summary}, until {_clock(self.end, tz)}."


class StatusPageEntry(_Fact):
    kind: Literal["status_page"] = "status_page"
    page: str
    status: str
    message: str = ""
    components: list[str] = Field(default_factory=list)

    def key(self) -> str:
        return f"status_page:{self.page}"

    def speak(self, now: datetime, tz: tzinfo) -> str:
        return f"Our status page says: {self.message or self.status}."


class OnCallShift(_Fact):
    """Who is on call now; never disclosed to callers or to the model."""

    kind: Literal["on_call"] = "on_call"
    disclose: bool = False
    schedule: str
    name: str
    number: str

    def key(self) -> str:
        return f"on_call:{self.schedule}"

    def speak(self, now: datetime, tz: tzinfo) -> str:
        return ""


class CustomFact(_Fact):
    kind: Literal["custom"] = "custom"
    text: str
    services: list[str] = Field(default_factory=list)
    data: dict = Field(default_factory=dict)

    def key(self) -> str:
        return f"custom:{self.source}:{self.text[:60]}"

    def speak(self, now: datetime, tz: tzinfo) -> str:
        return self.text


Fact = Annotated[
    Union[ServiceState, OpenIncident, MaintenanceWindow, StatusPageEntry, OnCallShift, CustomFact],
    Field(discriminator="kind"),
]
