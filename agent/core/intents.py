"""What a caller can want: the intent model shared by plugins, the prompt and the deterministic engine."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Intent(BaseModel):
    """One thing a caller may want, with enough text for a model and a matcher to recognise it.

    ``examples`` are whole caller lines; ``keywords`` are single words or short
    phrases that on their own point at this intent (misspellings are forgiven).
    ``priority`` decides between two intents heard in one line: a caller who
    reports an outage and asks for a person wants the person (higher wins).
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    description: str
    examples: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    priority: int = 0
