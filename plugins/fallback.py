"""The default fallback: say so, and take the node's fallback branch (normally a human).

Its lines are the call's ``fallback_<reason>`` messages, in the call's language
(``lines_of``: built in, or given by the flow under ``messages``/``languages``).
"""

from agent.plugin_api import Call, FallbackDecision, FallbackReason, hookimpl, lines_of


def default_fallback(call: Call, reason: FallbackReason) -> FallbackDecision:
    lines = lines_of(call)
    return FallbackDecision(say=getattr(lines, f"fallback_{reason}", None) or lines.fallback_max_turns)


@hookimpl
def register_fallbacks(register):
    register("default", default_fallback)
