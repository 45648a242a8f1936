"""Fallback decisions: what the agent does when nothing else matches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

FallbackReason = Literal["no_intent", "no_input", "max_turns", "max_duration", "model_error", "caller_request", "frustrated"]
"""Why the fallback was reached: no intent matched, the caller said nothing, too many turns, the call ran
too long, the model failed, the caller asked for a person, or the caller sounds frustrated."""


@dataclass
class FallbackDecision:
    """What a fallback handler decided: the line to say, and where the call goes.

    ``branch`` None means the node's own ``fallback`` branch; otherwise the id
    of a node the node already branches to (any other id also means ``fallback``).
    """

    say: str
    branch: str | None = None


class FallbackHandler(Protocol):
    """What ``register_fallbacks`` registers: ``handler(call, reason) -> FallbackDecision``.

    Called synchronously, mid-call: decide quickly, without network calls.
    ``agent.plugin_api.lines_of(call)`` gives the call's lines in its language
    (``fallback_<reason>``). A handler that raises is replaced by the node's
    ``fallback`` branch, so the caller still reaches a human.
    """

    def __call__(self, call: Any, reason: FallbackReason) -> FallbackDecision: ...
