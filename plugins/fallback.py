"""The default fallback: say so, and take the node's fallback branch (normally a human)."""

from agent import hookimpl
from agent.fallback import FallbackDecision

_SAY = {
    "no_intent": "I'm not sure I can help with that myself, so let me put you through to someone who can.",
    "no_input": "I can't hear you, so I'll put you through to someone who can help.",
    "max_turns": "Let me put you through to someone who can help you further.",
    "max_duration": "Let me put you through to someone who can help you further.",
    "model_error": "I'm having a technical problem, so I'm putting you through to a person now.",
    "caller_request": "Of course, I'm putting you through to a person now.",
    "frustrated": "I'm putting you through to a person now.",
}


def default_fallback(call, reason) -> FallbackDecision:
    return FallbackDecision(say=_SAY.get(reason, _SAY["max_turns"]))


@hookimpl
def register_fallbacks(register):
    register("default", default_fallback)
