"""The configuration types a plugin sees: which plugin a node uses, with what options, and the agent's fixed lines.

They are parts of a flow file, defined here in the core so that plugins,
enrichment and the alert platforms need nothing from the flow layer
(``agent.flow.models`` builds the node types on them).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Twilio's <Say> takes at most 4,096 characters with its basic voices (warning 13521:
# https://www.twilio.com/docs/api/errors/13521; tests/contracts/twilio/limits.yaml).
MAX_SAY_CHARS = 4096
Spoken = Annotated[str, Field(max_length=MAX_SAY_CHARS)]


class ConfigModel(BaseModel):
    """A part of a flow file: unknown keys are refused (a typo is an error, not a silent default)."""

    model_config = ConfigDict(extra="forbid")


class PluginRef(BaseModel):
    """A plugin a node uses (a source, an alert platform, an on-call directory); other keys go to the plugin."""

    model_config = ConfigDict(extra="allow")
    type: str
    name: str | None = Field(None, description="Names this use in logs and timings (default: its type).")
    timeout_ms: int | None = Field(None, ge=1, le=30000, description="This plugin's own time limit.")

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ModelRef(BaseModel):
    """The model an AI node talks through: a backend by name; other keys are that backend's options."""

    model_config = ConfigDict(extra="allow")
    backend: str = Field(description="A registered model backend (`voice-agent plugins` lists them), e.g. openai_realtime.")

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class SourceConfig(PluginRef):
    """One enrichment source."""

    cache_ttl_s: float | None = Field(
        None, ge=0, le=3600, description="Share this source's facts across calls for this long (default: the plugin's)."
    )


class EnrichmentConfig(ConfigModel):
    deadline_ms: int | None = Field(None, ge=0, le=30000)
    sources: list[SourceConfig] = Field(default_factory=list)


class RouteTarget(ConfigModel):
    type: Literal["number", "user", "on_call_schedule", "escalation_policy"]
    number: str | None = None
    id: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _needs_address(self) -> RouteTarget:
        if self.type == "number" and not self.number:
            raise ValueError("a `number` target needs `number`")
        if self.type != "number" and not self.id:
            raise ValueError(f"a `{self.type}` target needs `id`")
        return self


class AgentMessages(ConfigModel):
    """What the agent says at fixed moments; `{field}` placeholders are filled from the call."""

    no_input: Spoken = "Sorry, I didn't catch that."
    no_match: Spoken = "Sorry, I didn't understand."
    offer_human: Spoken = "I'm sorry this is frustrating. Would you like me to put you through to a person right now?"
    handover: Spoken = "I'm connecting you now."
    known_issue: Spoken = "We're already aware of this and our team is working on it."
    goodbye: Spoken = "Thank you for calling. Goodbye."
    fallback: Spoken = "Let me put you through to someone who can help."
    off_topic: Spoken = "I can help with incidents, outages, security issues and technical problems. What is the urgent matter?"
    ask_intent: Spoken = "What can I help you with?"
    anything_else: Spoken = "Is there anything else I can help you with, or is your problem a different one?"
    read_back: Spoken = "I have {value} as your {label}. Is that right?"
    read_back_again: Spoken = "Is {value} right? Please say yes or no."
    confirm_default: Spoken = "Can we reach you at {value}?"
    corrected: Spoken = "Thanks for correcting me."
    sorry: Spoken = "Sorry about that."
    carry_on: Spoken = "Alright, let's go on."
    skipped: Spoken = "No problem."
    thanks: Spoken = "Thank you."
    thanks_name: Spoken = "Thank you, {first_name}."
    # Outside the conversation proper: the live server, the fallback plugin, other nodes' default prompts.
    technical_problem: Spoken = "Sorry, I'm having a technical problem. Let's continue."
    something_went_wrong: Spoken = "Sorry, something went wrong. Let me put you through to someone."
    wrong_pin: Spoken = "That PIN is not correct."
    pin_prompt: Spoken = "Please enter your PIN, followed by the hash key."
    voicemail_prompt: Spoken = "Please leave a message after the tone."
    hold_message: Spoken = "Please hold while I connect you to the on-call engineer."
    already_reported: Spoken = "You're not the first to report this. I've added your call to the alert that is already open."
    fallback_no_intent: Spoken = "I'm not sure I can help with that myself, so let me put you through to someone who can."
    fallback_no_input: Spoken = "I can't hear you, so I'll put you through to someone who can help."
    fallback_max_turns: Spoken = "Let me put you through to someone who can help you further."
    fallback_max_duration: Spoken = "Let me put you through to someone who can help you further."
    fallback_model_error: Spoken = "I'm having a technical problem, so I'm putting you through to a person now."
    fallback_caller_request: Spoken = "Of course, I'm putting you through to a person now."
    fallback_frustrated: Spoken = "I'm putting you through to a person now."
    # The built-in gathers' questions.
    ask_caller_name: Spoken = "May I have your name, please?"
    ask_contact_number: Spoken = "What's the best number to call you back on?"
    ask_email: Spoken = "What's your e-mail address?"
    ask_incident: Spoken = "Can you describe what's wrong?"
    ask_affected_services: Spoken = "Which of our services are affected?"
    # Why an answer did not fit the field asked, said before the question again (one per kind of field).
    reason_name: Spoken = "That didn't sound like a name."
    reason_phone: Spoken = "I need a phone number with the area code."
    reason_email: Spoken = "That didn't sound like an e-mail address."
    reason_incident: Spoken = "I need a few words about what is wrong."
    reason_services: Spoken = "I need the name of the service that is affected."
    reason_number: Spoken = "I need a number."
    reason_date: Spoken = "I need a date."
    reason_yes_no: Spoken = "Please answer yes or no."
    reason_choice: Spoken = "That isn't one of the options."
    reason_format: Spoken = "That doesn't look like a valid {label}."
    # Said when the caller asks why a detail is needed ("why do you need that?"), before the question again.
    why_asked: Spoken = "The on-call engineer needs it to follow up on your report."
    # How facts are told to the caller.
    fact_incident: Spoken = "There is an open incident: {title}. Status: {status}."
    fact_incident_since: Spoken = "There is an open incident: {title}, which started at {time}, {ago}. Status: {status}."
    fact_reported: Spoken = "You're not the first to report this: {title} was {status}, and the on-call team has been alerted."
    fact_maintenance: Spoken = "There is planned maintenance: {summary}, until {time}."
    fact_status_page: Spoken = "Our status page says: {message}."
    fact_degraded: Spoken = "{service} is running with degraded performance."
    fact_partial_outage: Spoken = "{service} has a partial outage."
    fact_major_outage: Spoken = "{service} has a major outage."
    fact_under_maintenance: Spoken = "{service} is under maintenance."
    fact_operational: Spoken = "{service} is operational."
    ago_now: Spoken = "less than a minute ago"
    ago_minute: Spoken = "1 minute ago"
    ago_minutes: Spoken = "{minutes} minutes ago"
    ago_hours: Spoken = "{hours} hours ago"
    # Symbols of an e-mail address read back.
    word_at: Spoken = "at"
    word_dot: Spoken = "dot"
    word_underscore: Spoken = "underscore"
    word_dash: Spoken = "dash"

    @model_validator(mode="after")
    def _placeholders_known(self) -> AgentMessages:
        for name, text in self:
            placeholder_problem(name, text)
        return self


PLACEHOLDERS = ("value", "label", "first_name", "title", "status", "time", "ago", "summary", "message", "service", "minutes", "hours")


def placeholder_problem(name: str, text: str) -> None:
    """Raise when ``text`` (the message ``name``) has a placeholder no call can fill."""
    try:
        text.format(**{key: "" for key in PLACEHOLDERS})
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"message `{name}` has a placeholder that cannot be filled ({exc}); "
            "use {value}, {label} or {first_name} (in fact lines also {title}, {status}, {time}, {ago}, {summary}, "
            "{message}, {service}, {minutes}, {hours}), and write {{ }} for literal braces"
        ) from None
