"""The model's tools: a stable contract whose schemas come from the node's configuration.

``record_details``, ``route_call``, ``check_status`` and ``end_call`` are the
only ways an engine acts on a call. Every call is validated here; a call
outside the contract is refused with a reason the model can act on, and
nothing here raises into the call.
"""

from __future__ import annotations

import json
from typing import Any

from loguru import logger

from agent.agent_context import AgentContext, Decision
from agent.facts import MaintenanceWindow, OpenIncident, ServiceState
from agent.extract import services as match_services
from agent.gathers import InvalidValue

MAX_TEXT = 500
_STATUS_SPOKEN = {
    "degraded": "is running with degraded performance",
    "partial_outage": "has a partial outage",
    "major_outage": "has a major outage",
    "under_maintenance": "is under maintenance",
    "operational": "is operational",
}
END_REASONS = ["known_issue", "caller_done", "wrong_number", "abusive"]


class ToolBox:
    """The four tools bound to one AI node of one call."""

    def __init__(self, ctx: AgentContext) -> None:
        self.ctx = ctx

    # -- schemas -----------------------------------------------------------------
    def schemas(self) -> list[dict[str, Any]]:
        """OpenAI function-tool schemas for this node (``{"type": "function", "name", ...}``)."""
        fields = {g.name: g.json_schema() for g in self.ctx.gathers}
        intents = sorted(self.ctx.intents)
        intent_help = "; ".join(f"{n}: {self.ctx.intents[n].description}" for n in intents)
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
                        "intent": {"type": "string", "enum": intents},
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
                    "properties": {"service": {"type": "string", "maxLength": 200}},
                    "required": ["service"],
                    "additionalProperties": False,
                },
            },
            {
                "type": "function",
                "name": "end_call",
                "description": "End the conversation without routing, e.g. the problem is already known and the caller needs nothing more.",
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
        """Run one tool call; always answers a dict, with ``error`` when refused."""
        handler = {
            "record_details": self.record_details,
            "route_call": self.route_call,
            "check_status": self.check_status,
            "end_call": self.end_call,
        }.get(name)
        if handler is None:
            return {"error": f"unknown tool {name!r}; use one of record_details, route_call, check_status, end_call"}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments or "{}")
            except json.JSONDecodeError:
                return {"error": "arguments are not valid JSON"}
        if not isinstance(arguments, dict):
            return {"error": "arguments must be a JSON object"}
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
            if isinstance(value, str) and len(value) > MAX_TEXT:
                invalid[key] = f"too long (at most {MAX_TEXT} characters)"
                continue
            try:
                saved[key] = gather.normalise(value, gather_ctx)
            except InvalidValue as exc:
                invalid[key] = str(exc)
        self.ctx.call.fields.update(saved)
        result: dict[str, Any] = {"saved": saved, "missing": [g.name for g in self.ctx.missing()]}
        if invalid:
            result["invalid"] = invalid
        if unknown:
            result["error"] = f"unknown fields {unknown}; the fields are {[g.name for g in self.ctx.gathers]}"
        return result

    def route_call(self, args: dict[str, Any]) -> dict[str, Any]:
        intent = args.get("intent")
        if intent not in self.ctx.intents:
            return {"error": f"unknown intent {intent!r}; choose one of {sorted(self.ctx.intents)}"}
        missing = [g.name for g in self.ctx.missing()]
        if missing and intent != "talk_to_human" and not args.get("details_declined"):
            return {"error": f"still missing {missing}; ask for them first, or set details_declined if the caller refused"}
        summary = str(args.get("summary") or "")[:MAX_TEXT]
        target = self.ctx.node.intents[intent]
        self.ctx.call.intent = intent
        self.ctx.call.summary = summary
        self.ctx.decision = Decision("intent", target, say=self.ctx.node.messages.handover, intent=intent)
        return {"ok": True, "routed_to": intent}

    def check_status(self, args: dict[str, Any]) -> dict[str, Any]:
        service = str(args.get("service") or "")[:200]
        known = self.ctx.call.known_services()
        names = match_services(service, known) or [service]
        facts = self.ctx.related_facts(names)
        problems = [{"id": self.fact_key(f), "text": self.describe(f)} for f in facts]
        return {"service": names[0], "known_problems": problems}

    def end_call(self, args: dict[str, Any]) -> dict[str, Any]:
        reason = args.get("reason")
        if reason not in END_REASONS:
            return {"error": f"reason must be one of {END_REASONS}"}
        self.ctx.call.summary = str(args.get("summary") or "")[:MAX_TEXT] or self.ctx.call.summary
        if reason == "known_issue":
            target = self.ctx.node.known_issue
            self.ctx.decision = Decision("known_issue", target, say="" if target else self.ctx.node.messages.goodbye, reason=reason)
        else:
            self.ctx.decision = Decision("hangup", None, say=self.ctx.node.messages.goodbye, reason=reason)
        return {"ok": True}

    # -- speech ------------------------------------------------------------------
    @staticmethod
    def fact_key(fact: OpenIncident | MaintenanceWindow | ServiceState) -> str:
        """A stable label of a fact, as listed in the outcome's ``facts_used``."""
        if isinstance(fact, OpenIncident):
            return f"open_incident:{fact.id or fact.title}"
        if isinstance(fact, MaintenanceWindow):
            return f"maintenance:{fact.summary}"
        return f"service_state:{fact.service}"

    def describe(self, fact: OpenIncident | MaintenanceWindow | ServiceState) -> str:
        """One sentence about a fact that callers may hear; records it as used."""
        now = self.ctx.call.now
        self.ctx.call.use_fact(self.fact_key(fact))
        if isinstance(fact, OpenIncident):
            text = f"There is an open incident: {fact.title}"
            if fact.started_at:
                minutes = max(int((now - fact.started_at).total_seconds() // 60), 0)
                ago = f"{minutes} minutes ago" if minutes < 120 else f"{minutes // 60} hours ago"
                text += f", which started at {self.ctx.local_time(fact.started_at)}, {ago}"
            return text + f". Status: {fact.status}."
        if isinstance(fact, MaintenanceWindow):
            return f"There is planned maintenance: {fact.summary}, until {self.ctx.local_time(fact.end)}."
        return f"{fact.service} {_STATUS_SPOKEN.get(fact.status, 'is ' + fact.status)}."
