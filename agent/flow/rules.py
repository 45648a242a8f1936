"""What each non-AI node decides, shared by the simulator and live calls so both behave alike."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import phonenumbers

from agent.core.extract import spoken_digits
from agent.core.facts import OnCallShift
from agent.flow.models import (
    BlockNumbersNode,
    HoursRule,
    IvrMenuNode,
    PinCodeNode,
    RouteCallNode,
    SupportHoursNode,
)

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def utc_now() -> datetime:
    """The time now: the clock live calls read (and a simulation given no time); tests set it here."""
    return datetime.now(timezone.utc)


def within_support_hours(node: SupportHoursNode, now: datetime) -> tuple[bool, datetime]:
    """Whether ``now`` falls in the node's hours, and the local time it was judged at.

    A window whose ``end`` is before its ``start`` runs past midnight: it belongs
    to the day it starts on (``fri 22:00-06:00`` is Friday 22:00 to Saturday 06:00).
    """
    local = now.astimezone(ZoneInfo(node.timezone))
    today = _DAYS[local.weekday()]
    yesterday = _DAYS[(local - timedelta(days=1)).weekday()]
    clock = local.time()

    def inside(rule: HoursRule) -> bool:
        if rule.start <= rule.end:
            return today in rule.days and rule.start <= clock <= rule.end
        return (today in rule.days and clock >= rule.start) or (yesterday in rule.days and clock <= rule.end)

    return any(inside(rule) for rule in node.hours), local


def _same_number(a: str, b: str, region: str) -> bool:
    try:
        return phonenumbers.parse(a, region) == phonenumbers.parse(b, region)
    except phonenumbers.NumberParseException:
        return False


# What Twilio puts in ``From`` when the caller ID is withheld: words, or the words spelt on a keypad
# (+266696687 ANONYMOUS, +7378742833 RESTRICTED, +86282452253 UNAVAILABLE, +2562533 BLOCKED).
WITHHELD_CALLER_IDS = frozenset({
    "", "anonymous", "restricted", "unknown", "private", "unavailable", "blocked",
    "+266696687", "+7378742833", "+86282452253", "+2562533",
})


def caller_id_withheld(caller: str | None) -> bool:
    return (caller or "").strip().lower() in WITHHELD_CALLER_IDS


def is_blocked(node: BlockNumbersNode, caller: str | None, region: str) -> bool:
    if caller_id_withheld(caller):
        return node.block_anonymous
    return any(_same_number(caller, n, region) for n in node.numbers)


def keys_pressed(text: str) -> str:
    """Keypad digits from keys or from speech ('two', 'one four')."""
    return re.sub(r"[^0-9*#]", "", spoken_digits(text))


def ivr_target(node: IvrMenuNode, keys: str) -> tuple[bool, str | None]:
    """(the key was a valid option, the node it leads to)."""
    key = keys[:1]
    if key in node.options:
        return True, node.options[key]  # type: ignore[index]
    return False, None


def pin_matches(node: PinCodeNode, keys: str) -> bool:
    return keys.rstrip("#") in node.pins


def people_to_dial(
    node: RouteCallNode, on_call: dict[int, list[OnCallShift]], seed: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """Who to ring, in order (retries included; ``parallel``: one round, see :func:`dial_round`), and notes
    about targets nobody was found for.

    ``on_call`` maps each non-number target (by position) to the people on call for it.
    """
    people: list[tuple[str, str]] = []
    notes: list[str] = []
    for index, target in enumerate(node.targets):
        if target.type == "number":
            people.append((target.name or target.number or "", target.number or ""))
            continue
        shifts = on_call.get(index, [])
        if not shifts:
            notes.append(f"{target.type} {target.id}: nobody found on call")
        people.extend((s.name, s.number) for s in shifts)
    if node.call_style == "random":
        random.Random(seed).shuffle(people)
    if node.call_style == "parallel":
        return people, notes
    return [p for _ in range(node.retries + 1) for p in people], notes


def dial_round(node: RouteCallNode, people: list[tuple[str, str]], attempt: int) -> list[tuple[str, str]]:
    """Who rings at the node's ``attempt``-th dial (from 0), from :func:`people_to_dial`; empty: nobody is left.

    One person at a time, in order; with ``parallel``, everyone at once, and
    everyone again up to ``retries`` times while nobody answers.
    """
    if node.call_style == "parallel":
        return list(people) if attempt <= node.retries else []
    return people[attempt : attempt + 1]
