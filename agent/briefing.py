"""The briefing: what the engineer hears before being connected, and the alert's text."""

from __future__ import annotations

from agent.call import Alert, Call
from agent.extract import speak_phone
from agent.flow.models import CreateAlertNode


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
    incidents = [f for f in call.facts_used if f.startswith("open_incident:")]
    if incidents:
        parts.append("An incident is already open: " + ", ".join(i.split(":", 1)[1] for i in incidents) + ".")
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
