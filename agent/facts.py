"""Typed facts that enrichment sources return about what is already going on.

Typed so that the prompt builder, the offline engine and the tools can use
them without knowing which source produced them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Union

from pydantic import BaseModel, Field


class _Fact(BaseModel):
    source: str = ""
    disclose: bool = Field(True, description="Whether the agent may tell callers about it.")


class ServiceState(_Fact):
    kind: Literal["service_state"] = "service_state"
    service: str
    status: Literal["operational", "degraded", "partial_outage", "major_outage", "under_maintenance"]
    aliases: list[str] = Field(default_factory=list)
    description: str = ""

    def speak(self) -> str:
        return f"{self.service} is {self.status.replace('_', ' ')}."


class OpenIncident(_Fact):
    kind: Literal["open_incident"] = "open_incident"
    id: str = ""
    title: str
    status: str = "investigating"
    services: list[str] = Field(default_factory=list)
    started_at: datetime | None = None
    url: str | None = None

    def speak(self) -> str:
        return f"{self.title} ({self.status})."


class MaintenanceWindow(_Fact):
    kind: Literal["maintenance_window"] = "maintenance_window"
    summary: str
    services: list[str] = Field(default_factory=list)
    start: datetime
    end: datetime

    def speak(self) -> str:
        return f"Planned maintenance: {self.summary}, until {self.end:%H:%M %Z}".strip() + "."


class StatusPageEntry(_Fact):
    kind: Literal["status_page"] = "status_page"
    page: str
    status: str
    message: str = ""
    components: list[str] = Field(default_factory=list)

    def speak(self) -> str:
        return f"Status page {self.page}: {self.message or self.status}."


class OnCallShift(_Fact):
    """Who is on call now; never disclosed to callers or to the model."""

    kind: Literal["on_call"] = "on_call"
    disclose: bool = False
    schedule: str
    name: str
    number: str

    def speak(self) -> str:
        return ""


class CustomFact(_Fact):
    kind: Literal["custom"] = "custom"
    text: str
    services: list[str] = Field(default_factory=list)
    data: dict = Field(default_factory=dict)

    def speak(self) -> str:
        return self.text


Fact = Annotated[
    Union[ServiceState, OpenIncident, MaintenanceWindow, StatusPageEntry, OnCallShift, CustomFact],
    Field(discriminator="kind"),
]
