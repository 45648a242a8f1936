"""What one ``ai_agent`` node knows during a call: its gathers, intents, facts and decision.

Both engines (offline and realtime) work on this object through the tools,
so a decision looks the same whichever engine made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import phonenumbers
from loguru import logger

from agent.core.call import Call, Decided
from agent.core.facts import (
    CustomFact,
    MaintenanceWindow,
    OpenIncident,
    ServiceState,
    StatusPageEntry,
)
from agent.core.fallback import FallbackDecision, FallbackReason
from agent.flow.models import AgentMessages, AiAgentNode, Flow
from agent.core.gathers import CustomGather, Gather, GatherContext
from agent.flow.i18n import messages_for
from agent.core.intents import Intent
from agent.core.registry import Registry

SpeakableFact = OpenIncident | MaintenanceWindow | CustomFact | StatusPageEntry | ServiceState
_SPEAK_ORDER = {OpenIncident: 0, MaintenanceWindow: 1, CustomFact: 2, StatusPageEntry: 3, ServiceState: 4}


COUNTRY_LANGUAGES = {
    "DE": "de", "AT": "de", "CH": "de", "LI": "de", "FR": "fr", "BE": "fr", "LU": "fr", "MC": "fr",
    "ES": "es", "MX": "es", "AR": "es", "CO": "es", "CL": "es", "PE": "es", "NL": "nl", "RU": "ru", "BY": "ru",
    "KZ": "ru", "IT": "it", "SM": "it", "PT": "pt", "BR": "pt", "PL": "pl", "SE": "sv", "DK": "da", "FI": "fi",
    "NO": "no", "CZ": "cs", "TR": "tr", "JP": "ja",
}


def starting_language(node: AiAgentNode, caller_number: str | None, default_region: str) -> str:
    """The node's language, or another it has a greeting in that is spoken in the caller ID's country.

    A language listed without a greeting is one the realtime agent switches to
    when it hears it; with a greeting (and messages), calls from its countries
    start in it, in the deterministic mode too.
    """
    language = COUNTRY_LANGUAGES.get(caller_region(caller_number, default_region)) if caller_number else None
    config = node.languages.get(language) if language else None  # type: ignore[call-overload]
    return language if config is not None and config.greeting else node.language


def call_language(flow: Flow, caller_number: str | None, default_region: str, visited: list[str] | tuple[str, ...] = ()) -> tuple[str, AgentMessages]:
    """The language of a call and its lines, for nodes outside the AI agent (prompts, hold, apologies).

    Decided as the AI agent decides it: by the AI node the call last passed
    (before any, the flow's first), from the caller ID's country.
    """
    ai = flow.ai_nodes()
    node = next((ai[n] for n in reversed(visited) if n in ai), None) or next(iter(ai.values()), None)
    language = starting_language(node, caller_number, default_region) if node is not None else flow.language
    return language, messages_for(node, language)


def caller_region(number: str | None, default: str) -> str:
    """The country of the caller ID, so '030 1234567' from a German caller reads as +49 30..."""
    if number:
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(number, default))
        except phonenumbers.NumberParseException:
            region = None
        if region and region != "ZZ":
            return region
    return default


@dataclass
class Decision:
    """How the AI node ends: which exit, which node next, and what to say before leaving."""

    exit: str  # "intent" | "known_issue" | "fallback" | "hangup"
    target: str | None
    say: str = ""
    intent: str | None = None
    reason: str | None = None

    def carried(self, *, said: bool = False) -> Decided:
        """The decision as it travels to the request that renders its branch (``said``: the caller heard ``say``)."""
        return Decided(exit=self.exit, target=self.target, say="" if said else self.say, intent=self.intent, reason=self.reason)


@dataclass
class NodeSession:
    node_id: str
    node: AiAgentNode
    call: Call
    registry: Registry
    region: str = "US"
    timezone: str = "UTC"
    gathers: list[Gather] = field(default_factory=list)
    intents: dict[str, Intent] = field(default_factory=dict)
    decision: Decision | None = None
    language: str = "en"
    messages: AgentMessages = field(default_factory=AgentMessages)
    greeting: str = ""
    voice: str = "marin"

    @classmethod
    def build(cls, node_id: str, node: AiAgentNode, call: Call, registry: Registry, *, region: str = "US", timezone: str = "UTC") -> NodeSession:
        ctx = cls(node_id, node, call, registry, region=region, timezone=timezone)
        ctx.language = starting_language(node, call.caller_number, region)
        extra = node.languages.get(ctx.language) if ctx.language != node.language else None  # type: ignore[call-overload]
        ctx.messages = messages_for(node, ctx.language)
        call.language, call.lines = ctx.language, ctx.messages  # what the fallback plugin and later nodes say it in
        ctx.greeting = (extra.greeting if extra and extra.greeting else node.greeting)
        ctx.voice = (extra.voice if extra and extra.voice else node.voice)
        for config in node.gathers:
            if config.type is not None:
                gather: Gather = CustomGather(
                    config.name, label=config.label or config.name.replace("_", " "), question=config.question or "",
                    value_type=config.type, required=config.required, regex=config.regex, choices=config.choices,
                    confirm=bool(config.confirm),
                )
            elif config.name in registry.gathers:
                asked = f"ask_{config.name}"  # a built-in gather's question, translated (or given) for this language
                translated = getattr(ctx.messages, asked) if asked in ctx.messages.model_fields_set else None
                gather = registry.gathers[config.name].configured(
                    question=config.question or translated, label=config.label, required=config.required, confirm=config.confirm
                )
            else:
                logger.warning("gather {} is not installed; the node goes on without it", config.name)
                continue
            ctx.gathers.append(gather)
        for name in node.intents:
            if name in registry.intents:
                ctx.intents[name] = registry.intents[name]
            else:
                logger.warning("intent {} is not installed; the node goes on without it", name)
        return ctx

    def gather(self, name: str) -> Gather | None:
        return next((g for g in self.gathers if g.name == name), None)

    def gather_context(self, *, asked: bool = False) -> GatherContext:
        return GatherContext(
            caller_number=self.call.caller_number, region=caller_region(self.call.caller_number, self.region),
            known_services=self.call.known_services(), today=self.call.now.date(), asked=asked,
        )

    def missing(self, *, required_only: bool = True) -> list[Gather]:
        return [g for g in self.gathers if g.name not in self.call.fields and (g.required or not required_only)]

    def related_facts(self, services: list[str]) -> list[SpeakableFact]:
        """Disclosed facts about the named services, most telling first.

        Open incidents, then maintenance, then plugins' custom facts and status
        pages, then non-operational service states (left out where an incident or
        maintenance already explains them).
        """
        wanted = {s.lower() for s in services}
        found: list[SpeakableFact] = []
        for fact in self.call.facts:
            if not fact.disclose or type(fact) not in _SPEAK_ORDER:
                continue
            if isinstance(fact, ServiceState):
                if fact.status == "operational":
                    continue
                names = {fact.service.lower(), *(a.lower() for a in fact.aliases)}
            elif isinstance(fact, StatusPageEntry):
                names = {c.lower() for c in fact.components}
            else:
                names = {n.lower() for n in fact.services}
            if wanted & names:
                found.append(fact)
        found.sort(key=lambda f: _SPEAK_ORDER[type(f)])
        explained = {s.lower() for f in found if isinstance(f, (OpenIncident, MaintenanceWindow)) for s in f.services}
        return [f for f in found if not (isinstance(f, ServiceState) and f.service.lower() in explained)]

    def fallback(self, reason: FallbackReason) -> Decision:
        """Ask the node's fallback plugin what to do; a failing plugin still leads to a human."""
        handler = self.registry.fallbacks.get(self.node.fallback_plugin)
        decision: FallbackDecision | None = None
        if handler is not None:
            try:
                decision = handler(self.call, reason)
            except Exception as exc:
                logger.warning("fallback plugin {} failed: {!r}", self.node.fallback_plugin, exc)
        if decision is None:
            decision = FallbackDecision(say=self.messages.fallback)
        target = decision.branch if decision.branch in self.nodes_branched_to() else self.node.fallback
        self.decision = Decision("fallback", target, say=decision.say, reason=reason)
        return self.decision

    def nodes_branched_to(self) -> set[str]:
        """The ids of the nodes this node's branches lead to: where a fallback plugin may send the call."""
        return {t for t in self.node.branches().values() if t}
