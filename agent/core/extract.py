"""Reading values out of what a caller said: numbers, dates, yes/no, e-mails, names, services.

Used by the gathers' offline extractors and validators. The input is speech
as a transcriber writes it: numbers may be words, an e-mail may be
"jane dot doe at acme dot com", punctuation and capitals may be missing.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import phonenumbers
from dateutil import parser as date_parser
from rapidfuzz import fuzz, process

_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")

YES = {
    "yes", "yeah", "yep", "yup", "correct", "right", "sure", "ok", "okay", "affirmative",
    "exactly", "please", "absolutely", "definitely", "indeed", "true", "fine", "ja", "oui", "si",
}
NO = {"no", "nope", "nah", "wrong", "incorrect", "negative", "false", "not", "don't", "dont", "nein", "non"}
_YES_PHRASES = ("that's right", "that is right", "go ahead", "of course", "sounds good", "that's it", "yes please")
_NO_PHRASES = ("that's wrong", "that is wrong", "not right", "not correct", "no thanks", "no thank you")
# An unsure answer is neither yes nor no, even though it contains "no" or "don't".
_UNSURE_PHRASES = (
    "don't know", "do not know", "dont know", "not sure", "no idea", "no clue", "dunno", "can't say", "cannot say",
    "can't tell", "cannot tell", "maybe", "perhaps",
)

DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "nil": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
_UNITS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}

STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before being
    below between both but by can can't cannot could did didn't do does doesn't doing don't down during each
    few for from further had has have having he her here hers him his how i i'd i'll i'm i've if in into is
    isn't it it's its itself just let's me more most my no nor not now of off on once only or other our ours
    out over own same she should so some such than that that's the their them then there these they this
    those through to too under until up very was wasn't we were what when where which while who whom why
    will with won't would you your yours um uh er hmm hi hello hey well oh okay ok yes yeah please thanks
    thank so like got get gets getting really""".split()
)

# Words that are never part of a person's name, so "this is urgent" is not a name.
_NOT_NAMES = STOPWORDS | frozenset(
    """calling call urgent down broken here from at the company team customer customers problem issue
    outage help need want trying working work sorry speaking phoning ringing about regarding re having
    also still again just going seeing afraid sure fine good great bad not reporting report ringing
    system service server site website app api login checkout payment payments email database
    anyone someone somebody person human engineer agent operator on-call oncall
    im its ive id dont cant critical important serious emergency stuck slow new back weird odd strange
    super unable able offline online dead gone lost late early busy frozen happy sad angry mad upset
    glad ok alright all totally completely only bit little quite rather pretty real trouble worse
    monday tuesday wednesday thursday friday saturday sunday""".split()
)
# Lower-case words with these endings are states, not names ("I'm locked out", "it's failing").
_NOT_NAME_ENDINGS = ("ing", "ed", "ly", "ous", "ful", "ive", "ible", "able", "ical")


def words(text: str) -> list[str]:
    """Lower-case word tokens, punctuation dropped."""
    return _WORD.findall(text.lower().replace("’", "'"))


def stem(word: str) -> str:
    """A light suffix strip, enough to pair 'failing' with 'fails' and 'payments' with 'payment'."""
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def yes_no(text: str) -> bool | None:
    """True for a yes, False for a no, None when the line is neither (or both)."""
    lowered = text.lower().replace("’", "'")
    if any(p in lowered for p in _UNSURE_PHRASES):
        return None
    if any(p in lowered for p in _NO_PHRASES):
        return False
    if any(p in lowered for p in _YES_PHRASES):
        return True
    tokens = words(text)[:4]
    yes = any(t in YES for t in tokens)
    no = any(t in NO for t in tokens)
    if yes == no:
        return None
    return yes


def spoken_digits(text: str) -> str:
    """Turn 'plus four nine one five one double two' into '+49 151 22'; leaves other words as they are."""
    out: list[str] = []
    tokens = re.split(r"[\s,\-]+", text.lower())
    repeat = 1
    for token in tokens:
        bare = token.strip(".?!;:")
        if bare in ("double", "triple"):
            repeat = 2 if bare == "double" else 3
            continue
        if bare in DIGIT_WORDS:
            out.append(DIGIT_WORDS[bare] * repeat)
        elif bare == "plus":
            out.append("+")
        else:
            out.append(" " + token + " ")
        repeat = 1
    joined = "".join(out)
    return re.sub(r"\s+", " ", joined).strip()


def phone_number(text: str, region: str = "US") -> str | None:
    """The first phone number in a line, as E.164, or None."""
    candidate = spoken_digits(text)
    for match in phonenumbers.PhoneNumberMatcher(candidate, region, leniency=phonenumbers.Leniency.POSSIBLE):
        if len(str(match.number.national_number)) >= 6:
            return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    digits = re.sub(r"[^\d+]", "", candidate)
    if len(re.sub(r"\D", "", digits)) >= 7:
        try:
            parsed = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            return None
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


def speak_phone(e164: str) -> str:
    """A number as it is read back: international format, digits grouped."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


_EMAIL = re.compile(r"[a-z0-9][a-z0-9._%+\-]*@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+")


def email(text: str) -> str | None:
    """An e-mail address, written or spoken ('jane dot doe at acme dot com'), lower-cased."""
    lowered = " " + text.lower() + " "
    lowered = re.sub(r"\s+(?:dot|period|point)\s+", ".", lowered)
    lowered = re.sub(r"\s+(?:underscore)\s+", "_", lowered)
    lowered = re.sub(r"\s+(?:dash|hyphen|minus)\s+", "-", lowered)
    lowered = re.sub(r"\s+at\s+(?=[a-z0-9\-]+\.[a-z])", "@", lowered)
    lowered = re.sub(r"\s*@\s*", "@", lowered)
    match = _EMAIL.search(lowered)
    return match.group(0).rstrip(".") if match else None


def speak_email(address: str, words: tuple[str, str, str, str] = ("at", "dot", "underscore", "dash")) -> str:
    """An address as it is read back, with the symbols (@ . _ -) said out as ``words``."""
    at, dot, underscore, dash = words
    return address.replace("@", f" {at} ").replace(".", f" {dot} ").replace("_", f" {underscore} ").replace("-", f" {dash} ")


def number(text: str) -> int | float | None:
    """A number written in digits or words ('forty two', '1,500', '3.5')."""
    digits = re.search(r"-?\d[\d,]*(?:\.\d+)?", text)
    if digits:
        raw = digits.group(0).replace(",", "")
        return float(raw) if "." in raw else int(raw)
    total = current = 0
    seen = False
    decimals = ""
    for token in words(text.replace("-", " ")):
        if decimals or (token == "point" and seen):
            if token in DIGIT_WORDS:
                decimals += DIGIT_WORDS[token]
                continue
            if token == "point" and not decimals:
                decimals = "."
                continue
            break
        if token in DIGIT_WORDS and token not in ("oh", "o", "nil"):
            current += int(DIGIT_WORDS[token])
        elif token in _UNITS:
            current += _UNITS[token]
        elif token in _SCALES:
            current = max(current, 1) * _SCALES[token]
            if _SCALES[token] >= 1000:
                total, current = total + current, 0
        elif token == "and" and seen:
            continue
        else:
            if seen:
                break
            continue
        seen = True
    if not seen:
        return None
    whole = total + current
    return whole + float("0" + decimals) if len(decimals) > 1 else whole


_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
    "thirtieth": 30,
}
_SPOKEN_ORDINAL = re.compile(
    r"\b(?:(twenty|thirty)[\s\-]+)?(" + "|".join(_ORDINALS) + r")\b", re.IGNORECASE
)


def _ordinal_digits(text: str) -> str:
    """'March the twenty-first' -> 'March the 21'."""
    def replace(match: re.Match[str]) -> str:
        tens = {"twenty": 20, "thirty": 30}.get((match.group(1) or "").lower(), 0)
        return str(tens + _ORDINALS[match.group(2).lower()])
    return _SPOKEN_ORDINAL.sub(replace, text)


_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def spoken_date(text: str, today: date | None = None) -> date | None:
    """A date from 'today', 'yesterday', 'last monday', '2026-03-04' or 'March 4th'."""
    today = today or date.today()
    lowered = text.lower()
    if "day before yesterday" in lowered:
        return today - timedelta(days=2)
    if "yesterday" in lowered:
        return today - timedelta(days=1)
    if "today" in lowered or "this morning" in lowered or "tonight" in lowered:
        return today
    if "tomorrow" in lowered:
        return today + timedelta(days=1)
    for index, day in enumerate(_WEEKDAYS):
        if day in lowered:
            back = (today.weekday() - index) % 7 or 7
            return today - timedelta(days=back)
    if any(m in lowered for m in _MONTHS) or re.search(r"\bthe\s+(?:twenty|thirty|[a-z]+(?:st|nd|rd|th))\b", lowered):
        text = _ordinal_digits(text)  # "March fourth", "on the first"; not "wait a second"
    if not re.search(r"\d", text) and not any(m in lowered for m in _MONTHS):
        return None
    try:
        parsed = date_parser.parse(text, fuzzy=True, default=date_parser.parse(today.isoformat()))
    except (ValueError, OverflowError):
        return None
    return parsed.date()


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def choice(text: str, choices: list[str], *, loose: bool) -> str | None:
    """The choice a line names (misspellings forgiven); loose also takes the closest whole-line match."""
    lowered = text.lower()
    for option in choices:
        if re.search(rf"\b{re.escape(option.lower())}\b", lowered):
            return option
    scorer = fuzz.WRatio if loose else fuzz.partial_ratio
    best = process.extractOne(lowered, [c.lower() for c in choices], scorer=scorer, score_cutoff=85 if not loose else 75)
    return choices[best[2]] if best else None


_NAME_LEADS = re.compile(
    r"\b(?:my name is|my name's|name is|this is|i am|i'm|im|it's|its|call me|speaking is)\s+(.+)",
    re.IGNORECASE,
)
_NAME_TAIL = re.compile(r"^(.+?)\s+(?:here|speaking|calling)\b", re.IGNORECASE)


def _name_tokens(fragment: str, *, strict: bool = True) -> str | None:
    kept: list[str] = []
    for raw in re.split(r"\s+", fragment.strip()):
        token = raw.strip(".,!?;:\"")
        if not token or not re.fullmatch(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'\-]*", token):
            break
        if token.lower() in _NOT_NAMES:
            break
        if strict and token.islower() and len(token) > 4 and token.endswith(_NOT_NAME_ENDINGS):
            break
        kept.append(token[0].upper() + token[1:])
        if len(kept) == 3:
            break
    return " ".join(kept) or None


def person_name(text: str, *, loose: bool) -> str | None:
    """A caller's name from 'this is Jane Doe from Acme' or, when asked, from a bare 'Jane Doe'."""
    for lead in _NAME_LEADS.finditer(text):
        found = _name_tokens(lead.group(1))
        if found:
            return found
    tail = _NAME_TAIL.match(text.strip())
    if tail:
        found = _name_tokens(tail.group(1))
        if found and len(found.split()) <= 3:
            return found
    if loose:
        stripped = re.sub(r"^(?:(?:uh|um|er|so|well|sure|yes|yeah|ok|okay|hi|hello),?\s+)+", "", text.strip(), flags=re.I)
        found = _name_tokens(stripped, strict=False)  # asked for a name: a bare "alfred" is one
        if found and len(stripped.split()) <= 4:
            return found
    return None


_GENERIC_SERVICE_WORDS = frozenset({"api", "service", "services", "the", "server", "app", "system", "platform", "portal", "our"})


def _significant(name: str) -> list[str]:
    tokens = [stem(t) for t in words(name)]
    kept = [t for t in tokens if t not in _GENERIC_SERVICE_WORDS]
    return kept or tokens


def _token_present(token: str, spoken: list[str]) -> bool:
    if len(token) <= 3:
        return token in spoken
    return any(fuzz.ratio(token, s) >= 85 for s in spoken)


def services(text: str, known: dict[str, list[str]]) -> list[str]:
    """Known services a line names: ``known`` maps each service to its aliases.

    A service matches when all its significant words appear (fuzzily), so
    'checkout is down' names 'Checkout API' and 'paymnts' names 'Payments'.
    """
    spoken = [stem(t) for t in words(text)]
    found: list[str] = []
    for service, aliases in known.items():
        for name in [service, *aliases]:
            if all(_token_present(t, spoken) for t in _significant(name)):
                found.append(service)
                break
    return found
