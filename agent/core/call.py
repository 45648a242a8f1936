"""The state of one call as it moves through a flow, and the outcome record it ends with.

One type for every mode: the simulator, the ``<Gather>`` mode and a media
stream all work on a :class:`Call`; between two of Twilio's requests it
travels sealed (``agent.live.tokens``), less what is looked up or read again
(facts, the clock).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, Field, SkipValidation, field_validator

from agent.core.facts import Fact
from agent.core.printable import printable


def utc_now() -> datetime:
    """The time now: the clock every call reads (a simulation given ``--at`` sets its own); tests set it here."""
    return datetime.now(timezone.utc)


class Turn(BaseModel):
    speaker: str  # "caller" | "agent" | "system"
    text: str


class Dial(BaseModel):
    """One attempt to reach someone for a ``route_call`` node."""

    name: str
    number: str
    whisper: str = ""
    answered: bool = False
    round: int = 0  # which dial round of the node rang them (parallel rounds ring several at once)


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


# What Twilio puts in ``From`` when the caller ID is withheld: words, or the words spelt on a keypad
# (+266696687 ANONYMOUS, +7378742833 RESTRICTED, +86282452253 UNAVAILABLE, +2562533 BLOCKED).
WITHHELD_CALLER_IDS = frozenset({
    "", "anonymous", "restricted", "unknown", "private", "unavailable", "blocked",
    "+266696687", "+7378742833", "+86282452253", "+2562533",
})


def caller_id_withheld(caller: str | None) -> bool:
    return (caller or "").strip().lower() in WITHHELD_CALLER_IDS


class OpenedAlert(BaseModel):
    """An alert the call opened, and the node whose ``platform`` opened it (after-call notes go to the same place)."""

    node: str
    alert: Alert


class ToolUse(BaseModel):
    """One tool call of an AI node, as answered: what rehearsals show (never sealed into a token or written)."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)


MAX_TOOL_USES = 500  # kept per call and process: a long call cannot grow this without limit


class Decided(BaseModel):
    """How an AI node ended, as the model (or the deterministic engine) decided it.

    Carried from the media stream that heard the decision to the request
    that renders the chosen branch.
    """

    exit: str  # "intent" | "known_issue" | "fallback" | "hangup"
    target: str | None = None
    say: str = ""  # what is still to be said: empty when the caller already heard it
    intent: str | None = None
    reason: str | None = None


class Call(BaseModel):
    """Everything known about one call; in memory for the call's duration, never written to disk."""

    call_id: str = Field(default_factory=lambda: "SIM" + uuid.uuid4().hex[:16])  # Twilio's CallSid on live calls
    caller_number: str | None = None
    called_number: str | None = None
    node: str | None = None  # where the call is
    nodes: list[str] = Field(default_factory=list)  # every node it passed, in order
    attempt: int = 0  # tries so far at ``node``: IVR and PIN answers, dial rounds
    started_at: float = Field(default_factory=time.time)
    node_since: float = 0.0  # when the call entered ``node``
    language: str = "en"
    fields: dict[str, Any] = Field(default_factory=dict)
    intent: str | None = None
    summary: str | None = None
    facts_used: list[str] = Field(default_factory=list)
    transcript: list[Turn] = Field(default_factory=list)
    dialogue: dict[str, Any] | None = None  # the deterministic engine's state while it answers an AI node
    briefing: str | None = None  # what engineers hear, written once per call
    branch: str | None = None  # where the AI agent sent the call
    dials: list[Dial] = Field(default_factory=list)
    alerts: list[OpenedAlert] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    decided: Decided | None = None  # an AI node's decision, between the media stream and the redirect it asked for
    streaming: bool = False  # a media stream holds the call (its handler writes the outcome of a hang-up)
    seq: int = 0  # how many times the call's latest state was kept: the higher, the more recent
    # Not carried between requests: looked up, or read, again.
    now: datetime = Field(default_factory=lambda: utc_now(), exclude=True)
    facts: SkipValidation[list[Fact]] = Field(default_factory=list, exclude=True)
    lines: Any = Field(None, exclude=True)  # the AgentMessages of ``language`` (agent.flow.i18n), set by the AI node
    outcome: Outcome | None = Field(None, exclude=True)
    tools_used: list[ToolUse] = Field(default_factory=list, exclude=True)  # this request's tool calls, for watchers

    @field_validator("fields", "summary", "caller_number", mode="before")
    @classmethod
    def _printable(cls, value: Any) -> Any:
        return printable(value)  # whatever set them, they may be spoken in TwiML

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


def outcome_of(call: Call, end_reason: str) -> Outcome:
    """The one record a call ends with, whichever mode ran it."""
    timings = dict(call.timings_ms)
    timings["call"] = round((time.time() - call.started_at) * 1000, 1)
    return Outcome(
        call_id=call.call_id, intent=call.intent, branch=call.branch, end_reason=end_reason, fields=dict(call.fields),
        facts_used=list(call.facts_used), nodes=list(call.nodes), dials=[d.model_copy() for d in call.dials],
        briefing=call.briefing, alerts=[opened.alert for opened in call.alerts], summary=call.summary,
        transcript=[t for t in call.transcript if t.speaker != "system"], timings_ms=timings,
    )
