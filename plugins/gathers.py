"""Built-in gathers: who is calling, how to call back, and what is wrong."""

from __future__ import annotations

import re
from typing import Any

import phonenumbers

from agent.plugin_api import Gather, GatherContext, InvalidValue, extract, hookimpl


class CallerName(Gather):
    name = "caller_name"
    label = "Name"
    question = "May I have your name, please?"
    description = "The caller's full name."
    reason = "reason_name"

    def extract(self, text: str, ctx: GatherContext) -> str | None:
        # The words of an e-mail address are no name: "it's anna hyphen lena at web dot de", "L Ray at globex dot com".
        return extract.person_name(extract.without_email(text), loose=ctx.asked)

    def claims(self, text: str, ctx: GatherContext) -> str | None:
        return extract.bare_name(text)

    def normalise(self, value: Any, ctx: GatherContext) -> str:
        text = str(super().normalise(value, ctx))
        if len(text) > 80 or not re.search(r"[^\W\d_]", text):
            raise InvalidValue("a name should be a few words of letters")
        return " ".join(w[:1].upper() + w[1:] for w in text.split())


class ContactNumber(Gather):
    name = "contact_number"
    label = "Callback number"
    question = "What's the best number to call you back on?"
    description = "A phone number to call the caller back, ideally with country code."
    reason = "reason_phone"
    confirm = True

    def default(self, ctx: GatherContext) -> str | None:
        if not ctx.caller_number:
            return None
        try:
            return self.normalise(ctx.caller_number, ctx)
        except InvalidValue:
            return None

    def extract(self, text: str, ctx: GatherContext) -> str | None:
        return extract.phone_number(text, ctx.region)

    def normalise(self, value: Any, ctx: GatherContext) -> str:
        raw = str(value or "").strip()
        try:
            parsed = phonenumbers.parse(extract.spoken_digits(raw), ctx.region)
        except phonenumbers.NumberParseException:
            raise InvalidValue("that is not a phone number; please give it with the country code") from None
        if not phonenumbers.is_possible_number(parsed):
            raise InvalidValue("that number has the wrong length; please give it with the country code")
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    def readback(self, value: Any) -> str:
        return extract.speak_phone(str(value))


class Email(Gather):
    name = "email"
    label = "E-mail"
    question = "What's your e-mail address?"
    description = "The caller's e-mail address."
    reason = "reason_email"
    confirm = True

    def extract(self, text: str, ctx: GatherContext) -> str | None:
        return extract.email(text)

    def normalise(self, value: Any, ctx: GatherContext) -> str:
        found = extract.email(str(value or ""))
        if not found:
            raise InvalidValue("that is not an e-mail address; it needs a name, an at sign and a domain")
        return found

    def readback(self, value: Any) -> str:
        return extract.speak_email(str(value))

    def readback_in(self, value: Any, lines: Any) -> str:
        if type(self).readback is not Email.readback:  # a subclass reads it back its own way
            return self.readback(value)
        return extract.speak_email(str(value), (lines.word_at, lines.word_dot, lines.word_underscore, lines.word_dash))


_PROBLEM_WORDS = re.compile(
    r"\b(down|broken|break|error|errors|fail|failing|fails|failed|failure|not working|doesn't work|"
    r"isn't working|can't|cannot|won't|slow|outage|crash\w*|hack\w*|breach|leak\w*|stuck|timeout|"
    r"timing out|unavailable|offline|problem|issue|wrong|missing|lost|compromised|suspicious|"
    r"unreachable|not loading|not responding|5\d\d)\b",
    re.IGNORECASE,
)


# "I'd like to report an incident" says what the caller wants, not what is wrong.
_JUST_REPORTING = re.compile(
    r"(?:hi|hello|hallo|guten tag|yes|ja)?[, ]*(?:i'?d like to|i would like to|i want to|i need to|i'?m calling to|"
    r"ich möchte|ich will|ich würde gerne|wir möchten)\s+(?:report|melden|open|raise)?\s*"
    r"(?:an?|eine?n?|a new)?\s*(?:incident|problem|issue|outage|störung|problem melden|störung melden|fehler melden)\s*(?:report|melden)?",
    re.IGNORECASE,
)


# "yes, there is a problem": that something is wrong, not what.
_VAGUE = re.compile(
    r"(?:(?:yes|yeah|ja|well|also|hi|hallo)[, ]+)*(?:there is|there's|we have|we've got|i have|es gibt|wir haben|ich habe)\s+"
    r"(?:a|an|ein|eine|einen)?\s*(?:big |serious |großes |ernstes )?(?:problem|issue|incident|outage|störung|fehler)(?: here| hier)?",
    re.IGNORECASE,
)

# A line that says when it started, not what is wrong.
_ONLY_WHEN = re.compile(
    r"(?:it |that |this |es |das )?(?:started|began|begann|fing|hat|ging)\b(?:\s+\w+){0,2}\s+(?:around|at|about|on|since|um|gegen|seit|am|so)\b",
    re.IGNORECASE,
)

# A part of an answer about services that names none: "the whole thing", "the one you use", "alles irgendwie".
_VAGUE_PART = re.compile(
    r"\b(?:thing|things|stuff|everything|anything|whole|one|ones|you|it|that|which|who|they|alles|irgendwie|irgendwas|"
    r"ganze|sachen|welche|sie)\b",
    re.IGNORECASE,
)

# An answer that names every service at once: "all of your services", "every system", "alle Dienste".
_ALL_SERVICES = re.compile(
    r"\b(?P<all>all|every|alle|sämtliche)\b(?:\s+(?:of|the|your|our|ihre[rn]?|unsere[rn]?|die|der)){0,2}\s+"
    r"(?:services?|systems?|products?|dienste?n?|systeme?n?|produkte?n?)\b",
    re.IGNORECASE,
)

# A whole answer, when asked which services, that says all of them: "all of it, everything", "alles, einfach alles".
_ALL_ANSWER = re.compile(
    r"(?:(?:well|so|oh|yeah|yes|um|basically|literally|simply|just|really|pretty much|ja|also|naja|einfach|halt|"
    r"wirklich|echt|quasi|so ziemlich|eigentlich)[, ]+)*"
    r"(?P<all>all|all of (?:it|them)|them all|everything|every single (?:one|thing)|"
    r"alles|alle|alle davon|überall|everywhere)"
    r"(?:[, ]+(?:really|basically|halt|eigentlich))*",
    re.IGNORECASE,
)


def _every_service(text: str, ctx: GatherContext) -> str | None:
    """'all services' / 'alle Dienste' for an answer that names every service at once, else None.

    Either words naming all of them ("all of your services", "alle Dienste",
    asked or told with a problem), or, when asked, an answer every part of
    which says all ("all of it, everything", "alles, einfach alles").
    """
    said: list[str] = []
    every = _ALL_SERVICES.search(text)
    if every and (ctx.asked or extract.mentions_problem(text)):
        said = [every.group("all")]
    elif ctx.asked:
        parts = [p.strip(" .!") for p in re.split(r"[,;.!]+\s*|\s+-\s+", text) if p.strip(" .!")]
        found = [_ALL_ANSWER.fullmatch(p) for p in parts]
        said = [m.group("all") for m in found if m] if parts and all(found) else []
    if not said:
        return None
    german = any(w.lower() in ("alles", "alle", "alle davon", "überall", "sämtliche") for w in said)
    return "alle Dienste" if german else "all services"


# The words of the e-mail and phone fields, which name a field, not the "Email delivery" service.
_FIELD_WORDS = re.compile(r"\b(?:e-?mail|mail|address|adresse|number|nummer|phone)\b", re.IGNORECASE)


# A line with "I" or "we" in it talks about the caller ("all of them I think"), it does not name a service.
_SAYS_ABOUT_ITSELF = re.compile(r"\b(?:i|i'm|we|we're|ich|wir)\b", re.IGNORECASE)


def _describes(text: str) -> bool:
    """Whether a line can describe something: not a bare name, number, e-mail address or phone number."""
    if extract.bare_name(text) is not None or extract.email(text) is not None:
        return False
    bare = re.sub(r"[\s,.\-+()]", "", extract.spoken_digits(text))
    return not bare.isdigit()


class IncidentDescription(Gather):
    name = "incident"
    label = "What is wrong"
    question = "Can you describe what's wrong?"
    description = "What is wrong, in the caller's own words."
    reason = "reason_incident"
    whole_line = True

    def extract(self, text: str, ctx: GatherContext) -> str | None:
        text = text.strip()
        if len(text.split()) < 2 or extract.gives_no_value(text) or not _describes(text) or _JUST_REPORTING.fullmatch(text.strip(" .!")):
            return None
        if _VAGUE.fullmatch(text.strip(" .!")):
            return None  # "yes, there is a problem" does not say what is wrong
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
        about_problem = [s for s in sentences if _PROBLEM_WORDS.search(extract.PHONE_DIGITS.sub(" ", s)) or extract.mentions_problem(s)]
        if about_problem:
            return " ".join(about_problem)[:500]
        if _ONLY_WHEN.match(text) and not extract.services(text, ctx.known_services):
            return None  # "it started around quarter past eight on monday": when, not what
        return text[:500] if ctx.asked else None

    def normalise(self, value: Any, ctx: GatherContext) -> str:
        text = str(super().normalise(value, ctx))
        return text[:500]


class AffectedServices(Gather):
    name = "affected_services"
    label = "Affected services"
    question = "Which of our services are affected?"
    description = "The services the caller says are affected, named as in the known services when possible."
    reason = "reason_services"
    value_type = "list"

    def json_schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string"}, "description": self.description}

    def extract(self, text: str, ctx: GatherContext) -> list[str] | None:
        if extract.email(text) or extract.phone_number(text, ctx.region):
            # an address or a number is not a service, even one called "e-mail"; a service named beside it is
            rest = _FIELD_WORDS.sub(" ", extract.without_email(text))
            return extract.services(rest, ctx.known_services) or None
        if not ctx.asked and not extract.mentions_problem(text):
            if ctx.asked_for not in (None, IncidentDescription.name):
                return None  # "Rita from Payments Direct", asked for a name: a company, not a service with a problem
            text = _FIELD_WORDS.sub(" ", text)  # "ich habe keine E-Mail" talks about the e-mail field
        found = extract.services(text, ctx.known_services)
        if found:
            return found
        everything = _every_service(text, ctx)
        if everything:
            return [everything]
        if (
            ctx.asked and text.strip() and not extract.gives_no_value(text) and _describes(text)
            and not extract.mentions_problem(text) and not _SAYS_ABOUT_ITSELF.search(text)
        ):
            parts = [p.strip(" .") for p in re.split(r",|\band\b|\bund\b", text) if p.strip(" .")]
            named = [p for p in parts if not _VAGUE_PART.search(p)]  # "the whole thing", "the one you use for invoices" name none
            return named or None
        return None

    def normalise(self, value: Any, ctx: GatherContext) -> list[str]:
        items = value if isinstance(value, list) else [value]
        names: list[str] = []
        for item in items:
            text = "" if item is None else str(item).strip()
            if not text:
                continue
            matched = extract.services(text, ctx.known_services)
            for name in matched or [text[:100]]:
                if name not in names:
                    names.append(name)
        if not names:
            raise InvalidValue("name at least one affected service")
        return names

    def readback(self, value: Any) -> str:
        return ", ".join(value) if isinstance(value, list) else str(value)


@hookimpl
def register_gathers(register):
    for gather in (CallerName(), ContactNumber(), Email(), IncidentDescription(), AffectedServices()):
        register(gather)
