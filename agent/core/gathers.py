"""Gathers: fields the agent collects, with their extraction, validation and read-back.

The same :meth:`Gather.normalise` validates values from the deterministic engine's
extractors and from the realtime model's ``record_details`` tool, so both
engines store the same canonical value.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from agent.core import extract


# A dash said out in a code ("AC dash 4471", "AC minus 4471").
_SPOKEN_DASH = re.compile(r"\s*\b(?:dash|hyphen|minus|bindestrich|strich)\b\s*", re.IGNORECASE)


class InvalidValue(ValueError):
    """A value a gather cannot accept; the message tells the caller (or model) what is wanted."""


@dataclass
class GatherContext:
    """What an extractor may know besides the caller's words."""

    caller_number: str | None = None
    region: str = "US"
    known_services: dict[str, list[str]] = field(default_factory=dict)  # service -> aliases
    today: date | None = None
    asked: bool = False
    # The field the agent asked for when the line came (None: what the call is about, or not known).
    # A line answering "what is wrong?" may name services in passing; one answering "your name?" names them only with a problem.
    asked_for: str | None = None


class Gather:
    """Base class of a field. Subclasses set the class attributes and override what differs."""

    name: ClassVar[str] = ""
    label: str = ""
    question: str = ""
    description: str = ""
    required: bool = True
    confirm: bool = False
    value_type: str = "string"
    reason: str | None = None  # the line (an ``AgentMessages`` key, e.g. "reason_email") saying why an answer did not fit
    whole_line: ClassVar[bool] = False  # read from the whole line even when the caller corrected themselves in it (a description)

    def json_schema(self) -> dict[str, Any]:
        """The property schema of this field in the ``record_details`` tool."""
        return {"type": "string", "description": self.description or self.label}

    def default(self, ctx: GatherContext) -> Any | None:
        """A value known before asking (e.g. the caller ID); it is confirmed with the caller."""
        return None

    def extract(self, text: str, ctx: GatherContext) -> Any | None:
        """Find a value in one caller line, or None. ``ctx.asked`` says the agent just asked for it."""
        text = text.strip()
        return text if ctx.asked and text else None

    def claims(self, text: str, ctx: GatherContext) -> Any | None:
        """A value of this field in a line that answered another question, when the line can only mean this field.

        A bare "Jane Doe" given when asked for the problem is the caller's name;
        an e-mail address is an e-mail address whatever was asked. None by default.
        """
        return None

    def normalise(self, value: Any, ctx: GatherContext) -> Any:
        """Return the canonical value or raise :class:`InvalidValue` with what is wanted."""
        if value is None or (isinstance(value, str) and not value.strip()):
            raise InvalidValue(f"{self.label or self.name} is empty")
        return value.strip() if isinstance(value, str) else value

    def readback(self, value: Any) -> str:
        """How the value is read back to the caller for confirmation."""
        return str(value)

    def readback_in(self, value: Any, lines: Any) -> str:
        """The read-back in the call's language (``lines``: its ``AgentMessages``); by default :meth:`readback`."""
        return self.readback(value)

    def configured(self, **overrides: Any) -> Gather:
        """A copy with flow-level overrides (question, label, required, confirm)."""
        clone = copy.copy(self)
        for key, value in overrides.items():
            if value is not None:
                setattr(clone, key, value)
        return clone


# Why an answer did not fit a flow-declared field, by its kind (plain text takes any answer: no reason).
_REASONS = {"number": "reason_number", "date": "reason_date", "boolean": "reason_yes_no", "choice": "reason_choice", "regex": "reason_format"}


class CustomGather(Gather):
    """A field declared in flow YAML: typed, with optional regex or choices, no code needed."""

    def __init__(
        self,
        name: str,
        *,
        label: str,
        question: str,
        value_type: str = "string",
        required: bool = True,
        regex: str | None = None,
        choices: list[str] | None = None,
        confirm: bool = False,
    ) -> None:
        self._name = name
        self.label = label
        self.question = question
        self.description = label
        self.value_type = value_type
        self.required = required
        self.regex = re.compile(regex) if regex else None
        self.choices = choices
        self.confirm = confirm
        self.reason = _REASONS.get("choice" if choices else "regex" if self.regex and value_type == "string" else value_type)

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._name

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"description": f"{self.label}: {self.question}"}
        if self.choices:
            schema.update(type="string", enum=list(self.choices))
        elif self.value_type == "number":
            schema["type"] = "number"
        elif self.value_type == "boolean":
            schema["type"] = "boolean"
        elif self.value_type == "date":
            schema.update(type="string", format="date")
        else:
            schema["type"] = "string"
            if self.regex:
                schema["pattern"] = self.regex.pattern
        return schema

    def extract(self, text: str, ctx: GatherContext) -> Any | None:
        if self.choices:
            return extract.choice(text, self.choices, loose=ctx.asked)
        if self.value_type == "number":
            return extract.number(text) if ctx.asked else None
        if self.value_type == "boolean":
            return extract.yes_no(text) if ctx.asked else None
        if self.value_type == "date":
            return extract.spoken_date(text, ctx.today) if ctx.asked else None
        if self.regex:
            candidates = [text, text.upper()]
            spoken = extract.spoken_digits(text)
            if ctx.asked:  # asked for it: digits and dashes may be spoken ("AC dash four four seven one two")
                candidates.append(_SPOKEN_DASH.sub("-", spoken).replace(" ", "").upper())
            found = [m for m in (self.regex.search(c) for c in candidates) if m is not None]
            if not found:
                return None
            match = max(found, key=lambda m: len(m.group(0)))  # "ac-55120": the whole code, not its digits
            digits = re.sub(r"\D", "", match.group(0))
            phone = extract.phone_number(text, ctx.region) if digits else None
            if phone and (digits in phone or digits.lstrip("0") in phone) and len(re.sub(r"\D", "", spoken)) > len(digits):
                return None  # a few digits of a phone number are the phone number
            if not ctx.asked and not (re.search(r"[^\W\d_]", match.group(0)) or self._named_in(text)):
                return None  # unasked, a bare "12345" is no customer ID; "customer ID 12345" or "AC-12345" is
            return match.group(0)
        if ctx.asked and extract.gives_no_value(text):
            return None  # "no, that's all" is no value of any field
        return super().extract(text, ctx)

    def _named_in(self, text: str) -> bool:
        """Whether a line names this field ("my customer ID is ...", "Kundennummer ...") by a word of its label."""
        label = {w for w in extract.words(self.label) if len(w) >= 2 and w not in extract.STOPWORDS}
        return bool(label & set(extract.words(text)))

    def normalise(self, value: Any, ctx: GatherContext) -> Any:
        if self.choices:
            picked = extract.choice(str(value), self.choices, loose=True)
            if picked is None:
                raise InvalidValue(f"{self.label} must be one of: {', '.join(self.choices)}")
            return picked
        if self.value_type == "number":
            number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else extract.number(str(value))
            if number is None:
                raise InvalidValue(f"{self.label} must be a number")
            return number
        if self.value_type == "boolean":
            answer = value if isinstance(value, bool) else extract.yes_no(str(value))
            if answer is None:
                raise InvalidValue(f"{self.label} must be yes or no")
            return answer
        if self.value_type == "date":
            day = extract.spoken_date(str(value), ctx.today)
            if day is None:
                raise InvalidValue(f"{self.label} must be a date")
            return day.isoformat()
        text = str(super().normalise(value, ctx))
        if self.regex:
            match = self.regex.search(text) or self.regex.search(text.upper())
            if match is None:
                raise InvalidValue(f"{self.label} does not have the expected format")
            return match.group(0)
        return text
