"""The briefing: what the engineer hears before being connected, and the alert's text."""

from __future__ import annotations

import asyncio
import json

from loguru import logger

from agent.core.call import Alert, Call
from agent.core.extract import speak_phone
from agent.flow.models import CreateAlertNode
from agent.conversation.openai_http import openai_client
from agent.core.settings import Settings


def spoken_briefing(call: Call, intent_label: str | None = None) -> str:
    """A short whisper: who called, how to call back, what is broken, and what is already known."""
    fields = call.fields
    who = fields.get("caller_name") or "A caller"
    number = fields.get("contact_number") or call.caller_number
    parts = [f"{who} called the hotline"]
    if intent_label:
        parts[0] += f" about: {intent_label.lower()}"
    parts[0] += "."
    if fields.get("incident"):
        said = str(fields["incident"]).strip()
        parts.append(f"They said: {said}" + ("" if said.endswith((".", "!", "?")) else "."))
    services = fields.get("affected_services")
    if services:
        parts.append("Affected: " + ", ".join(services) + ".")
    incidents = [f.split(":", 1)[1] for f in call.facts_used if f.startswith("open_incident:")]
    if [i for i in incidents if not i.startswith("report:")]:
        parts.append("An incident is already open: " + ", ".join(i for i in incidents if not i.startswith("report:")) + ".")
    if [i for i in incidents if i.startswith("report:")]:
        parts.append("Other callers reported the same problem.")
    if number:
        parts.append(f"Call back on {speak_phone(str(number))}.")
    return " ".join(parts)


def alert_details(call: Call, intent_label: str | None = None) -> str:
    """The alert body: the briefing plus every gathered field, one per line."""
    lines = [spoken_briefing(call, intent_label), ""]
    for name, value in call.fields.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        lines.append(f"{name}: {shown}")
    return "\n".join(lines).strip()


def caller_label(call: Call) -> str:
    return str(call.fields.get("caller_name") or call.caller_number or "an anonymous caller")


def alert_for(call: Call, node: CreateAlertNode, intent_label: str | None) -> Alert:
    """The alert a ``create_alert`` node opens; one key per intent and service, so one outage is one alert."""
    services = call.fields.get("affected_services") or []
    summary = node.summary or call.summary or f"{intent_label or 'Hotline call'}: {call.fields.get('incident') or caller_label(call)}"
    return Alert(
        summary=summary[:200], details=alert_details(call, intent_label), priority=node.priority, source=node.source,
        fields=dict(call.fields), dedup_key=f"{call.intent or 'call'}:{(services[0] if services else 'general').lower()}",
    )


SUMMARY_PROMPT = (
    "You brief an on-call engineer who is about to take a phone call. In at most two short spoken sentences, "
    "say who is calling, what is broken, which services, whether an incident is already open, and the callback "
    "number. Use only the facts given; never invent any."
)


async def engineer_briefing(call: Call, intent_label: str | None, settings: Settings) -> str:
    """The whisper: summarised by an OpenAI model when one is configured, else (or when it fails) the template."""
    template = spoken_briefing(call, intent_label)
    if not settings.briefing_model or settings.openai_api_key is None:
        return template
    facts = {"intent": intent_label, "fields": call.fields, "already_known": call.facts_used, "caller_id": call.caller_number}
    messages = [{"role": "system", "content": SUMMARY_PROMPT}, {"role": "user", "content": json.dumps(facts, default=str)}]
    try:
        async with openai_client(settings, settings.briefing_timeout_s) as client:
            answer = await asyncio.wait_for(
                client.chat.completions.create(model=settings.briefing_model, max_completion_tokens=120, messages=messages),
                settings.briefing_timeout_s,
            )
        choice = answer.choices[0]
        text = str(choice.message.content or "").strip()
    except Exception as exc:  # slow or failing model: the template is always good enough
        logger.warning("briefing model failed ({}); using the template", type(exc).__name__)
        return template
    if choice.finish_reason != "stop":  # cut off at the token limit, filtered, or a tool call: not a whole briefing
        logger.warning("briefing model stopped with {!r}; using the template", choice.finish_reason)
        return template
    return text[:600] or template
