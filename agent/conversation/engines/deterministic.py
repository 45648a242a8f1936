"""The deterministic engine: a deterministic dialogue on text, with the same tools as the realtime model.

It needs no key and no network, so anyone can run and test a flow, and it
can answer live calls through Twilio's speech recognition when no realtime
model is available. Each caller line goes through the same steps: silence,
an offer of a human, a pending read-back, extraction of every field the line
carries, intent matching, known-problem look-up, then the next question.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, Field
from rapidfuzz import fuzz

from agent.core import extract
from agent.conversation.session import NodeSession
from agent.core.gathers import Gather
from agent.conversation.counters import INTENT_QUESTION, FieldCounters
from agent.conversation.matching import matcher_for
from agent.conversation.tools import OTHER, ToolBox

HUMAN = "talk_to_human"
_COMPLAINT = re.compile(
    r"\b(useless|ridiculous|stupid|annoying|frustrat\w*|not listening|already (told|said)|i (just )?said|"
    r"waste of (my )?time|this is (absurd|crazy|insane)|for god'?s sake|are you (even )?(a )?(robot|bot|machine)|"
    r"come on|seriously|what is wrong with you|you'?re not helping|not helpful)\b",
    re.IGNORECASE,
)
_CORRECTION = re.compile(r"\b(actually|i meant|i said|correction|that'?s (wrong|not right)|not .{1,40} but)\b", re.IGNORECASE)
_DONE = re.compile(
    rf"\b(?:{extract.CLOSERS}|nein,? danke|sonst nichts|alles gut|(?:das )?wars? (?:auch )?schon)\b", re.IGNORECASE
)
_SOMETHING_ELSE = re.compile(
    r"\b(something else|different|another|other problem|not (that|the same)|unrelated|etwas anderes|anderes problem|was anderes)\b",
    re.IGNORECASE,
)
_DECLINE = re.compile(
    rf"\b(?:{extract.DONT_KNOW}|skip|none|no,? i don'?t|can'?t say|weiß nicht|weiss nicht|überspringen|lieber nicht|"
    # a refusal that names the detail: "no email please", "keine E-Mail bitte"
    r"no (e-?mail|mail|number|phone|customer (id|number)|id)|kein(e|en)? (e-?mail|mail|nummer|kundennummer|telefonnummer))\b",
    re.IGNORECASE,
)


class DialogueState(BaseModel):
    """Where the dialogue stands; serialisable, so a live call can carry it between webhooks."""

    asking: str | None = None
    confirming: list[tuple[str, Any]] = Field(default_factory=list)
    no_input: dict[str, int] = Field(default_factory=dict)  # per field (or the intent question)
    no_match: dict[str, int] = Field(default_factory=dict)
    silent_turns: int = 0  # in a row: each is one silence_reprompt_s without a word
    corrections: int = 0
    repeats: int = 0
    offered_human: bool = False
    human_offer_open: bool = False
    known_told: set[str] = Field(default_factory=set)
    known_question_open: bool = False
    intent_score: float = 0.0
    turns: int = 0
    last_line: str = ""
    optional_asked: set[str] = Field(default_factory=set)


class DeterministicEngine:
    """Answers caller lines for one AI node; ``ctx.decision`` is set when the node is done."""

    def __init__(self, ctx: NodeSession, tools: ToolBox | None = None, state: DialogueState | None = None) -> None:
        self.ctx = ctx
        self.tools = tools or ToolBox(ctx)
        self.matcher = matcher_for(list(ctx.intents.values()))
        self.state = state or DialogueState()
        self.counters = FieldCounters(ctx.node.max_no_match, ctx.node.max_no_input, self.state.no_match, self.state.no_input)
        self.messages = ctx.messages

    @property
    def done(self) -> bool:
        return self.ctx.decision is not None

    async def start(self) -> list[str]:
        """The greeting; the caller answers it."""
        self.state.asking = INTENT_QUESTION
        return [self.ctx.greeting]

    async def resume(self) -> list[str]:
        """Take over a conversation another engine started: ask for what is still missing."""
        call = self.ctx.call
        if call.intent is None and call.fields.get("incident"):
            match = self.matcher.match(str(call.fields["incident"]))
            if match and match.intent in self.ctx.intents:
                call.intent = match.intent
        if call.intent:
            self.state.intent_score = 1.0
        return await self._next_prompt()

    async def reply(self, text: str) -> list[str]:
        """What the agent says to one caller line (an empty line is silence)."""
        if self.done:
            return []
        state = self.state
        state.turns += 1
        if state.turns > self.ctx.node.max_turns:
            return self._fallback("max_turns")
        text = text.strip()[:2000]
        if not text:
            return self._silence()
        state.silent_turns = 0
        frustrated = self._note_frustration(text)

        if state.human_offer_open:
            state.human_offer_open = False
            answer = extract.yes_no(text)
            if answer is True:
                return await self._to_human("frustrated")
            if answer is False:
                return [self.messages.carry_on, *await self._next_prompt()]

        match = self.matcher.match(text)
        if match and match.intent == HUMAN:
            await self._extract_all(text)  # what the caller said on the way is kept for the person
            if self.done:
                return [self.ctx.decision.say] if self.ctx.decision and self.ctx.decision.say else []
            return await self._to_human("caller_request")

        out: list[str] = []
        if state.confirming:
            handled, said = await self._confirmation(text)
            out += said
            if handled:
                return out + await self._after_turn(frustrated)

        if state.known_question_open:
            state.known_question_open = False
            if _DONE.search(text) or (extract.yes_no(text) is False and not _SOMETHING_ELSE.search(text)):
                await self.tools.call("end_call", {"reason": "known_issue", "summary": self._summary()})
                return [self.ctx.decision.say] if self.ctx.decision.say else []
            # A different problem: what was said about the known one no longer describes the call.
            for name in ("incident", "affected_services"):
                self.ctx.call.fields.pop(name, None)

        progressed = await self._extract_all(text, about=match.intent if match and state.asking in (INTENT_QUESTION, None) else None)
        asked = self.ctx.gather(state.asking or "")
        if not progressed and asked is not None and not asked.required and (
            _DECLINE.search(text) or extract.yes_no(text) is False
        ):
            state.optional_asked.add(asked.name)
            state.asking = None
            return [self.messages.skipped, *await self._after_turn(frustrated)]
        if match and match.intent in self.ctx.intents and match.score > state.intent_score:
            self.ctx.call.intent = match.intent
            state.intent_score = match.score
            progressed = True

        told, handled = await self._tell_known_problems()
        if handled:
            state.known_question_open = True
            return out + told + [self.messages.anything_else]

        if not progressed and not out:
            if frustrated and not state.offered_human:  # saying the same again is not understood either: offer a person
                self.counters.miss(state.asking, "no_match")
                return await self._after_turn(frustrated)
            return await self._no_match(text)
        return out + told + await self._after_turn(frustrated)

    # -- steps ---------------------------------------------------------------------------------
    def _silence(self) -> list[str]:
        self.state.silent_turns += 1
        node = self.ctx.node
        past_limit = self.counters.miss(self.state.asking, "no_input")
        if past_limit or self.state.silent_turns * node.silence_reprompt_s >= node.silence_end_s:
            return self._fallback("no_input")
        return [self.messages.no_input, *self._reprompt()]

    async def _no_match(self, text: str) -> list[str]:
        if self.ctx.gather(self.state.asking or "") is not None and extract.asks_why(text):
            return [self.messages.why_asked, *self._reprompt()]  # a fair question, not a miss: answered, then asked again
        if self.counters.miss(self.state.asking, "no_match"):
            if self.state.asking in (INTENT_QUESTION, None) and self.ctx.call.intent is None:
                await self.tools.call("route_call", {"intent": OTHER, "summary": self._summary()})
                return [self.ctx.decision.say]
            return self._fallback("no_intent")
        if self.state.asking == INTENT_QUESTION:
            return [self.messages.off_topic]
        return [self._reason(text) or self.messages.no_match, *self._reprompt()]

    def _reason(self, text: str) -> str | None:
        """Why a line did not fit the field asked, when it was an answer of the wrong kind.

        Not for a line that gives no value at all (a closer, a refusal, a question
        back: the plain "didn't understand" fits those), nor while a read-back waits for a yes.
        """
        gather = self.ctx.gather(self.state.asking or "")
        if gather is None or gather.reason is None or extract.gives_no_value(text):
            return None
        if self.state.confirming and self.state.confirming[0][0] == gather.name:
            return None
        line = getattr(self.messages, gather.reason, None)
        return line.format(label=gather.label.lower()) if isinstance(line, str) else None

    def _note_frustration(self, text: str) -> bool:
        state = self.state
        if state.last_line and len(text.split()) >= 3 and fuzz.ratio(text.lower(), state.last_line.lower()) >= 88:
            state.repeats += 1
        state.last_line = text
        complained = bool(_COMPLAINT.search(text))
        return complained or state.repeats >= 1 or state.corrections >= 2

    async def _after_turn(self, frustrated: bool) -> list[str]:
        if self.done:
            return []
        if (frustrated or self.state.corrections >= 2) and not self.state.offered_human:
            self.state.offered_human = True
            self.state.human_offer_open = True
            return [self.messages.offer_human]
        return await self._next_prompt()

    async def _confirmation(self, text: str) -> tuple[bool, list[str]]:
        """Handle an answer to a read-back; returns (line fully handled, what to say)."""
        state = self.state
        name, value = state.confirming[0]
        gather = self.ctx.gather(name)
        assert gather is not None
        answer = extract.yes_no(text)
        new = gather.extract(text, self.ctx.gather_context(asked=True))
        if new is not None and new != value and (answer is not True):
            state.corrections += 1
            state.confirming[0] = (name, new)
            return True, [self.messages.corrected]
        if answer is True:
            state.confirming.pop(0)
            await self.tools.call("record_details", {name: value})
            return True, []
        if answer is False or new is None and isinstance(value, str) and extract.replaced_part(text, value):
            state.corrections += 1
            fixed = self._part_replaced(gather, text, value)
            if fixed is not None and fixed != value:  # "no, not dot de, dot at": read back with the part replaced
                state.confirming[0] = (name, fixed)
                return True, [self.messages.corrected]
            state.confirming.pop(0)
            self.ctx.call.fields.pop(name, None)
            if gather.default(self.ctx.gather_context()) is None:  # a refused caller ID is not offered again
                state.optional_asked.discard(name)  # a wrong value is asked for again, optional or not
            state.asking = name
            return True, [self.messages.sorry]
        return False, []

    def _part_replaced(self, gather: Gather, text: str, value: Any) -> Any | None:
        """The read-back value with the part the caller corrected replaced, if it is still a valid value."""
        fixed = extract.replaced_part(text, value) if isinstance(value, str) else None
        if fixed is None:
            return None
        try:
            return gather.normalise(fixed, self.ctx.gather_context(asked=True))
        except ValueError:
            return None

    async def _extract_all(self, text: str, about: str | None = None) -> bool:
        """Take every field this line carries; the field just asked for is read loosely.

        ``about``: the intent this first line asked for; the line then tells what
        the call is about, so the description reads it loosely too.
        """
        updates: dict[str, object] = {}
        values: dict[str, Any] = {}
        said = extract.after_correction(text)  # "john smith, no wait, john smyth": what the caller settled on
        asked_for = None if self.state.asking == INTENT_QUESTION else self.state.asking
        unasked = replace(self.ctx.gather_context(), asked_for=asked_for)  # built once a line, not once a field
        for gather in self.ctx.gathers:
            asked = self.state.asking == gather.name or (gather.name == "incident" and about not in (None, HUMAN))
            context = replace(unasked, asked=asked)
            value = gather.extract(said, context) if said != text and not gather.whole_line else None
            if value is None:
                value = gather.extract(text, context)
            if value is not None:
                values[gather.name] = value
        if self.state.asking not in values:
            # The line did not answer the question asked; it may still be a value only one other field takes
            # (a bare name when asked for the problem).
            for gather in self.ctx.missing(required_only=False):
                if gather.name not in values and gather.name != self.state.asking:
                    claimed = gather.claims(said, unasked)
                    if claimed is not None:
                        values[gather.name] = claimed
                        break
        for gather in self.ctx.gathers:
            asked = self.state.asking == gather.name
            value = values.get(gather.name)
            if value is None:
                continue
            already = self.ctx.call.fields.get(gather.name)
            if already is not None and not asked:
                if already != value and _CORRECTION.search(text) and gather.name != "incident":
                    self.state.corrections += 1
                else:
                    continue
            if gather.confirm:
                self.state.confirming = [c for c in self.state.confirming if c[0] != gather.name]
                self.state.confirming.append((gather.name, value))
            else:
                updates[gather.name] = value
        if updates:
            result = await self.tools.call("record_details", updates)
            for name in result.get("invalid", {}):
                self.state.asking = name
            return bool(result.get("saved"))
        return bool(self.state.confirming)

    async def _tell_known_problems(self) -> tuple[list[str], bool]:
        """Tell the caller once what is known about the services they named (via ``check_status``).

        Returns what to say and whether it shows the problem is already being handled.
        """
        services = self.ctx.call.fields.get("affected_services") or []
        if not services:
            incident = self.ctx.call.fields.get("incident") or ""
            services = extract.services(str(incident), self.ctx.call.known_services())
        lines: list[str] = []
        handled = False
        for service in services:
            result = await self.tools.call("check_status", {"service": service})
            for problem in result.get("known_problems", []):
                if problem["id"] not in self.state.known_told and len(lines) < 2:
                    self.state.known_told.add(problem["id"])
                    lines.append(problem["text"])
                    handled = handled or problem["already_handled"]
        if handled:
            lines.append(self.messages.known_issue)
        return lines, handled

    # -- prompts -------------------------------------------------------------------------------
    async def _next_prompt(self) -> list[str]:
        if self.done:
            return []
        state = self.state
        if state.confirming:
            name, value = state.confirming[0]
            gather = self.ctx.gather(name)
            state.asking = name
            return [self.messages.read_back.format(value=gather.readback_in(value, self.messages), label=gather.label.lower())]
        for gather in self.ctx.missing():
            return [self._ask(gather)]
        if self.ctx.call.intent is None:
            state.asking = INTENT_QUESTION
            return [self.messages.ask_intent]
        for gather in self.ctx.missing(required_only=False):
            if gather.name not in state.optional_asked:
                state.optional_asked.add(gather.name)
                return [self._ask(gather)]
        return await self._route()

    def _ask(self, gather: Gather) -> str:
        """Ask for a field, offering a value already known (the caller ID) for confirmation."""
        self.state.asking = gather.name
        default = gather.default(self.ctx.gather_context())
        if default is not None and not any(c[0] == gather.name for c in self.state.confirming) and gather.name not in self.state.optional_asked:
            self.state.optional_asked.add(gather.name)
            self.state.confirming.append((gather.name, default))
            return self.messages.confirm_default.format(value=gather.readback_in(default, self.messages))
        return gather.question

    def _reprompt(self) -> list[str]:
        asking = self.state.asking
        if asking == INTENT_QUESTION or asking is None:
            return [self.messages.ask_intent]
        if self.state.confirming and self.state.confirming[0][0] == asking:
            gather = self.ctx.gather(asking)
            return [self.messages.read_back_again.format(value=gather.readback_in(self.state.confirming[0][1], self.messages))]
        gather = self.ctx.gather(asking)
        return [gather.question] if gather else []

    # -- endings -------------------------------------------------------------------------------
    def _summary(self) -> str:
        fields = self.ctx.call.fields
        intent = self.ctx.intents.get(self.ctx.call.intent or "")
        parts = [intent.label if intent else "Call"]
        if fields.get("incident"):
            parts.append(str(fields["incident"]))
        if fields.get("affected_services"):
            parts.append("affects " + ", ".join(fields["affected_services"]))
        return ": ".join(parts[:2]) + (f" ({parts[2]})" if len(parts) > 2 else "")

    async def _route(self) -> list[str]:
        result = await self.tools.call("route_call", {"intent": self.ctx.call.intent, "summary": self._summary()})
        if "error" in result:
            return self._fallback("no_intent")
        name = self.ctx.call.fields.get("caller_name")
        thanks = self.messages.thanks_name.format(first_name=extract.first_name(str(name))) if name else self.messages.thanks
        return [thanks, self.ctx.decision.say]

    async def _to_human(self, reason: str) -> list[str]:
        if HUMAN in self.ctx.intents:
            await self.tools.call("route_call", {"intent": HUMAN, "summary": self._summary()})
            return [self.ctx.decision.say]
        return self._fallback(reason)

    def hand_over(self, reason: str) -> list[str]:
        """End the node on its fallback branch for a reason the engine cannot see itself (the clock)."""
        return [] if self.done else self._fallback(reason)

    def _fallback(self, reason: str) -> list[str]:
        decision = self.ctx.fallback(reason)  # type: ignore[arg-type]
        return [decision.say]
