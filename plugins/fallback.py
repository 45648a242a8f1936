"""The default fallback: say so, and take the node's fallback branch (normally a human).

Its lines are the call's ``fallback_<reason>`` messages, in the call's language
(agent.flow.i18n: built in, or given by the flow under ``messages``/``languages``).
"""

from agent import hookimpl
from agent.core.fallback import FallbackDecision
from agent.flow.i18n import lines_of


def default_fallback(call, reason) -> FallbackDecision:
    lines = lines_of(call)
    return FallbackDecision(say=getattr(lines, f"fallback_{reason}", None) or lines.fallback_max_turns)


@hookimpl
def register_fallbacks(register):
    register("default", default_fallback)
