"""The state of one call as it moves through a flow, and the outcome record it ends with."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, Field

from agent.core.facts import Fact


class Turn(BaseModel):
    speaker: str  # "caller" | "agent" | "system"
    text: str


class Dial(BaseModel):
    """One attempt to reach someone for a ``route_call`` node."""

    name: str
    number: str
    whisper: str = ""
    answered: bool = False


class AlertReceipt(BaseModel):
    """What an alert platform answered: its key for the alert and where engineers see it."""

    platform: str
    key: str | None = None
    url: str | None = None


class AlertLink(BaseModel):
    href: str
    text: str


class Alert(BaseModel):
    summary: str
    details: str
    priority: str = "high"
    source: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    dedup_key: str | None = None
    transcript: str | None = Field(None, description="The conversation, one 'Speaker: text' line per turn.")
    links: list[AlertLink] = Field(default_factory=list)
    already_reported: bool = Field(False, description="Another caller reported the same problem while it is open.")
    receipt: AlertReceipt | None = None


class AlertNote(BaseModel):
    """Something learnt after an alert was opened (e.g. the recording's transcription), added to it."""

    text: str
    links: list[AlertLink] = Field(default_factory=list)


class Outcome(BaseModel):
    """The one record a call ends with: where it went, why, and what was learnt."""

    call_id: str
    intent: str | None = None
    branch: str | None = None
    end_reason: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    facts_used: list[str] = Field(default_factory=list)
    nodes: list[str] = Field(default_factory=list)
    dials: list[Dial] = Field(default_factory=list)
    briefing: str | None = None
    alerts: list[Alert] = Field(default_factory=list)
    summary: str | None = None
    transcript: list[Turn] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)


@dataclass
class Call:
    """Everything known about one call; lives in memory only, for the call's duration."""

    caller_number: str | None = None
    called_number: str | None = None
    call_id: str = field(default_factory=lambda: "SIM" + uuid.uuid4().hex[:16])
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    started_monotonic: float = field(default_factory=time.monotonic)
    language: str = "en"
    lines: Any = None  # the AgentMessages of ``language`` (agent.flow.i18n.lines_of), set by the AI node
    fields: dict[str, Any] = field(default_factory=dict)
    intent: str | None = None
    summary: str | None = None
    facts: list[Fact] = field(default_factory=list)
    facts_used: list[str] = field(default_factory=list)
    transcript: list[Turn] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    outcome: Outcome | None = None

    def say(self, speaker: str, text: str) -> None:
        self.transcript.append(Turn(speaker=speaker, text=text))

    def transcript_text(self, max_chars: int | None = None) -> str:
        """The conversation as ``Speaker: text`` lines (system notes left out); the most recent part when capped."""
        lines = [f"{t.speaker.capitalize()}: {t.text}" for t in self.transcript if t.speaker != "system" and t.text]
        text = "\n".join(lines)
        if max_chars is not None and len(text) > max_chars:
            text = "…" + text[-max_chars + 1 :]
        return text

    def use_fact(self, label: str) -> None:
        if label not in self.facts_used:
            self.facts_used.append(label)

    def known_services(self) -> dict[str, list[str]]:
        """Services named by disclosed facts, with their aliases, for matching what callers say."""
        known: dict[str, list[str]] = {}
        for fact in self.facts:
            if getattr(fact, "service", None):
                known.setdefault(fact.service, []).extend(getattr(fact, "aliases", []))
            for name in getattr(fact, "services", []) or []:
                known.setdefault(name, [])
        return known
