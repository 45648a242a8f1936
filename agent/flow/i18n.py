"""Every fixed line a caller hears, in the call's language: resolved here, used by every path.

The deterministic engine (through :class:`agent.conversation.session.NodeSession`),
the simulator's walker, the live server's runner and the default fallback
plugin all take their lines from :func:`messages_for`: the built-in lines of
the language (:mod:`agent.core.lines`; English is ``AgentMessages``' defaults),
then what the flow gives for it (the node's ``messages`` when it is the node's
own language, ``languages: <code>: messages:`` otherwise).
"""

from __future__ import annotations

from typing import Any

from agent.core.lines import BUILT_IN
from agent.flow.models import AgentMessages, AiAgentNode

TWILIO_LANGUAGES = {
    "en": "en-US", "de": "de-DE", "fr": "fr-FR", "es": "es-ES", "nl": "nl-NL", "ru": "ru-RU", "it": "it-IT",
    "pt": "pt-PT", "pl": "pl-PL", "sv": "sv-SE", "da": "da-DK", "fi": "fi-FI", "no": "nb-NO", "cs": "cs-CZ",
    "tr": "tr-TR", "ja": "ja-JP",
}


def twilio_language(language: str | None) -> str:
    """The ``language`` attribute of ``<Say>`` and ``<Gather>`` for a language code."""
    return TWILIO_LANGUAGES.get(language or "en", "en-US")


def messages_for(node: AiAgentNode | None, language: str) -> AgentMessages:
    """The lines a call in ``language`` hears at ``node`` (None: no AI node; built-in lines only).

    Fields set on the result are the ones that came from somewhere other than
    the English defaults, so a plugin's own wording is replaced only by a translation.
    """
    values: dict[str, str] = dict(BUILT_IN.get(language, {}))
    if node is not None:
        if language == node.language:
            values.update({key: getattr(node.messages, key) for key in node.messages.model_fields_set})
        extra = node.languages.get(language)  # type: ignore[call-overload]
        if extra is not None:
            values.update(extra.messages)
    return AgentMessages.model_validate(values)


def node_line(node: Any, field: str, lines: AgentMessages, key: str | None = None) -> str:
    """A node's own text for ``field`` when the flow wrote one, else the call's line ``key`` (default: ``field``)."""
    if field in node.model_fields_set:
        return getattr(node, field)
    return getattr(lines, key or field)
