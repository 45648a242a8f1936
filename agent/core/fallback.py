"""Fallback decisions: what the agent does when nothing else matches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

FallbackReason = Literal["no_intent", "no_input", "max_turns", "max_duration", "model_error", "caller_request", "frustrated"]


@dataclass
class FallbackDecision:
    """``branch`` None means the node's own ``fallback`` branch."""

    say: str
    branch: str | None = None


class FallbackHandler(Protocol):
    def __call__(self, call: Any, reason: FallbackReason) -> FallbackDecision: ...
