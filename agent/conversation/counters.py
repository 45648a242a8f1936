"""Per-question miss counters: how often the caller was not understood (no-match) or said nothing (no-input).

One count per question (a field's name, or the intent question), as Dialogflow
CX counts them per parameter; past the node's ``max_no_match`` or
``max_no_input`` the call goes to the fallback branch. The deterministic engine
and the realtime path's tools count with this same class, so both escalate
the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

INTENT_QUESTION = "__intent__"  # the key of "what can I help you with?"

Miss = Literal["no_match", "no_input"]


@dataclass
class FieldCounters:
    max_no_match: int
    max_no_input: int
    no_match: dict[str, int] = field(default_factory=dict)  # the dicts may be a serialised dialogue state's own
    no_input: dict[str, int] = field(default_factory=dict)

    def miss(self, question: str | None, kind: Miss) -> bool:
        """Count one more miss of ``kind`` for ``question``; True once it is past the node's limit."""
        counts = self.no_match if kind == "no_match" else self.no_input
        key = question or INTENT_QUESTION
        counts[key] = counts.get(key, 0) + 1
        return counts[key] > (self.max_no_match if kind == "no_match" else self.max_no_input)

    def count(self, question: str | None, kind: Miss) -> int:
        counts = self.no_match if kind == "no_match" else self.no_input
        return counts.get(question or INTENT_QUESTION, 0)
