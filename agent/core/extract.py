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
from rapidfuzz.distance import OSA

_WORD = re.compile(r"[a-z0-9à-ÿß][a-z0-9à-ÿß'\-]*")  # German (and French, Spanish) letters are letters

YES = {
    "yes", "yeah", "yep", "yup", "correct", "right", "sure", "ok", "okay", "affirmative",
    "exactly", "please", "absolutely", "definitely", "indeed", "true", "fine", "ja", "oui", "si",
    "jawohl", "jap", "genau", "richtig", "stimmt", "korrekt", "passt", "gerne", "klar", "sicher", "bitte",
}
NO = {
    "no", "nope", "nah", "wrong", "incorrect", "negative", "false", "not", "don't", "dont", "nein", "non",
    "nee", "falsch", "nicht",
}
_YES_PHRASES = (
    "that's right", "that is right", "go ahead", "of course", "sounds good", "that's it", "yes please",
    "das stimmt", "das ist richtig", "ja bitte", "ja gerne", "na klar",
)
_NO_PHRASES = (
    "that's wrong", "that is wrong", "not right", "not correct", "no thanks", "no thank you",
    "das ist falsch", "stimmt nicht", "nicht richtig", "nein danke",
)
# An unsure answer is neither yes nor no, even though it contains "no" or "don't".
_UNSURE_PHRASES = (
    "don't know", "do not know", "dont know", "not sure", "no idea", "no clue", "dunno", "can't say", "cannot say",
    "can't tell", "cannot tell", "maybe", "perhaps",
    "weiß nicht", "weiss nicht", "weiß ich nicht", "weiss ich nicht", "keine ahnung", "nicht sicher", "vielleicht", "kann ich nicht sagen",
)

DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "nil": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
# German digits as callers say them one by one ("null eins sieben eins ..."); "zwo" is the clear "zwei".
GERMAN_DIGIT_WORDS = {
    "null": "0", "eins": "1", "zwei": "2", "zwo": "2", "drei": "3", "vier": "4", "fünf": "5", "fuenf": "5",
    "sechs": "6", "sieben": "7", "acht": "8", "neun": "9",
}
# English teens and tens, also read by the intent matcher for status codes said as numbers ("five twenty nine").
ENGLISH_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
ENGLISH_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_TENS = {
    **ENGLISH_TENS,
    "zwanzig": 20, "dreißig": 30, "dreissig": 30, "vierzig": 40, "fünfzig": 50, "fuenfzig": 50, "sechzig": 60,
    "siebzig": 70, "achtzig": 80, "neunzig": 90,
}
_TEENS = {
    **ENGLISH_TEENS,
    "zehn": 10, "elf": 11, "zwölf": 12, "zwoelf": 12,
    "dreizehn": 13, "vierzehn": 14, "fünfzehn": 15, "sechzehn": 16, "siebzehn": 17, "achtzehn": 18, "neunzehn": 19,
}
_GERMAN_UNIT = {"ein": 1, "eins": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "fuenf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9}
_GERMAN_TENS_UNIT = re.compile(r"^(" + "|".join(_GERMAN_UNIT) + r")und(" + "|".join(t for t in _TENS if t not in ENGLISH_TENS) + r")$")


def _number_word(token: str) -> str | None:
    """One spoken number word as digits: 'five', 'fünf', 'thirty', 'neunundvierzig'; None for other words."""
    if token in DIGIT_WORDS:
        return DIGIT_WORDS[token]
    if token in GERMAN_DIGIT_WORDS:
        return GERMAN_DIGIT_WORDS[token]
    if token in _TEENS:
        return str(_TEENS[token])
    if token in _TENS:
        return str(_TENS[token])
    compound = _GERMAN_TENS_UNIT.match(token)
    if compound:
        return str(_TENS[compound.group(2)] + _GERMAN_UNIT[compound.group(1)])
    return None


_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "hundert": 100, "tausend": 1000, "millionen": 1_000_000}

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
    """ja nein nee genau danke bitte warum wieso was wer wie hallo guten tag moment sorry pardon nothing else
    hang hold wait second repeat already told rather say hurry why firma von vom bei der die das den und oder
    na naja tja gut fine alright kaputt defekt
    ist sind ich wir sie es mein meine hier am apparat the name's kein keine keinen nichts none nothing""".split()
) | frozenset(
    """calling call urgent down broken here from at the company team customer customers problem issue
    outage help need want trying working work sorry speaking phoning ringing about regarding re having
    also still again just going seeing afraid sure fine good great bad not reporting report ringing
    system service server site website app api login checkout payment payments email database
    anyone someone somebody person human engineer agent operator on-call oncall
    im its ive id dont cant critical important serious emergency stuck slow new back weird odd strange
    super unable able offline online dead gone lost late early busy frozen happy sad angry mad upset
    glad ok alright all totally completely only bit little quite rather pretty real trouble worse
    monday tuesday wednesday thursday friday saturday sunday""".split()
) | frozenset(
    # departments, places and German function words: "hier ist die Buchhaltung", "im Büro", "unser Webshop"
    """department office accounting finance reception desk sales support team shop store headquarters
    extension ext everybody everyone nobody somebody everything anything
    buchhaltung abteilung technik zentrale verwaltung einkauf vertrieb empfang büro buero vertrag rechnung
    kunde kundin kunden firma unser unsere unseren unserem alles alle irgendwie irgendwo nur auch noch schon
    steht gerade leider jetzt heute gestern morgen hause zuhause webshop
    grüß gruess gott servus moin morning afternoon evening abend skip pass next weiter
    unter mit für auf aus in im an zu zur zum über nach vor wegen gleich gleichen selbe selben derselben erreichbar""".split()
)
# Number words are digits said one by one, not names: "it's ac five five one two zero".
_NOT_NAMES = _NOT_NAMES | frozenset(DIGIT_WORDS) | frozenset(GERMAN_DIGIT_WORDS) | frozenset(_TEENS) | frozenset(_TENS) | {"double", "triple", "doppel"}

# Forms of address before a surname: "Frau Berger" has no first name.
TITLES = frozenset("mr mrs ms miss mister dr doctor prof professor frau herr doktor".split())

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
    """Turn 'plus four nine one five one double two' into '+49 151 22'; leaves other words as they are.

    German works the same ('null eins sieben doppel zwei'), and so do tens
    ('plus forty nine', 'null dreißig'): 'forty nine' is 49, 'forty' alone 40.
    """
    out: list[str] = []
    tokens = [t.strip(".?!;:") for t in re.split(r"[\s,\-]+", text.lower())]
    repeat = 1
    index = 0
    while index < len(tokens):
        bare = tokens[index]
        index += 1
        if bare in ("double", "triple", "doppel", "doppelt", "dreifach"):
            repeat = 3 if bare in ("triple", "dreifach") else 2
            continue
        digits = _number_word(bare) if bare not in ("o", "ein") else DIGIT_WORDS.get(bare)
        if digits is not None and bare in _TENS and index < len(tokens) and tokens[index] in DIGIT_WORDS and tokens[index] not in ("oh", "o", "zero", "nil"):
            digits = str(int(digits) + int(DIGIT_WORDS[tokens[index]]))  # "forty nine"
            index += 1
        if digits is not None:
            out.append(digits * repeat)
        elif bare == "plus":
            out.append("+")
        else:
            out.append(" " + bare + " ")
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


_EMAIL = re.compile(r"[a-z0-9][a-z0-9._%+\-]*@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,24}\b")
_DOMAIN = re.compile(r"[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*\.[a-z]{2,24}")
_LOCAL = re.compile(r"[a-z0-9][a-z0-9._%+\-]*")
_AT_WORDS = ("at", "ät", "et", "@", "at-zeichen", "klammeraffe")


_SYMBOL_WORDS = {
    "dot": ".", "period": ".", "point": ".", "punkt": ".", "underscore": "_", "unterstrich": "_",
    "dash": "-", "hyphen": "-", "minus": "-", "bindestrich": "-",
}


def _spoken_tokens(text: str) -> list[tuple[str, int, int]]:
    """Lower-case word tokens with their spans in ``text``; runs of three or more single letters are one spelt word.

    'j o h n dot smith' -> [('john', ..), ('dot', ..), ('smith', ..)]: the letters are joined before the symbols.
    """
    raw = [(m.group(0).lower().replace("’", "'").strip(",;:!?"), m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    out: list[tuple[str, int, int]] = []
    run: list[tuple[str, int, int]] = []
    for token in [*[t for t in raw if t[0]], ("", 0, 0)]:
        if len(token[0]) == 1 and token[0].isalpha():
            run.append(token)
            continue
        if len(run) >= 3:
            out.append(("".join(t[0] for t in run), run[0][1], run[-1][2]))
        else:
            out.extend(run)
        run = []
        if token[0]:
            out.append(token)
    return out


def _joined(tokens: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Words joined by spoken symbols: 'tom', 'dot', 'baker' -> 'tom.baker' (with the span of all three)."""
    out: list[tuple[str, int, int]] = []
    glue = False
    for index, (word, start, end) in enumerate(tokens):
        symbol = _SYMBOL_WORDS.get(word)
        if symbol and out and index + 1 < len(tokens) and out[-1][0] not in _AT_WORDS:
            out[-1] = (out[-1][0] + symbol, out[-1][1], end)
            glue = True
            continue
        if glue and word not in _AT_WORDS:
            out[-1] = (out[-1][0] + word, out[-1][1], end)
        else:
            out.append((word, start, end))
        glue = False
    return out


def email_span(text: str) -> tuple[str, int, int] | None:
    """An e-mail address in a line, written or spoken, with where it was said: (address, start, end)."""
    written = _EMAIL.search(text.lower())
    if written:
        address = written.group(0).rstrip(".")
        return address, written.start(), written.start() + len(address)
    tokens = _joined(_spoken_tokens(text))
    for index in range(len(tokens) - 2, 0, -1):
        if tokens[index][0] not in _AT_WORDS:
            continue
        domain = _DOMAIN.fullmatch(tokens[index + 1][0].rstrip("."))
        end = tokens[index + 1][2]
        if not domain and index + 2 < len(tokens) and re.fullmatch(r"[a-z0-9]{2,}", tokens[index + 1][0]) and tokens[index + 1][0] not in STOPWORDS:
            # 'grace at liu consulting dot com': a recogniser parts a domain's words; read back, so the caller can correct it
            domain = _DOMAIN.fullmatch((tokens[index + 1][0] + tokens[index + 2][0]).rstrip("."))
            end = tokens[index + 2][2]
        local = _LOCAL.fullmatch(tokens[index - 1][0])
        if domain and local:
            name, start = local.group(0), tokens[index - 1][1]
            lead = tokens[index - 2] if index >= 2 else None
            if lead and len(lead[0]) == 1 and lead[0] not in ("a", "i") and lead[0].isalpha():
                name, start = lead[0] + name, lead[1]  # 'j doe at ...': an initial said before the name
            return f"{name}@{domain.group(0)}", start, end
    return None


def email(text: str) -> str | None:
    """An e-mail address, written or spoken, lower-cased.

    Spoken in English or German: 'jane dot doe at acme dot com',
    'klaus punkt becker ät gmx punkt de', 's minus mueller at firma punkt de';
    letters spelt one by one ('a n n a at ...', 'j o h n dot s m i t h at ...') are joined.
    Of several 'at's, the one before a domain counts ('call me at tom dot baker at initech dot com').
    """
    found = email_span(text)
    return found[0] if found else None


def without_email(text: str) -> str:
    """The line with its e-mail address taken out, so its words are not read as a name or a service."""
    found = email_span(text)
    return text if found is None else text[: found[1]] + " , " + text[found[2]:]


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
        elif token not in ("ein", "o", "oh") and (said := _number_word(token)) is not None:  # "forty", "zweiundvierzig"
            current += int(said)
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


_GERMAN_WEEKDAYS = ["montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag"]
_GERMAN_MONTHS = {
    "januar": "january", "jänner": "january", "februar": "february", "märz": "march", "maerz": "march", "mai": "may",
    "juni": "june", "juli": "july", "oktober": "october", "dezember": "december",
}
_GERMAN_ORDINALS = {
    "ersten": 1, "erster": 1, "zweiten": 2, "zweiter": 2, "dritten": 3, "dritter": 3, "vierten": 4, "vierter": 4,
    "fünften": 5, "fünfter": 5, "sechsten": 6, "sechster": 6, "siebten": 7, "siebter": 7, "achten": 8, "achter": 8,
    "neunten": 9, "neunter": 9, "zehnten": 10, "zehnter": 10, "elften": 11, "zwölften": 12, "dreizehnten": 13,
    "vierzehnten": 14, "fünfzehnten": 15, "sechzehnten": 16, "siebzehnten": 17, "achtzehnten": 18, "neunzehnten": 19,
    "zwanzigsten": 20, "zwanzigster": 20, "dreißigsten": 30, "dreißigster": 30,
}
_GERMAN_ORDINAL = re.compile(
    r"\b(?:(ein|zwei|drei|vier|fünf|sechs|sieben|acht|neun)und)?(" + "|".join(sorted(_GERMAN_ORDINALS, key=len, reverse=True)) + r")\b"
)


def _german_date_words(lowered: str) -> str:
    """'am vierten März' -> 'am 4 march', '21. Juni' -> '21. june': German months and ordinals for the parser."""
    def ordinal(match: re.Match[str]) -> str:
        return str(_GERMAN_UNIT.get(match.group(1) or "", 0) + _GERMAN_ORDINALS[match.group(2)])
    lowered = _GERMAN_ORDINAL.sub(ordinal, lowered)
    for german, english in _GERMAN_MONTHS.items():
        lowered = re.sub(rf"\b{german}\b", english, lowered)
    return lowered


def spoken_date(text: str, today: date | None = None) -> date | None:
    """A date from 'today', 'yesterday', 'last monday', '2026-03-04' or 'March 4th'; in German too
    ('gestern', 'vorgestern', 'letzten Montag', 'am vierten März', '4. März')."""
    today = today or date.today()
    lowered = text.lower()
    if "vorgestern" in lowered:
        return today - timedelta(days=2)
    if "gestern" in lowered:
        return today - timedelta(days=1)
    if re.search(r"\b(?:heute|heut)\b", lowered):
        return today  # "heute Morgen" is this morning, not tomorrow
    if "übermorgen" in lowered:
        return today + timedelta(days=2)
    if re.search(r"\bmorgen\b", lowered) and not re.search(r"\b(?:guten|am|jeden)\s+morgen\b", lowered):
        return today + timedelta(days=1)
    for index, day in enumerate(_GERMAN_WEEKDAYS):
        if day in lowered:
            back = (today.weekday() - index) % 7 or 7
            return today - timedelta(days=back)
    german = _german_date_words(lowered)
    if german != lowered:
        text = lowered = german
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
    r"\b(?:my name is|my name's|name is|name's|the name is|this is|it is|i am|i'm|im|it's|its|call me|speaking is|"
    r"ich heiße|ich heisse|mein name ist|mein name|hier ist|hier spricht|ich bin|am apparat ist)\s+(.+)",
    re.IGNORECASE,
)
_GREETINGS = frozenset({"hi", "hey", "hello", "yes", "yeah", "so", "well", "ok", "okay", "hallo"})
_NAME_TAIL = re.compile(r"^(.+?)\s+(?:here|speaking|calling|hier|am apparat)\b", re.IGNORECASE)
# Greetings a recogniser writes before a self-introduction with no comma: "ja guten tag hoffmann hier".
_GREETING_LEAD = re.compile(
    r"^(?:(?:yes|yeah|hi|hello|hey|good (?:morning|afternoon|evening)|ja|hallo|guten (?:tag|morgen|abend)|"
    r"grüß gott|gruess gott|servus|moin|tag|also|so|ähm|äh|um|uh)[,.!]?\s+)+",
    re.IGNORECASE,
)
_FILLERS = re.compile(r"\b(?:uh+|um+|er+m?|hm+|äh+m?|öh+m?|ehm)\b[,.]?\s*", re.IGNORECASE)

# Closers: the caller has nothing more ("that's all", "das war's"). Alternatives of a regex, shared with the
# deterministic engine's "done" check so both know the same closers.
CLOSERS = (
    r"that'?s (?:all|it|everything)|nothing else|no,? thanks?|no thank you|i'?m good|all good|"
    r"that was (?:all|it)|nothing more|i'?m all set|mehr wollte? ich (?:auch |gar )?nich[t]?|sonst nix|"
    r"das war'?s|das ist alles|nichts weiter"
)

# Not knowing or not having it to hand ("no idea", "hab ich gerade nicht"): alternatives of a regex, shared with
# the deterministic engine's check that a caller declines an optional field.
DONT_KNOW = (
    r"rather not|don'?t (?:have|know)|not sure|no idea|keine ahnung|weiß ich nicht|weiss ich nicht|"
    r"hab(?:e)? ich (?:gerade )?(?:nicht|keine)|nicht zur hand"
)

# Lines that give no value whatever was asked: closers, waiting, asking back, refusing (English and German).
_NO_VALUE = re.compile(
    rf"\b(?:{CLOSERS}|"
    r"(?:hang|hold) on|(?:one|a|just a) (?:second|moment|sec)|wait a|pardon|(?:can|could) you repeat|repeat that|"
    r"say that again|come again|sorry,? what|what was that|excuse me|was haben sie gesagt|"
    rf"already (?:told|said|gave)|why do you need|{DONT_KNOW}|same as before|hurry up|"
    r"nein danke|moment|augenblick|wie bitte|noch ?mal|wiederholen|"
    r"warum brauchen|wieso brauchen|möchte ich nicht|will ich nicht|weiß nicht|"
    # refusals and "it works again"
    r"(?:schon|bereits) gesagt|prefer not|(?:don'?t|do not) want to (?:say|give|tell|share)|not (?:going|gonna) to (?:say|give|tell)|"
    r"none of your business|(?:everything'?s|everything is|it'?s|all) (?:fine|working|ok|okay|good) (?:now|again)|works again|"
    r"(?:nichts|nicht) (?:dazu |mehr )?sagen|keine angabe|nicht angeben|geht sie nichts an|nicht raus|"
    r"(?:geht|funktioniert|läuft) (?:jetzt |alles )*wieder)\b",
    re.IGNORECASE,
)

# Where a caller takes back what they just said: "john smith, no wait, john smyth"; "die Kasse, nein, die Anmeldung".
_CORRECTS = re.compile(
    r"(?:,\s*|\s)(?:no,? wait|wait,? no|no,? sorry|sorry,? no|no,? i mean|i mean|i meant|or rather|scratch that|"
    r"correction|actually,? no|nein,? warte|warte,? nein|nein,? ich meine|ich meine|ich meinte|nein,? entschuldigung|"
    r"entschuldigung,? nein|nein,? moment|moment,? nein|oder besser|korrektur)\b[,.:]?\s*"
    r"|,\s*(?:no|nein)\s*,\s*",
    re.IGNORECASE,
)


# What opens the corrected part after the first marker: "no sorry, I mean the sign in".
_CORRECTION_LEAD = re.compile(r"^(?:i mean|i meant|ich meine|ich meinte)\b[,.:]?\s*", re.IGNORECASE)


def after_correction(text: str) -> str:
    """What a line says after the caller's last correction of themselves, or the whole line.

    "it's oh one seven one ... eight, no sorry, oh one seven one ... nine" -> the second number.
    A "no" that starts the line ("no, that's all") corrects nothing.
    """
    for match in _CORRECTS.finditer(text):
        if words(text[: match.start()]) and words(text[match.end():]):
            rest = after_correction(" " + text[match.end():].strip()).strip()  # "no wait, I mean ...": the last one counts
            return _CORRECTION_LEAD.sub("", rest) or rest
    return text
# "no, not dot de, dot at", "nein, nicht gmx, sondern web": the part of a read-back that was wrong, and what replaces it.
_NOT_X_BUT_Y = re.compile(
    r"\b(?:not|nicht)\s+(?P<old>[^,;]+?)\s*(?:,\s*|\s+(?=but\b|sondern\b|it'?s\b|es ist\b))"
    r"(?:but|sondern|it'?s|es ist)?\s*(?P<new>[^,;]+?)\s*[.!]?$",
    re.IGNORECASE,
)


def _spoken_part(text: str) -> str:
    """A piece of a value as said: 'punkt de' -> '.de', 'null acht' -> '08', 'rossi dash it' -> 'rossi-it'."""
    out = ""
    for token in words(text):
        symbol = _SYMBOL_WORDS.get(token)
        digit = None if symbol else _number_word(token) if token not in ("ein", "o") else None
        out += symbol or digit or token
    return out


def replaced_part(text: str, value: str) -> str | None:
    """``value`` with the part a caller said was wrong replaced ("nicht punkt de, punkt at"), or None.

    Only when the wrong part is found exactly once in the value, so a guess is never kept.
    """
    found = _NOT_X_BUT_Y.search(text)
    if not found:
        return None
    old, new = _spoken_part(found.group("old")), _spoken_part(found.group("new"))
    if len(old) < 2 or not new or value.lower().count(old.lower()) != 1:
        return None
    at = value.lower().index(old.lower())
    return value[:at] + new + value[at + len(old):]


_ASKS_BACK = re.compile(r"^(?:why|what|who|how|warum|wieso|was|wer|wie)\b|\?\s*$", re.IGNORECASE)


# A caller asking why a detail is wanted, rather than giving it.
_WHY = re.compile(
    r"\b(?:why (?:do|would|should) you (?:need|want)|why (?:do you |are you )?ask(?:ing)?|what (?:do you need|is|'?s) (?:it|that|this) for|"
    r"what for|why is that (?:needed|necessary)|wozu brauchen|warum brauchen|wieso brauchen|wofür brauchen|"
    r"wozu (?:ist|soll) das|wofür ist das|warum wollen sie das|wozu das|warum fragen sie)\b",
    re.IGNORECASE,
)


def asks_why(text: str) -> bool:
    """Whether a short line asks why a detail is needed ("why do you need that?", "wozu brauchen Sie das?")."""
    return len(words(text)) <= 10 and _WHY.search(text) is not None


def gives_no_value(text: str) -> bool:
    """Whether a short line answers with no value at all: a closer, a bare yes or no, a wait, a question back, a refusal.

    Free-text fields (a name, a description, services) must not keep such a
    line as their value: "no, that's all" is not a name.
    """
    tokens = words(text)
    if not tokens:
        return True
    if len(tokens) <= 3 and yes_no(text) is not None:
        return True
    if len(tokens) <= 8 and (_NO_VALUE.search(text) or _ASKS_BACK.search(text.strip())):
        return not (len(tokens) > 3 and mentions_problem(_NO_VALUE.sub(" ", text)))  # "I already said, payments are failing"
    return False


def _name_tokens(fragment: str, *, strict: bool = True) -> str | None:
    kept: list[str] = []
    fragment = re.sub(r"^(?:der|die)\s+(?=[A-ZÀ-Ýa-zß])", "", fragment.strip(), flags=re.IGNORECASE)  # German: "ich bin die Anna"
    for raw in re.split(r"\s+", fragment):
        token = raw.strip(".,!?;:\"")
        if kept and (re.search(r"\d", token) or _number_word(token.lower()) is not None):
            return None  # "it's ac five five one two zero": letters of a code, not a name
        if not token or not re.fullmatch(r"[A-Za-zÀ-ÖØ-öø-ž][A-Za-zÀ-ÖØ-öø-ž'\-]*", token):
            break
        if token.lower() in _NOT_NAMES:
            break
        if strict and token.islower() and len(token) > 4 and token.endswith(_NOT_NAME_ENDINGS):
            break
        kept.append(token[0].upper() + token[1:])
        if len(kept) == 3 or raw.rstrip("\"").endswith((",", ";", ".", "!", "?")):
            break  # "this is Frank, extension 4471": the comma ends the name
    return " ".join(kept) or None


def bare_name(text: str) -> str | None:
    """The name when a whole line is just a name ('Jane Doe', 'Weber, Thomas Weber'); else None."""
    text = _FILLERS.sub("", text).strip(" .,!")
    text = re.sub(r"\s+(?:from|von|vom|bei|with)\s+[\w&.\- ]{1,40}$", "", text, flags=re.IGNORECASE)  # "Mark Evans from Globex"
    if not text or gives_no_value(text) or re.search(r"\d|@", text) or mentions_problem(text) or number(text) is not None:
        return None  # "thirteen" is a number, not a name
    names = []
    for part in (p.strip() for p in re.split(r"[,.]\s", text + " ") if p.strip()):
        found = _name_tokens(part, strict=False)
        if not found or len(found.split()) != len(part.split()) or len(part.split()) > 3:
            return None  # every part must be a name: "Weber, Thomas Weber"
        names.append(found)
    return max(names, key=lambda n: len(n.split()) - (n.split()[0].lower().rstrip(".") in TITLES)) if names else None  # "Frau Berger, Anna Berger"


def first_name(name: str) -> str:
    """How a caller is thanked by name: the first name, or the whole name after a title ("Frau Berger")."""
    parts = name.split()
    return name if len(parts) > 1 and parts[0].lower().rstrip(".") in TITLES else parts[0]


def person_name(text: str, *, loose: bool) -> str | None:
    """A caller's name from 'this is Jane Doe from Acme' or, when asked, from a bare 'Jane Doe'.

    When asked, a first clause that is only a name counts ('Oliver, and my
    e-mail is ...'); a closer, a yes or no or a question back never does.
    """
    text = _FILLERS.sub("", text)
    if loose and gives_no_value(text):
        return None
    for lead in _NAME_LEADS.finditer(text):
        if lead.group(0).lower().startswith("im ") and words(text[: lead.start()]) and words(text[: lead.start()])[-1] not in _GREETINGS:
            continue  # "im" (I'm without its apostrophe) opens a line; "steht im Vertrag", "bin ich im Büro" are German
        found = bare_name(lead.group(1)) if "," in lead.group(1) else None  # "name's Bond, James Bond"
        found = found or _name_tokens(lead.group(1))
        spoken = words(lead.group(1))
        last = found.split()[-1].lower() if found else ""
        after = spoken[spoken.index(last) + 1:][:1] if last in spoken else []
        if found and not (after and mentions_problem(after[0])):  # "hier ist die Anmeldung kaputt": a thing that is broken
            return found
    for clause in re.split(r"[,.;]\s", text.strip()):  # "Grüß Gott, Huber hier"; "Sam Lee here, our API fails"
        tail = _NAME_TAIL.match(_GREETING_LEAD.sub("", clause))  # "ja guten tag hoffmann hier": unpunctuated speech
        found = _name_tokens(tail.group(1)) if tail else None
        if found and len(found.split()) <= 3:
            return found
    if loose:
        stripped = re.sub(r"^(?:(?:uh|um|er|so|well|sure|yes|yeah|ok|okay|hi|hello|ja|also|gut|na|naja|tja|fine|alright|right|dann),?\s+)+", "", text.strip(), flags=re.I)
        first = re.split(r",|\s+(?:and|und)\s+", stripped)[0]
        for candidate in (stripped, first):
            found = bare_name(candidate)  # asked for a name: a bare "alfred" is one
            if found:
                return found
    return None


_GENERIC_SERVICE_WORDS = frozenset({"api", "service", "services", "the", "server", "app", "system", "platform", "portal", "our"})


def _significant(name: str) -> list[str]:
    tokens = [stem(t) for t in words(name)]
    kept = [t for t in tokens if t not in _GENERIC_SERVICE_WORDS]
    return kept or tokens


def _token_at(token: str, spoken: list[str]) -> int | None:
    """Where a service's word is among the spoken ones (misspelt, or German noun for verb), or None."""
    for index, said in enumerate(spoken):
        if token == said if len(token) <= 3 else (
            fuzz.ratio(token, said) >= 85 or (len(token) >= 7 and _noun_verb_stem(token) == _noun_verb_stem(said))
        ):
            return index
    return None


def _noun_verb_stem(word: str) -> str:
    """German noun and verb of one stem meet: 'anmeldung' and 'anmelden' -> 'anmeld'."""
    for suffix in ("ung", "en"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 5:
            return word[: -len(suffix)]
    return word


_ARTICLES = frozenset("a an the this that some something it ein eine einen einem".split())
_NOT_OURS = frozenset("phishing spam scam fake fraudulent forged spoofed gefälschte gefälschten betrügerische".split())


_CLAUSE = re.compile(r"[,;.]|\b(?:but|though|however|aber|jedoch|sondern|doch)\b", re.IGNORECASE)
_NOT_THIS = re.compile(r"^\s*(?:and |und )?(?:not|nicht|except|außer|ausser|apart from)\b", re.IGNORECASE)
_WORKS = re.compile(
    r"\b(?:works?|working|fine|ok|okay|geht|gehen|läuft|laufen|funktioniert|funktionieren|in ordnung)\b", re.IGNORECASE
)


def _unaffected_removed(text: str) -> str:
    """The line without clauses that name a service as not affected: "not the payments", "die Kasse läuft"."""
    clauses = _CLAUSE.split(text)
    kept = [c for c in clauses if not ((_NOT_THIS.search(c) or _WORKS.search(c)) and not mentions_problem(c))]
    return text if len(kept) == len(clauses) else " , ".join(kept)


def services(text: str, known: dict[str, list[str]]) -> list[str]:
    """Known services a line names: ``known`` maps each service to its aliases.

    A service matches when all its significant words appear (fuzzily), so
    'checkout is down' names 'Checkout API' and 'paymnts' names 'Payments'.
    One said not to be affected is left out: 'the checkout, not the payments', 'die Kasse läuft, aber ...'.
    """
    kept = _unaffected_removed(text)
    tokens = words(kept)
    # A word followed by an article is a verb, not a service: "report an incident" names no "Reporting";
    # not across a comma ("the sign in, it keeps failing"). A word after "phishing", "spam" or "fake" is a
    # thing sent to the caller, not our service: "a phishing email".
    named = [
        t
        for c in (words(clause) for clause in re.split(r"[,;.!?]", kept))
        for t, before, after in zip(c, ["", *c[:-1]], [*c[1:], ""])
        if after not in _ARTICLES and before not in _NOT_OURS
    ]
    # "log in" is "login", "check out" is "checkout"
    spoken = [stem(t) for t in named] + [a + b for a, b in zip(tokens, tokens[1:]) if len(b) <= 3 and b not in _ARTICLES]
    matches: list[tuple[str, set[int]]] = []  # a service and the spoken words its best name took
    for service, aliases in known.items():
        best: set[int] | None = None
        for name in [service, *aliases]:
            hits = [_token_at(t, spoken) for t in _significant(name)]
            if all(h is not None for h in hits) and (best is None or len(set(hits)) > len(best)):
                best = {h for h in hits if h is not None}
        if best is not None:
            matches.append((service, best))
    # The longer name wins the words it shares: "the payment page" is the Checkout API's alias, not also "Payments".
    found: set[str] = set()
    used: set[int] = set()
    for service, hits in sorted(matches, key=lambda m: -len(m[1])):
        if not hits <= used:
            found.add(service)
            used |= hits
    return [service for service, _ in matches if service in found]


# Digits grouped as a phone number is said or written: "0171 555 1234", "+49 (30) 123-456".
PHONE_DIGITS = re.compile(r"\+?\d[\d\s\-/()]{5,}\d")

# Words that say something is wrong, English and German; misspelt ones count too ("faling", "erors").
_PROBLEM_STEMS = (
    "down", "broken", "break", "error", "fail", "failing", "failure", "crash", "crashing", "hacked", "breach", "leak",
    "leaked", "stuck", "timeout", "timing", "unavailable", "offline", "problem", "issue", "wrong", "missing", "lost",
    "compromised", "suspicious", "unreachable", "slow", "outage", "empty", "duplicate", "twice", "declined", "spins",
    "kaputt", "fehler", "fehlermeldung", "ausgefallen", "ausfall", "störung", "hängt", "langsam", "abgestürzt",
    "fehlgeschlagen", "gehackt", "unerreichbar", "falsch", "doppelt", "fehlen", "fehlt", "verbucht", "leer", "blank",
    "reject", "abgelehnt",
)
_PROBLEM_PHRASES = re.compile(
    r"\b(?:not working|doesn'?t work|isn'?t working|can'?t|cannot|won'?t|not loading|not responding|went wrong|"
    r"stopped|no longer|nothing works|funktioniert nicht|geht nicht|nicht mehr|kommen nicht|klappt nicht|5\d\d|keine \w+ mehr|"
    r"nicht (?:mehr )?erreichbar|(?:funktioniert|funktionieren|geht|gehen|klappt|läuft|laufen) (?:\w+ ){0,5}nicht|"
    r"(?:werden|wird|sind|ist|kommt|kommen|lässt sich|lassen sich) (?:\w+ ){0,5}nicht(?: mehr)? \w+)\b",
    re.IGNORECASE,
)


def mentions_problem(text: str) -> bool:
    """Whether a line says something is wrong, even misspelt ('our paymnts keep faling').

    A phone number's digits are no error code: the 555 of '0171 555 1234' is not a 5xx.
    """
    text = PHONE_DIGITS.sub(" ", text)
    if _PROBLEM_PHRASES.search(text):
        return True
    for token in words(text):
        for known in _PROBLEM_STEMS:
            if token.startswith(known) or (len(token) >= 5 and OSA.distance(token[: len(known) + 1], known) <= 1 and token[0] == known[0]):
                return True
    return False


_CLOCK = re.compile(r"\b([01]?\d|2[0-3])[:.h]([0-5]\d)\b")
_HOUR_WORDS = {**{w: int(d) for w, d in DIGIT_WORDS.items() if w not in ("oh", "o", "nil", "zero")},
               **{w: int(d) for w, d in GERMAN_DIGIT_WORDS.items() if w != "null"}, "ein": 1,
               "ten": 10, "eleven": 11, "twelve": 12, "zehn": 10, "elf": 11, "zwölf": 12, "zwoelf": 12,
               "dreizehn": 13, "vierzehn": 14, "fünfzehn": 15, "sechzehn": 16, "siebzehn": 17, "achtzehn": 18,
               "neunzehn": 19, "zwanzig": 20, "einundzwanzig": 21, "zweiundzwanzig": 22, "dreiundzwanzig": 23,
               "noon": 12, "midnight": 0, "mittag": 12, "mitternacht": 0}


def _hour(token: str) -> int | None:
    if token.isdigit() and int(token) <= 24:
        return int(token) % 24
    return _HOUR_WORDS.get(token)


def spoken_time(text: str) -> str | None:
    """A time of day as 'HH:MM' from '10:30', 'half past two', 'quarter to four', 'two thirty pm',
    'um vierzehn Uhr dreißig', 'halb drei' (2:30), 'viertel nach drei', 'viertel vor vier'; None if there is none."""
    lowered = text.lower().replace("’", "'")
    pm = re.search(r"\b(?:p\.?m\.?|in the (?:afternoon|evening)|at night|abends|nachmittags)\b", lowered) is not None
    am = re.search(r"\b(?:a\.?m\.?|in the morning|morgens|früh|vormittags)\b", lowered) is not None

    def result(hour: int, minute: int) -> str:
        if pm and hour < 12:
            hour += 12
        if am and hour == 12:
            hour = 0
        return f"{hour % 24:02d}:{minute:02d}"

    clock = _CLOCK.search(lowered)
    if clock:
        return result(int(clock.group(1)), int(clock.group(2)))
    tokens = words(lowered)
    for index, token in enumerate(tokens):
        after = tokens[index + 1] if index + 1 < len(tokens) else ""
        hour_after = _hour(after) if after else None
        if token in ("half", "halb") and hour_after is None and index + 2 < len(tokens) and after == "past":
            hour = _hour(tokens[index + 2])
            if hour is not None:
                return result(hour, 30)  # "half past two"
        if token == "halb" and hour_after is not None:
            return result((hour_after - 1) % 24, 30)  # "halb drei" is 2:30
        if token in ("quarter", "viertel") and after in ("past", "after", "nach") and index + 2 < len(tokens):
            hour = _hour(tokens[index + 2])
            if hour is not None:
                return result(hour, 15)
        if token in ("quarter", "viertel") and after in ("to", "before", "vor") and index + 2 < len(tokens):
            hour = _hour(tokens[index + 2])
            if hour is not None:
                return result((hour - 1) % 24, 45)
        hour = _hour(token)
        if hour is None:
            continue
        if after in ("uhr", "o'clock", "oclock"):
            minute_word = tokens[index + 2] if index + 2 < len(tokens) else ""
            minutes = number(minute_word) if minute_word else None
            german_minutes = int(_number_word(minute_word) or 0) if minute_word and minute_word not in ("am", "pm") else 0
            minute = int(minutes) if isinstance(minutes, int) and minutes < 60 else german_minutes if german_minutes < 60 else 0
            return result(hour, minute)
        if after in ("am", "pm", "a.m.", "p.m.") or (index > 0 and tokens[index - 1] in ("at", "um") and token not in ("one",)):
            minute_word = after if after not in ("am", "pm") else ""
            minute = number(minute_word) if minute_word and _number_word(minute_word) else 0
            if minute_word and index + 2 < len(tokens) and tokens[index + 2] in DIGIT_WORDS:
                minute = (minute or 0) + int(DIGIT_WORDS[tokens[index + 2]])  # "two forty five"
            return result(hour, int(minute) if isinstance(minute, int) and minute < 60 else 0)
    return None
