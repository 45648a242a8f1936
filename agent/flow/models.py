"""Pydantic models of a call flow and its node types.

A flow is a mapping of node ids to nodes; every branch names the id of the
node the call continues with. A branch left empty ends the call there
(after the node's own message), which is how a flow says "hang up".
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any, Literal, Union

from pydantic import Field, ValidationInfo, field_validator, model_validator

from agent.core.config import (  # noqa: F401 - the flow's shared config types, defined in the core for plugins
    MAX_SAY_CHARS,
    PLACEHOLDERS,
    AgentMessages,
    ConfigModel as _Model,
    EnrichmentConfig,
    ModelRef,
    PluginRef,
    RouteTarget,
    SourceConfig,
    Spoken,
    placeholder_problem,
)
from agent.core.lines import BUILT_IN, LANGUAGE_NAMES

NodeId = str
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ALL_DAYS: list[Day] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Node(_Model):
    name: str | None = Field(None, description="Human label shown in diagrams and logs.")

    def branches(self) -> dict[str, NodeId | None]:
        """Outcome name -> target node id (None: the call ends here)."""
        return {}

    @property
    def ends_call(self) -> bool:
        """Whether this node type always ends the call."""
        return False


class AudioMessageNode(_Node):
    type: Literal["audio_message"]
    text: Spoken | None = None
    audio_url: str | None = None
    next: NodeId | None = None

    @model_validator(mode="after")
    def _needs_content(self) -> AudioMessageNode:
        if not self.text and not self.audio_url:
            raise ValueError("an audio_message needs `text` or `audio_url`")
        if self.text and self.audio_url:
            raise ValueError(
                "both `text` and `audio_url`: only the recording would be played and the text never said; "
                "keep one: remove `text` to play the recording, or `audio_url` to speak the text"
            )
        return self

    def branches(self) -> dict[str, NodeId | None]:
        return {"next": self.next}


class HoursRule(_Model):
    days: list[Day] = Field(default_factory=lambda: list(ALL_DAYS))
    start: time = time(0, 0)
    end: time = time(23, 59, 59)

    @field_validator("end", mode="before")
    @classmethod
    def _midnight(cls, value: Any) -> Any:
        return time(23, 59, 59) if value in ("24:00", "24:00:00") else value

    @model_validator(mode="after")
    def _can_match(self) -> HoursRule:
        if not self.days:
            raise ValueError("no `days`: this window never opens; list the days it opens on, e.g. [mon, tue, wed, thu, fri]")
        if self.start == self.end:
            at = f"{self.start:%H:%M}"
            raise ValueError(
                f"`start` and `end` are both {at}: this window never opens; "
                'set `end` after `start`, or before it for hours that run past midnight (e.g. "22:00" to "06:00"); '
                'for the whole day write start "00:00", end "24:00"'
            )
        return self


class SupportHoursNode(_Node):
    type: Literal["support_hours"]
    timezone: str = "UTC"
    hours: list[HoursRule] = Field(default_factory=lambda: [HoursRule()])
    during: NodeId | None = None
    outside: NodeId | None = None

    @model_validator(mode="after")
    def _has_hours(self) -> SupportHoursNode:
        if not self.hours:
            raise ValueError(
                "`hours` is empty: every call would go to `outside`; "
                "add a window such as {days: [mon, tue, wed, thu, fri], start: \"08:00\", end: \"18:00\"}, "
                "or leave `hours` out for around the clock"
            )
        return self

    def branches(self) -> dict[str, NodeId | None]:
        return {"during": self.during, "outside": self.outside}


class VoicemailNode(_Node):
    type: Literal["voicemail"]
    prompt: Spoken = "Please leave a message after the tone."
    max_seconds: int = Field(120, ge=5, le=3600)
    create_alert: bool = True
    platform: PluginRef | None = Field(None, description="Where the voicemail's alert is opened; empty: logged only.")
    left: NodeId | None = None
    not_left: NodeId | None = None

    def branches(self) -> dict[str, NodeId | None]:
        return {"left": self.left, "not_left": self.not_left}


class CreateAlertNode(_Node):
    type: Literal["create_alert"]
    summary: str | None = Field(None, description="Alert title; default: built from the call.")
    priority: Literal["high", "low"] = "high"
    source: str | None = Field(None, description="Alert source id at the incident platform.")
    platform: PluginRef | None = Field(None, description="Where the alert is opened (an alert-platform plugin); empty: logged only.")
    already_reported: Spoken = Field(
        "You're not the first to report this. I've added your call to the alert that is already open.",
        description="Said when another caller already reported the same problem (same intent and service); empty: say nothing.",
    )
    next: NodeId | None = None

    def branches(self) -> dict[str, NodeId | None]:
        return {"next": self.next}


class RouteCallNode(_Node):
    type: Literal["route_call"]
    targets: list[RouteTarget] = Field(min_length=1)
    call_style: Literal["ordered", "random", "parallel"] = "ordered"
    ring_timeout: int = Field(20, ge=5, le=120)
    retries: int = Field(0, ge=0, le=5)
    whisper: bool = Field(True, description="The engineer hears the briefing before being connected.")
    whisper_accept: bool = Field(
        True, description="The engineer presses 1 to take the call (2: hear the caller's words, 3: pass), so voicemail never does."
    )
    hold_message: Spoken = "Please hold while I connect you to the on-call engineer."
    on_call: PluginRef | None = Field(
        None, description="Who is on call for schedule, policy and user targets (a directory plugin); empty: enrichment facts."
    )
    completed: NodeId | None = None
    no_answer: NodeId | None = None

    def branches(self) -> dict[str, NodeId | None]:
        return {"completed": self.completed, "no_answer": self.no_answer}


IvrKey = Literal["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#"]


class IvrMenuNode(_Node):
    type: Literal["ivr_menu"]
    prompt: Spoken
    options: dict[IvrKey, NodeId | None] = Field(min_length=1)
    retries: int = Field(2, ge=0, le=5)
    no_input: NodeId | None = None

    @field_validator("options", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    def branches(self) -> dict[str, NodeId | None]:
        out: dict[str, NodeId | None] = {f"key {k}": v for k, v in self.options.items()}
        out["no_input"] = self.no_input
        return out


class PinCodeNode(_Node):
    type: Literal["pin_code"]
    prompt: Spoken = "Please enter your PIN, followed by the hash key."
    pins: list[Annotated[str, Field(pattern=r"^\d{3,12}$")]] = Field(min_length=1)
    attempts: int = Field(3, ge=1, le=5)
    match: NodeId | None = None
    no_match: NodeId | None = None

    @field_validator("pins", mode="before")
    @classmethod
    def _pins_as_text(cls, value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list) else value

    def branches(self) -> dict[str, NodeId | None]:
        return {"match": self.match, "no_match": self.no_match}


class BlockNumbersNode(_Node):
    type: Literal["block_numbers"]
    numbers: list[str] = Field(default_factory=list)
    block_anonymous: bool = False
    allowed: NodeId | None = None
    blocked: NodeId | None = None

    @field_validator("numbers", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list) else value

    def branches(self) -> dict[str, NodeId | None]:
        return {"allowed": self.allowed, "blocked": self.blocked}


class HangupNode(_Node):
    type: Literal["hangup"]
    text: Spoken | None = None

    @property
    def ends_call(self) -> bool:
        return True


class GatherConfig(_Model):
    """A field the AI node collects: a built-in gather by name, or a custom one declared here."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    required: bool = True
    label: str | None = None
    question: str | None = None
    type: Literal["string", "number", "date", "boolean"] | None = Field(
        None, description="Set for a custom field; leave empty for a built-in gather."
    )
    regex: str | None = None
    choices: list[str] | None = None
    confirm: bool | None = Field(None, description="Read the value back to the caller.")

    @model_validator(mode="after")
    def _custom_needs_question(self) -> GatherConfig:
        if self.type is not None and not self.question:
            raise ValueError(f"custom field `{self.name}` needs a `question`")
        return self


def lines_missing(language: str, given: Any) -> list[str]:
    """The message keys a call in ``language`` has no text for: no built-in line and none in ``given``."""
    if language in BUILT_IN:
        return []
    return [key for key in AgentMessages.model_fields if key not in given]


def _missing_lines_problem(language: str, missing: list[str], where: str) -> str:
    name = LANGUAGE_NAMES.get(language, language)
    return (
        f"calls start in `{language}` ({name}), which has no built-in lines (built in: {', '.join(sorted(BUILT_IN))}), "
        f"so a caller would hear English at fixed moments; give these {len(missing)} lines in {name} under `{where}`: "
        + ", ".join(missing)
    )


LanguageCode = Literal["en", "de", "fr", "es", "nl", "ru", "it", "pt", "pl", "sv", "da", "fi", "no", "cs", "tr", "ja"]


class LanguageConfig(_Model):
    """The agent in one more language; anything left out falls back to the node's own."""

    voice: str | None = Field(None, description="Realtime voice for calls that start in this language.")
    greeting: Spoken | None = None
    messages: dict[str, str] = Field(default_factory=dict, description="`messages` in this language.")

    @field_validator("messages")
    @classmethod
    def _known_messages(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(AgentMessages.model_fields))
        if unknown:
            raise ValueError(f"unknown messages {unknown}; use the keys of `messages`: {', '.join(AgentMessages.model_fields)}")
        for name, text in value.items():
            placeholder_problem(name, text)
        return value


class AiAgentNode(_Node):
    type: Literal["ai_agent"]
    greeting: Spoken
    intents: dict[str, NodeId | None] = Field(min_length=1, description="intent name -> branch")
    gathers: list[GatherConfig] = Field(default_factory=list)
    enrichment: EnrichmentConfig = Field(default_factory=EnrichmentConfig)
    messages: AgentMessages = Field(default_factory=AgentMessages)
    known_issue: NodeId | None = Field(None, description="Branch when the caller's problem is already handled.")
    fallback: NodeId | None = Field(None, description="Catch-all: no intent, model failure, silence, too many turns.")
    fallback_plugin: str = "default"
    language: LanguageCode = Field("en", description="The language the agent starts in.")
    languages: dict[LanguageCode, LanguageConfig] = Field(
        default_factory=dict,
        description="Other languages the agent speaks: a call starts in one when the caller ID's country speaks it, "
        "and the realtime agent switches to one when the caller speaks it.",
    )
    model: ModelRef | None = Field(
        None, description="The model backend and its options (default: the VOICE_AGENT_MODEL_BACKEND setting's, with its defaults).",
    )
    voice: str = "marin"
    speed: float = Field(1.0, ge=0.25, le=1.5)
    verbosity: Literal["brief", "normal", "detailed"] = "brief"
    max_turns: int = Field(20, ge=1, le=200)
    max_duration_s: int = Field(300, ge=10, le=3600, description="The longest this node may talk with the caller (realtime and <Gather> alike); then it hands over.")
    max_no_input: int = Field(2, ge=0, le=10)
    max_no_match: int = Field(2, ge=0, le=10)
    silence_reprompt_s: float = Field(6, gt=0)
    silence_end_s: float = Field(20, gt=0, description="Hand over once the caller has said nothing for this long in all, re-prompts included.")

    @field_validator("language")
    @classmethod
    def _has_lines(cls, value: str, info: ValidationInfo) -> str:
        messages = info.data.get("messages")
        if messages is not None:
            missing = lines_missing(value, messages.model_fields_set)
            if missing:
                raise ValueError(_missing_lines_problem(value, missing, "messages:"))
        return value

    @field_validator("languages")
    @classmethod
    def _starting_languages_have_lines(cls, value: dict[str, LanguageConfig], info: ValidationInfo) -> dict[str, LanguageConfig]:
        for code, config in value.items():
            if config.greeting and code != info.data.get("language"):  # calls from its countries start in it
                missing = lines_missing(code, config.messages)
                if missing:
                    raise ValueError(_missing_lines_problem(code, missing, f"languages: {code}: messages:"))
        return value

    @field_validator("languages", mode="before")
    @classmethod
    def _list_as_mapping(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        if not all(isinstance(code, str) for code in value):
            raise ValueError("list language codes, e.g. [en, de], or map each code to its greeting and voice")
        return {code: {} for code in value}

    @field_validator("gathers", mode="before")
    @classmethod
    def _names_as_configs(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    def branches(self) -> dict[str, NodeId | None]:
        out: dict[str, NodeId | None] = {f"intent {k}": v for k, v in self.intents.items()}
        out["known_issue"] = self.known_issue
        out["fallback"] = self.fallback
        return out


Node = Annotated[
    Union[
        AudioMessageNode,
        AiAgentNode,
        RouteCallNode,
        SupportHoursNode,
        VoicemailNode,
        CreateAlertNode,
        IvrMenuNode,
        PinCodeNode,
        BlockNumbersNode,
        HangupNode,
    ],
    Field(discriminator="type"),
]

NODE_TYPES = [
    "audio_message", "ai_agent", "route_call", "support_hours", "voicemail",
    "create_alert", "ivr_menu", "pin_code", "block_numbers", "hangup",
]


class AfterCallConfig(_Model):
    """What goes with the call's alerts besides the gathered details (to the incident platform only, never to disk)."""

    record: bool = Field(False, description="Record the whole call (Twilio); the recording's link goes with the alert.")
    notice: Spoken = Field("", description="Said first when recording, e.g. 'This call is recorded.' (check your local law).")
    transcript: bool = Field(True, description="Attach the conversation's transcript to the alert.")
    transcribe: bool = Field(
        False, description="After the call, transcribe its recordings (an OpenAI model) and add the text to the alert.",
    )


class Flow(_Model):
    name: str
    description: str = ""
    language: str = "en"
    timezone: str = Field("UTC", description="How times are spoken to callers.")
    start: NodeId
    after_call: AfterCallConfig = Field(default_factory=AfterCallConfig)
    nodes: dict[str, Node] = Field(min_length=1)

    def ai_nodes(self) -> dict[str, AiAgentNode]:
        return {k: n for k, n in self.nodes.items() if isinstance(n, AiAgentNode)}
