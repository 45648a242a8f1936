"""The model's tools: a stable contract whose schemas come from the node's configuration.

``record_details``, ``route_call``, ``check_status`` and ``end_call`` are the
only ways an engine acts on a call. Every call is validated here; a call
outside the contract is refused with a reason the model can act on, and
nothing here raises into the call.
"""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger

from agent.conversation.counters import INTENT_QUESTION, FieldCounters
from agent.conversation.session import NodeSession, Decision, SpeakableFact
from agent.core.call import MAX_TOOL_USES, ToolUse
from agent.core.extract import services as match_services
from agent.core.facts import MaintenanceWindow, OpenIncident, ServiceState, StatusPageEntry
from agent.core.gathers import InvalidValue
from agent.core.logs import remember_pii
from agent.core.printable import printable

MAX_TEXT = 500
MAX_SERVICE = 200
MAX_ITEMS = 20
MAX_ARGUMENTS_CHARS = 16 * 1024  # a whole tool call's arguments as JSON; far above what the limits above allow
PII_FIELDS = ("caller_name", "email", "contact_number")  # masked in every log line while the call lasts
HANDLED_FACTS = (OpenIncident, MaintenanceWindow, StatusPageEntry)  # facts saying someone is on it
KNOWN_ISSUE_FACTS = (*HANDLED_FACTS, ServiceState)  # facts behind end_call(known_issue): the problem is known
OTHER = "other"  # route_call's way to say that no intent fits
END_REASONS = ["known_issue", "caller_done", "wrong_number", "abusive"]


def _limited(schema: dict[str, Any]) -> dict[str, Any]:
    """A field's schema with the size limits ``record_details`` enforces, so the model knows them."""
    schema = dict(schema)
    if schema.get("type") == "string" and "enum" not in schema:
        schema.setdefault("maxLength", MAX_TEXT)
    elif schema.get("type") == "array":
        schema.setdefault("maxItems", MAX_ITEMS)
        items = dict(schema.get("items") or {})
        if items.get("type") == "string":
            items.setdefault("maxLength", MAX_TEXT)
        schema["items"] = items
    return schema


def _too_long(value: Any) -> str | None:
    """Why a value is over the size limits, or None."""
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return f"too long (at most {MAX_TEXT} characters)"
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            return f"too many items (at most {MAX_ITEMS})"
        if any(isinstance(item, str) and len(item) > MAX_TEXT for item in value):
            return f"an item is too long (at most {MAX_TEXT} characters each)"
    return None


class ToolBox:
    """The four tools bound to one AI node of one call.

    ``counters`` count per field how often the model saved a value that did
    not fit (no-match) and how often the caller said nothing while a field was
    open (no-input, see :meth:`note_no_input`); past the node's limits the call
    goes to the fallback branch, as the deterministic engine's does.
    """

    def __init__(self, ctx: NodeSession, counters: FieldCounters | None = None) -> None:
        self.ctx = ctx
        self.counters = counters or FieldCounters(ctx.node.max_no_match, ctx.node.max_no_input)
        self.caller_spoke = False  # set by the tool handlers on the caller's first words (see open_question)

    # -- schemas -----------------------------------------------------------------
    def schemas(self) -> list[dict[str, Any]]:
        """OpenAI function-tool schemas for this node (``{"type": "function", "name", ...}``)."""
        fields = {g.name: _limited(g.json_schema()) for g in self.ctx.gathers}
        intents = sorted(self.ctx.intents)
        intent_help = "; ".join(f"{n}: {self.ctx.intents[n].description}" for n in intents)
        intent_help += f"; {OTHER}: none of these fits (the call goes to the catch-all branch)"
        return [
            {
                "type": "function",
                "name": "record_details",
                "description": "Save details the caller gave. Answers what was saved, what was invalid and why, and which required details are still missing.",
                "parameters": {"type": "object", "properties": fields, "required": [], "additionalProperties": False},
            },
            {
                "type": "function",
                "name": "route_call",
                "description": f"Hand the call on once the caller's purpose is clear. Intents: {intent_help}",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "intent": {"type": "string", "enum": [*intents, OTHER]},
                        "summary": {"type": "string", "description": "One line for the engineer.", "maxLength": MAX_TEXT},
                        "details_declined": {"type": "boolean", "description": "True only if the caller refused to give the missing details."},
                    },
                    "required": ["intent", "summary"],
                    "additionalProperties": False,
                },
            },
            {
                "type": "function",
                "name": "check_status",
                "description": "Look up what is known about a service: open incidents, maintenance, status.",
                "parameters": {
                    "type": "object",
                    "properties": {"service": {"type": "string", "maxLength": MAX_SERVICE}},
                    "required": ["service"],
                    "additionalProperties": False,
                },
            },
            {
                "type": "function",
                "name": "end_call",
                "description": "End the conversation without routing, e.g. the problem is already known and the caller needs nothing more. "
                "known_issue is accepted only when check_status found the service the caller reported.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "reason": {"type": "string", "enum": END_REASONS},
                        "summary": {"type": "string", "maxLength": MAX_TEXT},
                    },
                    "required": ["reason"],
                    "additionalProperties": False,
                },
            },
        ]

    # -- dispatch ----------------------------------------------------------------
    async def call(self, name: str, arguments: dict[str, Any] | str | None) -> dict[str, Any]:
        """Run one tool call; always answers a dict, with ``error`` when refused (kept in ``call.tools_used``)."""
        result = await self._run(name, arguments)
        used = self.ctx.call.tools_used
        if len(used) < MAX_TOOL_USES:
            used.append(ToolUse(name=str(name)[:MAX_SERVICE], arguments=arguments if isinstance(arguments, dict) else {"raw": str(arguments)[:MAX_SERVICE]}, result=result))
        return result

    async def _run(self, name: str, arguments: dict[str, Any] | str | None) -> dict[str, Any]:
        handlers = {
            "record_details": self.record_details,
            "route_call": self.route_call,
            "check_status": self.check_status,
            "end_call": self.end_call,
        }
        handler = handlers.get(name) if isinstance(name, str) else None
        if handler is None:
            return {"error": f"unknown tool {str(name)[:MAX_SERVICE]!r}; use one of record_details, route_call, check_status, end_call"}
        if isinstance(arguments, str):
            if len(arguments) > MAX_ARGUMENTS_CHARS:
                return {"error": f"arguments are too long (at most {MAX_ARGUMENTS_CHARS} characters of JSON); send shorter values"}
            try:
                arguments = json.loads(arguments or "{}")
            except (ValueError, RecursionError):
                return {"error": "arguments are not valid JSON"}
        if not isinstance(arguments, dict):
            return {"error": "arguments must be a JSON object"}
        try:
            arguments = printable(arguments)
        except RecursionError:
            return {"error": "arguments are nested too deeply"}
        if self.ctx.decision is not None and name != "check_status":
            return {"error": "the call has already been handed on"}
        try:
            return handler(arguments)
        except Exception as exc:  # a tool bug must not end the call
            logger.exception("tool {} failed", name)
            return {"error": f"the tool failed ({type(exc).__name__}); try again or route the call"}

    # -- tools -------------------------------------------------------------------
    def record_details(self, args: dict[str, Any]) -> dict[str, Any]:
        saved: dict[str, Any] = {}
        invalid: dict[str, str] = {}
        unknown = [k for k in args if self.ctx.gather(k) is None]
        gather_ctx = self.ctx.gather_context(asked=True)
        for key, value in args.items():
            gather = self.ctx.gather(key)
            if gather is None:
                continue
            too_long = _too_long(value)
            if too_long:
                invalid[key] = too_long
                continue
            try:
                saved[key] = gather.normalise(value, gather_ctx)
            except InvalidValue as exc:
                invalid[key] = str(exc)
        self.ctx.call.fields.update(saved)
        remember_pii(*(v for k, v in saved.items() if k in PII_FIELDS))
        result: dict[str, Any] = {"saved": saved, "missing": [g.name for g in self.ctx.missing()]}
        if invalid:
            result["invalid"] = invalid
            past_limit = [key for key in invalid if key not in saved and self.counters.miss(key, "no_match")]
            if past_limit and self.ctx.decision is None:
                self.ctx.fallback("no_intent")
                result["handed_on"] = (
                    f"{', '.join(past_limit)} could not be understood after {self.ctx.node.max_no_match + 1} tries; "
                    "the call goes to the fallback branch: say goodbye briefly"
                )
        if unknown:
            result["error"] = f"unknown fields {unknown}; the fields are {[g.name for g in self.ctx.gathers]}"
        return result

    def open_question(self) -> str:
        """The question a silence counts against, as the deterministic engine asks them.

        The greeting asks what the caller wants, so until the caller has said
        anything (or a field was saved) that is the intent question; then the
        first missing field, else the intent question.
        """
        missing = self.ctx.missing()
        if not self.caller_spoke and not self.ctx.call.fields:
            return INTENT_QUESTION
        return missing[0].name if missing else INTENT_QUESTION

    def note_no_input(self) -> bool:
        """Count a silence against the question now open (:meth:`open_question`).

        True once that question is past ``max_no_input``: the caller's silence
        then ends the node on its fallback branch, as in the deterministic engine
        (the realtime path's tool handlers call this at each re-prompt time).
        """
        return self.counters.miss(self.open_question(), "no_input")

    def route_call(self, args: dict[str, Any]) -> dict[str, Any]:
        intent = args.get("intent")
        if not isinstance(intent, str):
            return {"error": f"intent must be text, one of {sorted(self.ctx.intents) + [OTHER]}"}
        if intent == OTHER:
            self.ctx.call.summary = str(args.get("summary") or "")[:MAX_TEXT] or self.ctx.call.summary
            self.ctx.fallback("no_intent")
            return {"ok": True, "routed_to": "fallback"}
        if intent not in self.ctx.intents:
            return {"error": f"unknown intent {intent!r}; choose one of {sorted(self.ctx.intents) + [OTHER]}"}
        missing = [g.name for g in self.ctx.missing()]
        if missing and intent != "talk_to_human" and not args.get("details_declined"):
            return {"error": f"still missing {missing}; ask for them first, or set details_declined if the caller refused"}
        summary = str(args.get("summary") or "")[:MAX_TEXT]
        target = self.ctx.node.intents[intent]
        self.ctx.call.intent = intent
        self.ctx.call.summary = summary
        self.ctx.decision = Decision("intent", target, say=self.ctx.messages.handover, intent=intent)
        return {"ok": True, "routed_to": intent}

    def check_status(self, args: dict[str, Any]) -> dict[str, Any]:
        service = args.get("service") or ""
        if not isinstance(service, str):
            return {"error": "service must be text: the name of one service"}
        if len(service) > MAX_SERVICE:
            return {"error": f"service is too long (at most {MAX_SERVICE} characters); give just the service's name"}
        name, facts = self.facts_about(service)
        problems = [
            {"id": f.key(), "text": self.describe(f), "already_handled": isinstance(f, HANDLED_FACTS)} for f in facts
        ]
        return {"service": name, "known_problems": problems}

    def end_call(self, args: dict[str, Any]) -> dict[str, Any]:
        reason = args.get("reason")
        if reason not in END_REASONS:
            return {"error": f"reason must be one of {END_REASONS}"}
        if reason == "known_issue":
            reported = self.reported_services()
            if not self.known_issue_behind(reported):
                about = ", ".join(s[:MAX_SERVICE] for s in reported[:5]) if reported else "no service named yet"
                return {"error": (
                    f"not a known issue: no open incident, maintenance or status entry the caller may hear matches "
                    f"what the caller reported ({about}). Record the caller's problem and service with record_details "
                    "and look it up with check_status; if nothing is known, hand the call on with route_call."
                )}
        self.ctx.call.summary = str(args.get("summary") or "")[:MAX_TEXT] or self.ctx.call.summary
        if reason == "known_issue":
            target = self.ctx.node.known_issue
            self.ctx.decision = Decision("known_issue", target, say="" if target else self.ctx.messages.goodbye, reason=reason)
        else:
            self.ctx.decision = Decision("hangup", None, say=self.ctx.messages.goodbye, reason=reason)
        return {"ok": True}

    # -- what is known ------------------------------------------------------------
    def facts_about(self, service: str) -> tuple[str, list[SpeakableFact]]:
        """The service a name means (fuzzy, against the services enrichment knows) and the disclosed facts about it."""
        names = match_services(service, self.ctx.call.known_services()) or [service]
        return names[0], self.ctx.related_facts(names)

    def reported_services(self) -> list[str]:
        """The services the caller reported: gathered (``affected_services``, named in ``incident``), or else named in their own words."""
        fields = self.ctx.call.fields
        known = self.ctx.call.known_services()
        listed = fields.get("affected_services") or []
        reported = [str(s) for s in ([listed] if isinstance(listed, str) else listed) if s]
        reported += match_services(str(fields.get("incident") or ""), known)
        if not reported:
            for turn in self.ctx.call.transcript:
                if turn.speaker == "caller" and turn.text:
                    reported += match_services(turn.text[:MAX_TEXT], known)
        return list(dict.fromkeys(reported))

    def known_issue_behind(self, services: list[str]) -> bool:
        """Whether a disclosed fact (incident, maintenance, status page, service state) is about one of ``services``."""
        return any(isinstance(f, KNOWN_ISSUE_FACTS) for s in services for f in self.facts_about(s)[1])

    # -- speech ------------------------------------------------------------------
    def describe(self, fact: SpeakableFact) -> str:
        """One sentence about a fact that callers may hear; records it as used."""
        self.ctx.call.use_fact(fact.key())
        return fact.speak(self.ctx.call.now, ZoneInfo(self.ctx.timezone), self.ctx.messages)
